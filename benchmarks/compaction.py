"""Stopped runs stop costing: a 16-run sweep whose runs stop at spread-out epochs, timed
masked (every run computed until the last stops), compacted (``fit(compact=True)``:
the live runs in a smaller program) and against the ideal.

``python -m benchmarks.compaction [--tiny] [--out FILE.md]``

The sweep: an MLP 784-64-32-10 on a synthetic teacher task (labels of a random linear
map, so no download), plain SGD with 16 learning rates spread log-uniformly, early
stopping on the validation loss (patience 2): slow runs train long, fast ones stop
early. Four fits in one process: masked, then compacted (at every smaller bucket), each
compiling what it needs ("cold": compilation counted), then both again with every
program compiled ("warm": what a repeated sweep costs with the persistent compilation
cache, and the steady state the goal is about).

*Ideal*: each run's own epochs at the 16-run cost per run-epoch,
``ideal = t16 · Σ_i epochs_i / 16`` with ``t16`` the masked fit's steady seconds per
epoch (all 16 runs). Goal: compacted ≤ 1.3 × ideal. Under load compare the ratios.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.common import report_row

GOAL = 1.3


def _problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((n + n // 4, 784), np.float32)
    teacher = rng.normal(size=(784, 10)).astype(np.float32)
    y = np.argmax((x - 0.5) @ teacher + rng.normal(size=(x.shape[0], 10)) * 4.0,
                  axis=1).astype(np.int32)
    return (x[:n], y[:n]), (x[n:], y[n:])


def measure(n: int = 8192, epochs: int = 40, runs: int = 16) -> dict:
    from nnjax import layers as L
    from nnjax.train import EarlyStopping, TrainConfig, fit
    from nnjax.train.runs import make_runs

    train, val = _problem(n)
    model = L.Sequential(L.Linear(64), L.ReLU(), L.Linear(32), L.ReLU(), L.Linear(10))
    cfg = TrainConfig(epochs=epochs, batch_size=128, optimizer="sgd",
                      early_stopping=EarlyStopping("val_loss", patience=2, min_delta=1e-3))
    sweep = make_runs([0], learning_rate=list(np.geomspace(3e-3, 1.0, runs)))
    out = {}
    for name, compact in (("cold_masked", False), ("cold_compacted", "always"),
                          ("masked", False), ("compacted", "always")):
        t0 = time.perf_counter()
        res = fit(model, cfg, train, val, runs=sweep, verify=False, progress=False,
                  compact=compact)
        out[name] = {"seconds": time.perf_counter() - t0,
                     "per_epoch": res.info["seconds_per_epoch"],
                     "epochs_run": res.epochs_run.tolist(),
                     "compactions": res.info["compactions"]}
    epochs_run = np.asarray(out["masked"]["epochs_run"])
    t16 = out["masked"]["per_epoch"]
    out["ideal"] = {"seconds": float(t16 * epochs_run.sum() / runs)}
    out["ratio_compacted_ideal"] = out["compacted"]["seconds"] / out["ideal"]["seconds"]
    out["ratio_masked_ideal"] = out["masked"]["seconds"] / out["ideal"]["seconds"]
    out["load"] = os.getloadavg()
    return out


def row(m: dict) -> str:
    """The report row (markdown)."""
    e = m["masked"]["epochs_run"]
    ok = "met" if m["ratio_compacted_ideal"] <= GOAL else "missed"
    cold = (f" Cold (compiling): masked {m['cold_masked']['seconds']:.1f} s, compacted"
            f" {m['cold_compacted']['seconds']:.1f} s.")
    return (f"| 16-run sweep, runs stopping at epochs {min(e)}–{max(e)} (Σ {sum(e)}) | "
            f"masked {m['masked']['seconds']:.1f} s | compacted {m['compacted']['seconds']:.1f} s"
            f" ({len(m['compacted']['compactions'])} compactions) | ideal "
            f"{m['ideal']['seconds']:.1f} s | compacted/ideal {m['ratio_compacted_ideal']:.2f}"
            f" (goal ≤ {GOAL}: {ok}); masked/ideal {m['ratio_masked_ideal']:.2f}.{cold} |")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.compaction", description=__doc__)
    p.add_argument("--tiny", action="store_true", help="1024 images, 8 epochs: the code path")
    p.add_argument("--out", default=None, help="append the row to this markdown file")
    args = p.parse_args(argv)
    m = measure(1024, 8) if args.tiny else measure()
    report_row("| case | masked | compacted | ideal | ratios |\n|---|---|---|---|---|",
               row(m), m["load"][0], args.out)
    return m


if __name__ == "__main__":
    main()
