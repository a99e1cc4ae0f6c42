"""What input validation costs: ``nnjax.train.validate`` on MNIST-sized arrays vs an epoch.

``fit`` checks its data once, on the host, before it builds or compiles anything; the
epoch program is unchanged. This script times that one check on arrays of MNIST's
shapes (random, so no download: 50 000 × 784 train, 10 000 × 784 val and test, float32
in [0, 1], int32 labels; the cost depends on the shapes only) with seed 001's MLP, and
one epoch of ``fit`` on the same arrays (batch 128, Adam; ``seconds_per_epoch`` of the
calls after the first, so compilation is excluded). Both are measured in the same
process, interleaved, and reported as medians with the ratio::

    python -m benchmarks.validate_cost                 # --runs 15 for the 15-seed sweep

Parts: ``inputs`` (dtype and finiteness of x, all splits), ``labels`` (dtype and range),
``eval_shape`` (the model's output shape, traced, not compiled).
"""
from __future__ import annotations

import argparse
import json
import statistics

import numpy as np

from benchmarks.common import timed


def arrays(n_train: int, n_eval: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    split = lambda n: (rng.random((n, 784), np.float32), rng.integers(0, 10, n).astype(np.int32))
    return split(n_train), split(n_eval), split(n_eval)


def _time(fn, repeats: int) -> list:
    return [timed(fn)[0] for _ in range(repeats)]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-train", type=int, default=50_000)
    ap.add_argument("--n-eval", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=1, help="seeds trained per epoch (vmapped)")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    args = ap.parse_args(argv)

    from nnjax import layers as L
    from nnjax.train import TrainConfig, fit, make_runs, validate
    from nnjax.train.validate import data as vdata

    model = L.Sequential(L.Linear(64), L.ReLU(), L.Linear(32), L.ReLU(), L.Linear(10))
    cfg = TrainConfig(epochs=3, batch_size=128, drop_last=True)
    train, val, test = arrays(args.n_train, args.n_eval)
    runs = make_runs(args.runs)
    parts = {
        "validate.fit_args": lambda: validate.fit_args(model, cfg, runs, train, val, test),
        "inputs": lambda: [vdata.inputs(s[0], "x") for s in (train, val, test)],
        "labels": lambda: [vdata.targets(s[1], (10,), "softmax_cross_entropy", "y", len(s[1]))
                           for s in (train, val, test)],
        "eval_shape": lambda: vdata.model_output_shape(model, (784,), "fit"),
    }
    times = {k: [] for k in parts}
    epochs = []
    for _ in range(args.repeats):
        for k, fn in parts.items():
            times[k] += _time(fn, 3)
        res = fit(model, cfg, train, val, runs=runs, verify=False, progress=False)
        epochs.append(res.info["seconds_per_epoch"])
    epoch = statistics.median(epochs)
    out = {"shapes": {"train": list(train[0].shape), "val": list(val[0].shape),
                      "test": list(test[0].shape)}, "runs": args.runs,
           "epoch_seconds_median": round(epoch, 4)}
    for k, v in times.items():
        med = statistics.median(v)
        out[f"{k}_ms_median"] = round(1e3 * med, 2)
        out[f"{k}_per_epoch"] = round(med / epoch, 4)
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
