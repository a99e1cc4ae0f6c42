"""Run benchmark cases, each in its own subprocess (default) or in this process.

Memory: in a subprocess, ``peak_rss_mib`` is that process's peak RSS (VmHWM: everything
it ever held: interpreter, libraries, data, training) and ``delta_rss_mib`` its peak minus
the RSS measured after imports and data loading, just before the case ran. In-process runs
(``--no-isolate``, used by the tests) only report the RSS delta, which is a lower bound.

Rounds (``--rounds R``): the whole plan runs R times, one pass after another, each case
doing its share of the repeats per pass; a case's times from all passes are merged. On a
machine shared with other work this spreads every contender over the same stretch of
time, so a burst of outside load does not land on one contender only.

Devices: a case with ``devices`` > 0 (the nnjax 1-vs-2-devices cases) always runs in its
own subprocess, started with ``XLA_FLAGS=--xla_force_host_platform_device_count=<devices>``
(JAX fixes its device count at start-up), also under ``--no-isolate``; its notes say so.

``python -m benchmarks.runner CASE_JSON DATA_DIR MODE OUT_JSON`` is the worker entry.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

from benchmarks.common import (Case, Data, Settings, Workload, load_data, peak_rss_mib,
                               rss_mib, summarize)

# family name -> (module, packages it needs)
FAMILIES = {
    "nnjax": ("benchmarks.nnjax_mlp", ("jax", "optax")),
    "jax_plain": ("benchmarks.jax_plain", ("jax", "optax")),
    "torch_mlp": ("benchmarks.torch_mlp", ("torch",)),
    "torch_func": ("benchmarks.torch_func", ("torch",)),
    "flax_nnx": ("benchmarks.flax_nnx", ("flax", "jax", "optax")),
    "numpy": ("benchmarks.numpy_mlp", ()),
    "roofline": ("benchmarks.roofline", ("jax",)),
    "conv_nnjax": ("benchmarks.nnjax_conv", ("jax", "optax")),   # the conv-AE workload
    "conv_torch": ("benchmarks.torch_conv", ("torch",)),
}
CASE_TIMEOUT_S = 1800


def missing_packages(family: str) -> list:
    return [p for p in FAMILIES[family][1] if importlib.util.find_spec(p) is None]


def plan(settings: Settings, only=None) -> tuple[list, dict]:
    """The cases to run, and ``{family: reason}`` for the families skipped."""
    names = list(FAMILIES) if not only else list(only)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise SystemExit(f"unknown contender(s) {unknown}; choose from {list(FAMILIES)}")
    cases, skipped = [], {}
    for name in names:
        missing = missing_packages(name)
        if missing:
            skipped[name] = f"not installed: {', '.join(missing)}"
        elif name == "roofline":  # first and last: the roofline is the better of the two
            cases.insert(0, Case("roofline", "start", 1, settings.matmul_repeats))
            cases.append(Case("roofline", "end", 1, settings.matmul_repeats))
        else:
            cases.extend(importlib.import_module(FAMILIES[name][0]).cases(settings))
    return cases, skipped


def execute(case: Case, data: Data, settings: Settings) -> dict:
    """Run one case here and now; a JSON-ready record (``status`` ok or error)."""
    record = {"case": case.to_dict(), "label": case.label, "load_before": os.getloadavg()}
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(FAMILIES[case.contender][0])
        if "jax" in FAMILIES[case.contender][1]:
            import jax
            jax.devices()  # start the runtime before the baseline RSS
        record["rss_before_mib"] = rss_mib()
        if case.contender == "roofline":
            record.update(status="ok", roofline=module.run_roofline(
                settings.matmul_sizes, settings.matmul_repeats))
        else:
            workload = Workload(n_images=len(data.x))
            result = module.run(case, data, workload)
            record.update(status="ok", **result._asdict(), **summarize(result.seconds))
            flops = (module.flops_per_seed_epoch(data) if hasattr(module, "flops_per_seed_epoch")
                     else workload.flops_per_seed_epoch)      # the module's own workload
            record["gflops"] = flops / record["median_s"] / 1e9
            record["gflops_best"] = flops / record["min_s"] / 1e9
    except Exception as err:  # noqa: BLE001 - one broken contender must not stop the rest
        record.update(status="error", error=f"{type(err).__name__}: {err}",
                      traceback=traceback.format_exc()[-3000:])
    record["wall_s"] = time.perf_counter() - t0
    record["load_after"] = os.getloadavg()
    record["peak_rss_mib"] = peak_rss_mib()
    record["rss_after_mib"] = rss_mib()
    return record


def run_inprocess(case: Case, data: Data, settings: Settings) -> dict:
    record = execute(case, data, settings)
    record["delta_rss_mib"] = record["rss_after_mib"] - record.get("rss_before_mib", 0.0)
    record["peak_rss_mib"] = None  # the process's peak mixes every case run before
    record["memory_method"] = "RSS after minus RSS before, in the shared process (lower bound)"
    return record


DEVICE_FLAG = "--xla_force_host_platform_device_count"
FORCED_NOTE = "own subprocess despite --no-isolate (the device count is fixed at JAX start)"


def case_env(case: Case, base=None) -> dict:
    """The worker's environment: ``base`` (default ``os.environ``) with, for a case with
    ``devices`` > 0, ``XLA_FLAGS`` forcing that many host (CPU) devices."""
    env = dict(os.environ if base is None else base)
    if case.devices:
        flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(DEVICE_FLAG)]
        env["XLA_FLAGS"] = " ".join(flags + [f"{DEVICE_FLAG}={case.devices}"])
    return env


def run_subprocess(case: Case, data_dir: str, settings: Settings) -> dict:
    """Run ``case`` in a fresh interpreter; its record, or an error record."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "record.json")
        cmd = [sys.executable, "-m", "benchmarks.runner", json.dumps(case.to_dict()),
               data_dir, settings.mode, out]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=case_env(case),
                                  timeout=CASE_TIMEOUT_S, cwd=_repo_root())
            if os.path.exists(out):
                with open(out) as f:
                    return json.load(f)
            err = f"worker exited {proc.returncode}: {proc.stderr[-2000:]}"
        except subprocess.TimeoutExpired:
            err = f"worker timed out after {CASE_TIMEOUT_S} s"
    return {"case": case.to_dict(), "label": case.label, "status": "error", "error": err}


def save_data(data: Data, directory: str) -> None:
    np.save(os.path.join(directory, "x.npy"), data.x)
    np.save(os.path.join(directory, "y.npy"), data.y)
    with open(os.path.join(directory, "source.txt"), "w") as f:
        f.write(data.source)


def read_data(directory: str) -> Data:
    with open(os.path.join(directory, "source.txt")) as f:
        source = f.read()
    return Data(np.load(os.path.join(directory, "x.npy")),
                np.load(os.path.join(directory, "y.npy")), source)


def run_all(cases, settings: Settings, data_source: str, isolate: bool, rounds: int = 1,
            log=print) -> tuple:
    """Load the data once, run every case (in ``rounds`` passes); ``(records, source)``."""
    data = load_data(settings.n_images, data_source)
    log(f"data: {data.x.shape} from {data.source}")
    per_round = [dataclasses.replace(c, repeats=max(1, -(-c.repeats // rounds))) for c in cases]
    passes = []
    own_process = [isolate or c.devices > 0 for c in per_round]
    with tempfile.TemporaryDirectory() as data_dir:
        if any(own_process):
            save_data(data, data_dir)
        for r in range(rounds):
            records = []
            for i, (case, sub) in enumerate(zip(per_round, own_process), 1):
                tag = f"round {r + 1}/{rounds} " if rounds > 1 else ""
                log(f"[{tag}{i}/{len(cases)}] {case.label} S={case.seeds} ...", end=" ",
                    flush=True)
                record = (run_subprocess(case, data_dir, settings) if sub
                          else run_inprocess(case, data, settings))
                if sub and not isolate:
                    record["notes"] = f"{record.get('notes', '')}; {FORCED_NOTE}".lstrip("; ")
                log(_summary(record))
                records.append(record)
            passes.append(records)
    merged = [merge(list(group)) for group in zip(*passes)]
    return merged, data.source


def merge(records: list) -> dict:
    """One record from the same case's records of several rounds (times pooled)."""
    good = [r for r in records if r.get("status") == "ok"]
    if len(records) == 1 or not good:
        return records[0]
    out = dict(good[0])
    out["rounds"] = len(records)
    out["round_errors"] = [r.get("error") for r in records if r.get("status") != "ok"]
    out["load_before"], out["load_after"] = good[0]["load_before"], good[-1]["load_after"]
    for key in ("peak_rss_mib", "delta_rss_mib", "rss_before_mib", "rss_after_mib"):
        values = [r[key] for r in good if r.get(key) is not None]
        out[key] = max(values) if values else None
    if "roofline" in out:
        out["roofline"] = max((r["roofline"] for r in good),
                              key=lambda x: x["roofline_gflops"])
        return out
    for key in ("compile_s", "first_call_s"):
        values = [r[key] for r in good if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    out["seconds"] = [t for r in good for t in r["seconds"]]
    out.update(summarize(out["seconds"]))
    flops = good[0]["gflops"] * good[0]["median_s"]  # GFLOP per seed-epoch
    out["gflops"], out["gflops_best"] = flops / out["median_s"], flops / out["min_s"]
    out["wall_s"] = sum(r["wall_s"] for r in good)
    return out


def _summary(record: dict) -> str:
    if record["status"] != "ok":
        return f"ERROR {record.get('error', '')[:300]}"
    if "roofline" in record:
        return f"roofline {record['roofline']['roofline_gflops']:.1f} GFLOP/s"
    return (f"{record['median_s']:.3f} s/seed-epoch [{record['min_s']:.3f}-"
            f"{record['max_s']:.3f}], {record['gflops']:.1f} GFLOP/s")


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _worker(argv) -> None:
    case_json, data_dir, mode, out = argv
    case = Case(**json.loads(case_json))
    settings = Settings.for_mode(mode)
    data = read_data(data_dir) if case.contender != "roofline" else None
    record = execute(case, data, settings)
    record["delta_rss_mib"] = record["peak_rss_mib"] - record.get("rss_before_mib", 0.0)
    record["memory_method"] = ("peak RSS (VmHWM) of the case's own subprocess; delta = peak "
                               "minus RSS after imports and data loading")
    with open(out, "w") as f:
        json.dump(record, f, default=float)


if __name__ == "__main__":
    _worker(sys.argv[1:])
