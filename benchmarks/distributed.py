"""One sweep across processes: the MNIST MLP sweep (16 runs) on 2 processes × 1 device
(``jax.distributed``, gloo collectives) against 1 process × 1 device and 1 process × 2
devices (``--xla_force_host_platform_device_count=2``), in seconds per seed-epoch.

``python -m benchmarks.distributed [--tiny] [--repeats K] [--out FILE.md]``

The sweep is the ``mnist-mlp`` study's: 784-64-32-10 ReLU, Adam 1e-3, batch 128, a batch
order per run, validation every epoch, 16 seeds in one program (``fit``). Every setting
runs in fresh processes (the device count is fixed when JAX starts), ``K`` rounds
interleaved; the time per seed-epoch is the median over the rounds of ``fit``'s steady
``seconds_per_epoch`` (first call, which compiles, excluded) divided by 16. ``--tiny``:
synthetic 784-pixel data (2048 images, 3 epochs), no download: the code path only.

What it can show: 2 processes × 1 device run the very program 1 process × 2 devices runs
(``shard_map`` over a 2-device mesh), plus the gathers of the host loop and the gloo
transfers; with 2 CPU cores either splits the same two cores, so the ratio to 1 × 1 is
the cost of the distribution, not a speed-up. On several machines each process brings its
own cores and devices.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

from benchmarks.common import report_row

RUNS = 16
SETTINGS = (("1 process × 1 device", 1, 1), ("1 process × 2 devices", 1, 2),
            ("2 processes × 1 device", 2, 1))

WORKER = r"""
import json, sys
pid, n, port, tiny, epochs = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                              sys.argv[4] == "1", int(sys.argv[5]))
import nnjax.distributed as dist
if n > 1:
    dist.initialize(f"localhost:{port}", n, pid)
import jax, numpy as np
from nnjax.models import mlp
from nnjax.train import TrainConfig, fit
if tiny:
    rng = np.random.default_rng(0)
    x = rng.random((2560, 784), np.float32)
    y = rng.integers(0, 10, 2560).astype(np.int32)
    train, val = (x[:2048], y[:2048]), (x[2048:], y[2048:])
else:
    from nnjax import data
    ds = data.load("mnist", flatten=True, fetch=False)
    train, val = ds.train, ds.val
cfg = TrainConfig(epochs=epochs, batch_size=128, optimizer="adam", learning_rate=1e-3,
                  shuffle="per_run")
res = fit(mlp([64, 32], 10, "relu"), cfg, train, val, runs=%d, verify=False,
          progress=False, compact=False)
if dist.is_writer():
    print("RESULT " + json.dumps({"devices": jax.device_count(),
          "processes": jax.process_count(), "seconds_per_epoch": res.info["seconds_per_epoch"],
          "first_call_seconds": res.info["first_call_seconds"]}), flush=True)
""" % RUNS


def _port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def run_setting(processes: int, devices: int, *, tiny: bool, epochs: int) -> dict:
    """One sweep in fresh processes; process 0's timing."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    flags = [f for f in env.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices}"])
    port = str(_port())
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(i), str(processes), port,
                               "1" if tiny else "0", str(epochs)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(processes)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs):
        if p.returncode != 0:
            raise RuntimeError(f"a worker failed:\n{err[-3000:]}")
    line = next(s for s in outs[0][0].splitlines() if s.startswith("RESULT "))
    got = json.loads(line[len("RESULT "):])
    assert got["devices"] == processes * devices and got["processes"] == processes, got
    return got


def measure(tiny: bool = False, repeats: int = 2, epochs: int = 0) -> dict:
    epochs = epochs or (3 if tiny else 4)
    per = {name: [] for name, _, _ in SETTINGS}
    first = {name: [] for name, _, _ in SETTINGS}
    t0 = time.perf_counter()
    for _ in range(repeats):                       # interleaved rounds
        for name, processes, devices in SETTINGS:
            got = run_setting(processes, devices, tiny=tiny, epochs=epochs)
            per[name].append(got["seconds_per_epoch"] / RUNS)
            first[name].append(got["first_call_seconds"])
    return {"seed_epoch": {k: statistics.median(v) for k, v in per.items()},
            "all": per, "first_call": {k: statistics.median(v) for k, v in first.items()},
            "epochs": epochs, "repeats": repeats, "tiny": tiny,
            "wall_seconds": time.perf_counter() - t0, "load": os.getloadavg()}


HEADER = ("| sweep | " + " | ".join(name for name, _, _ in SETTINGS) + " | ratios to 1 × 1 |\n"
          "|---|---|---|---|---|")


def row(m: dict) -> str:
    """The report row (markdown): ms per seed-epoch, medians of the rounds."""
    s = m["seed_epoch"]
    base = s[SETTINGS[0][0]]
    what = "synthetic 2048 images (--tiny)" if m["tiny"] else "MNIST 50 000 images"
    cells = " | ".join(f"{1e3 * s[name]:.1f} ms (first call {m['first_call'][name]:.1f} s)"
                       for name, _, _ in SETTINGS)
    ratios = ", ".join(f"{name}: {s[name] / base:.2f}" for name, _, _ in SETTINGS[1:])
    return (f"| {RUNS}-run MLP 784-64-32-10, {what}, per-run order, {m['epochs']} epochs,"
            f" median of {m['repeats']} | {cells} | {ratios} |")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="synthetic data, 3 epochs: the code path")
    p.add_argument("--repeats", type=int, default=2, help="interleaved rounds (default 2)")
    p.add_argument("--epochs", type=int, default=0, help="epochs per sweep (default 4; tiny 3)")
    p.add_argument("--out", default=None, help="append the row to this markdown file")
    args = p.parse_args(argv)
    m = measure(args.tiny, args.repeats, args.epochs)
    report_row(HEADER, row(m), m["load"][0], args.out)
    print(f"wall: {m['wall_seconds']:.0f} s")
    return m


if __name__ == "__main__":
    main()
