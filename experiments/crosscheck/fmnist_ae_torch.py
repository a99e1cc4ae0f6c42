"""PyTorch twin of ``fmnist-ae`` (Yıldırım, Homework 2, question 1).

784-256(ReLU)-64 / 64-256(ReLU)-784(Sigmoid) (``nn.Linear`` default init; the code layer
has no activation), MSE, Adam 1e-3, batch 128, 20 epochs, shuffled every epoch, on all
60 000 Fashion-MNIST training images (nnjax's loader: pixels / 255). Per seed it records:

* ``train_loss_last_epoch``: mean of the last epoch's batch losses in train mode (what the
  source's log prints);
* ``test_mse``: per-pixel MSE over the 10 000 test images;
* ``test_mse_batch_mean``: the mean of per-batch MSEs over a batch-128 test loader (the
  last batch has 16 images), i.e. ``sum(loss) / len(loader)``, a common way to report it;
* ``train_mse_eval``: per-pixel MSE over the 60 000 training images after training.

The last two test hypotheses for the published 0.0066: a batch-averaging artifact, or the
training set. Writes ``results/fmnist-ae/torch_check.json`` (``--out``) after every seed
(so a stopped run keeps the seeds it finished), which ``fmnist-ae``'s run embeds into its
results; ``--attach`` also adds it to an existing ``results/fmnist-ae/results.json``
(key ``torch_check``) without retraining the study.

    python -m experiments.crosscheck.fmnist_ae_torch --seeds 5 --attach
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from experiments.crosscheck._provenance import provenance
from nnjax import data
from nnjax.analysis import stats
from nnjax.results import read_json, write_json_atomic


def make_model(dim=784, hidden=256, code=64) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, code),
                         nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, dim),
                         nn.Sigmoid())


@torch.no_grad()
def mse(model, x, batch=1000) -> float:
    """Per-pixel MSE of ``model(x)`` against ``x`` over all of ``x``."""
    total = sum(float(F.mse_loss(model(x[i:i + batch]), x[i:i + batch], reduction="sum"))
                for i in range(0, len(x), batch))
    return total / x.numel()


@torch.no_grad()
def batch_mean_mse(model, x, batch=128) -> float:
    """Mean over batches of each batch's MSE (the last, smaller batch weighs as much)."""
    losses = [float(F.mse_loss(model(x[i:i + batch]), x[i:i + batch]))
              for i in range(0, len(x), batch)]
    return float(np.mean(losses))


def train_one(seed: int, x, xt, epochs: int, batch: int, lr: float) -> dict:
    torch.manual_seed(seed)
    model = make_model(x.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    curve = []
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        losses = []
        for i in range(0, len(x), batch):
            xb = x[perm[i:i + batch]]
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        curve.append(float(np.mean(losses)))
    model.eval()
    return {"seed": seed, "train_loss_last_epoch": curve[-1], "test_mse": mse(model, xt),
            "test_mse_batch_mean": batch_mean_mse(model, xt, batch),
            "train_mse_eval": mse(model, x), "train_loss_curve": curve}


KEYS = ("test_mse", "test_mse_batch_mean", "train_mse_eval", "train_loss_last_epoch")


def record(runs, a, n_train, n_test, argv, seconds) -> dict:
    """The JSON of the seeds done so far: config, runs, summaries, provenance."""
    return {"config": {"widths": [784, 256, 64, 256, 784], "code_activation": None,
                       "optimizer": "torch.optim.Adam", "lr": 1e-3, "batch_size": 128,
                       "epochs": a.epochs, "seeds_asked": a.seeds, "seeds_done": len(runs),
                       "init": "nn.Linear default", "n_train": n_train, "n_test": n_test},
            "runs": runs, "summary": {k: stats.summary([r[k] for r in runs]) for k in KEYS},
            "provenance": provenance("experiments.crosscheck.fmnist_ae_torch", argv, seconds)}


def brief(check: dict) -> dict:
    """What the study keeps of a cross-check file: no per-epoch curves."""
    return {**check, "runs": [{k: v for k, v in r.items() if k != "train_loss_curve"}
                              for r in check["runs"]]}


def attach(check: dict, results: Path) -> None:
    """Add ``check`` (briefly) to the study's results.json as ``torch_check``."""
    if not results.exists():
        print(f"{results} not found; nothing attached")
        return
    r = read_json(results)
    r["torch_check"] = brief(check)
    write_json_atomic(results, r)
    print(f"attached to {results}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/fmnist-ae/torch_check.json")
    ap.add_argument("--attach", action="store_true",
                    help="also add the result to results.json beside --out")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    ds = data.load("fashion-mnist", flatten=True)
    x = torch.from_numpy(np.concatenate([ds.train.x, ds.val.x]).astype(np.float32))
    xt = torch.from_numpy(np.asarray(ds.test.x, np.float32))
    runs = []
    for seed in range(a.seeds):
        runs.append(train_one(seed, x, xt, a.epochs, 128, 1e-3))
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.5f}" for k, v in runs[-1].items()
                                           if isinstance(v, float)), flush=True)
        out = record(runs, a, len(x), len(xt), argv, time.time() - t0)
        write_json_atomic(a.out, out)
        if a.attach:
            attach(out, Path(a.out).parent / "results.json")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
