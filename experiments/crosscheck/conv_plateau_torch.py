"""PyTorch twin of ``conv-ae``'s start of training: does the conv autoencoder first sit
on the all-black plateau with Adam at LR 1e-2, as ours does?

The model is ``nnjax.models.conv_encoder_decoder`` in ``torch.nn`` (default init;
channels 8/16/32, hidden 64, code ``--code``, Sigmoid output), Adam(lr=1e-2,
weight_decay=1e-5) (PyTorch's coupled weight decay, as the source used), MSE, batch 1000,
on the first ``--images`` MNIST training images, reshuffled every epoch. An all-black
output (all zeros) has the loss mean(x²), ≈ 0.11 on MNIST; a step is *on the plateau* while
its batch loss is above ``PLATEAU`` × the batch's mean(x²). Records every step's loss and
the first step below that line per seed. Writes ``results/conv-ae/torch_plateau.json``
(``--out``), which ``conv-ae``'s run embeds into its results.

    python -m experiments.crosscheck.conv_plateau_torch --seeds 3 --steps 60
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from experiments.crosscheck._provenance import provenance
from nnjax import data
from nnjax.results import write_json_atomic

PLATEAU = 0.9


def make_model(code: int, channels=(8, 16, 32), hidden=64) -> nn.Sequential:
    c1, c2, c3 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(c2, c3, 3, 2, 0), nn.ReLU(), nn.Flatten(), nn.Linear(9 * c3, hidden),
        nn.ReLU(), nn.Linear(hidden, code), nn.Linear(code, hidden), nn.ReLU(),
        nn.Linear(hidden, 9 * c3), nn.ReLU(), nn.Unflatten(1, (c3, 3, 3)),
        nn.ConvTranspose2d(c3, c2, 3, 2, 0, 0), nn.ReLU(),
        nn.ConvTranspose2d(c2, c1, 3, 2, 1, 1), nn.ReLU(),
        nn.ConvTranspose2d(c1, 1, 3, 2, 1, 1), nn.Sigmoid())


def run_seed(seed: int, x, code: int, steps: int, batch: int) -> dict:
    torch.manual_seed(seed)
    model = make_model(code)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-5)
    gen = torch.Generator().manual_seed(seed)
    losses, zero, left = [], [], None
    perm, pos = torch.randperm(len(x), generator=gen), 0
    for step in range(steps):
        if pos + batch > len(x):
            perm, pos = torch.randperm(len(x), generator=gen), 0
        xb = x[perm[pos:pos + batch]]
        pos += batch
        loss = F.mse_loss(model(xb), xb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        zero.append(float(xb.square().mean()))
        if left is None and losses[-1] < PLATEAU * zero[-1]:
            left = step + 1
    return {"seed": seed, "left_plateau_at_step": left, "loss": losses,
            "black_output_loss": zero}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--code", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/conv-ae/torch_plateau.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    ds = data.load("mnist", n_val=0)
    x = torch.from_numpy(np.asarray(ds.train.x[:a.images], np.float32)).permute(0, 3, 1, 2)
    runs = [run_seed(s, x.contiguous(), a.code, a.steps, 1000) for s in range(a.seeds)]
    for r in runs:
        print(f"seed {r['seed']}: left the plateau at step {r['left_plateau_at_step']},"
              f" loss at the end {r['loss'][-1]:.4f}", flush=True)
    out = {"config": {"code": a.code, "channels": [8, 16, 32], "hidden": 64,
                      "optimizer": "torch.optim.Adam", "lr": 1e-2, "weight_decay": 1e-5,
                      "batch_size": 1000, "images": a.images, "steps": a.steps,
                      "plateau_rule": f"batch loss > {PLATEAU} x mean(x^2) of the batch",
                      "init": "torch default"},
           "runs": runs,
           "provenance": provenance("experiments.crosscheck.conv_plateau_torch", argv,
                                    time.time() - t0)}
    write_json_atomic(a.out, out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
