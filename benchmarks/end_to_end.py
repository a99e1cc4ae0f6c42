"""End to end: the whole ``nnjax run mnist-mlp --preset paper --seeds 15 --epochs 5`` process
against a sequential PyTorch loop doing the same work, side by side in one run.

``python -m benchmarks.end_to_end [--repeats N] [--out FILE.md]``

* nnjax: the command in a fresh process (start-up, data, gradient check, 15 runs × 5
  epochs with per-run order and per-epoch validation, test evaluation, figures, report
  files) into a temporary folder. Run once as a warm-up first when ``--warm`` is given:
  then, as for a user's second run of the same command, the persistent compilation cache
  holds every program (:mod:`nnjax.train.compile_cache`) and the gradient check that
  passed on this model and data is read back (:mod:`nnjax.train.check`; the command
  still prints and records it, marked as read from the cache).
* PyTorch: a fresh process per thread count (1 and 2, the faster counts) that loads the
  same split through ``nnjax.data``, then for each of 15 seeds: ``nn.Sequential``
  784-64-32-10 ReLU, Adam 1e-3, 5 epochs of batch-128 ``randperm`` batches (last partial
  batch kept, as nnjax's paper preset), validation after every epoch, test at the end.

Both read MNIST from the local cache (``nnjax data fetch`` first). Goal: ≥ 3×. The
timings of a loaded machine are noisy: compare the ratio, measured in one run
(nnjax and PyTorch interleaved, medians over ``--repeats``).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from benchmarks.common import report_row, timed

GOAL = 3.0
SEEDS, EPOCHS = 15, 5
NNJAX_CMD = ["run", "mnist-mlp", "--preset", "paper", "--seeds", str(SEEDS), "--epochs",
             str(EPOCHS), "--no-progress"]

TORCH_LOOP = r"""
import sys, time
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from nnjax import data
torch.set_num_threads(int(sys.argv[1]))
ds = data.load("mnist", flatten=True)
x, y = torch.tensor(np.asarray(ds.train.x)), torch.tensor(np.asarray(ds.train.y), dtype=torch.long)
xv, yv = torch.tensor(np.asarray(ds.val.x)), torch.tensor(np.asarray(ds.val.y), dtype=torch.long)
xt, yt = torch.tensor(np.asarray(ds.test.x)), torch.tensor(np.asarray(ds.test.y), dtype=torch.long)
accs = []
for seed in range(%(seeds)d):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                          nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(%(epochs)d):
        model.train()
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_acc = (model(xv).argmax(1) == yv).float().mean().item()
    with torch.no_grad():
        accs.append((model(xt).argmax(1) == yt).float().mean().item())
print("mean test accuracy", float(np.mean(accs)))
"""


def _timed(cmd, env=None) -> float:
    return timed(lambda: subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL))[0]


def nnjax_seconds(out_dir: str) -> float:
    return _timed([sys.executable, "-m", "nnjax.cli", *NNJAX_CMD, "--out", out_dir])


def torch_seconds(threads: int) -> float:
    code = TORCH_LOOP % {"seeds": SEEDS, "epochs": EPOCHS}
    return _timed([sys.executable, "-c", code, str(threads)])


def measure(repeats: int = 1, warm: bool = False) -> dict:
    res = {"nnjax": [], "torch_1": [], "torch_2": []}
    with tempfile.TemporaryDirectory() as tmp:
        if warm:
            nnjax_seconds(tmp)
        for _ in range(repeats):                       # interleaved
            res["nnjax"].append(nnjax_seconds(tmp))
            res["torch_1"].append(torch_seconds(1))
            res["torch_2"].append(torch_seconds(2))
    med = {k: float(np.median(v)) for k, v in res.items()}
    torch_best = min(med["torch_1"], med["torch_2"])
    return {"seconds": res, "median": med, "torch_best": torch_best,
            "speedup": torch_best / med["nnjax"], "warm": warm, "load": os.getloadavg()}


def row(m: dict) -> str:
    med = m["median"]
    ok = "met" if m["speedup"] >= GOAL else "missed"
    return (f"| `nnjax {' '.join(NNJAX_CMD[:-1])}` (whole process"
            f"{', compilation and gradient-check caches warm' if m['warm'] else ''}) |"
            f" {med['nnjax']:.1f} s |"
            f" PyTorch sequential loop, faster of 1/2 threads: {m['torch_best']:.1f} s"
            f" (1: {med['torch_1']:.1f} s, 2: {med['torch_2']:.1f} s) | {m['speedup']:.2f}×"
            f" (goal ≥ {GOAL:g}×: {ok}) |")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.end_to_end", description=__doc__)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--warm", action="store_true",
                   help="run the nnjax command once before timing (compilation cache filled)")
    p.add_argument("--out", default=None, help="append the row to this markdown file")
    args = p.parse_args(argv)
    m = measure(args.repeats, args.warm)
    report_row("| command | nnjax | PyTorch | speed-up |\n|---|---|---|---|",
               row(m), m["load"][0], args.out)
    return m


if __name__ == "__main__":
    main()
