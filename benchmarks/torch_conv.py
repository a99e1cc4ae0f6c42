"""PyTorch on the conv-AE workload (:mod:`benchmarks.conv_ae`), idiomatic and sequential.

The same autoencoder as ``nn.Sequential`` (Conv2d/ConvTranspose2d with the geometry of
``nnjax.models.conv_autoencoder``, NCHW), ``torch.optim.Adam(lr=1e-3)``, ``F.mse_loss``;
each epoch draws a ``torch.randperm`` and indexes the data tensor batch by batch. Run at
``torch.set_num_threads(1)`` and at all cores. One timed repeat is one run's epoch (model
creation included); runs go one after another, so the time per run-epoch does not
depend on S.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks import conv_ae
from benchmarks.common import Case, Data, Result, Workload, cpu_count, timed


def make_model() -> nn.Sequential:
    c1, c2, c3 = conv_ae.CHANNELS
    h, code = conv_ae.HIDDEN, conv_ae.CODE
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(c2, c3, 3, 2, 0), nn.ReLU(), nn.Flatten(), nn.Linear(9 * c3, h), nn.ReLU(),
        nn.Linear(h, code), nn.Linear(code, h), nn.ReLU(), nn.Linear(h, 9 * c3), nn.ReLU(),
        nn.Unflatten(1, (c3, 3, 3)), nn.ConvTranspose2d(c3, c2, 3, 2, 0, 0), nn.ReLU(),
        nn.ConvTranspose2d(c2, c1, 3, 2, 1, 1), nn.ReLU(), nn.ConvTranspose2d(c1, 1, 3, 2, 1, 1),
        nn.Sigmoid())


def train_run_epoch(seed: int, x: torch.Tensor, batch: int) -> float:
    torch.manual_seed(seed)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=conv_ae.LR)
    perm = torch.randperm(x.shape[0])
    steps = x.shape[0] // batch
    total = torch.zeros(())
    for i in range(steps):
        xb = x[perm[i * batch:(i + 1) * batch]]
        loss = F.mse_loss(model(xb), xb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
    return float(total) / steps


def cases(settings) -> list:
    r = settings.repeats
    return [Case("conv_torch", "seq_1thread", 1, r, threads=1),
            Case("conv_torch", f"seq_{cpu_count()}threads", 1, r, threads=cpu_count())]


def flops_per_seed_epoch(data: Data) -> float:
    return conv_ae.flops_per_run_epoch(len(conv_ae.images(data.x)))


def run(case: Case, data: Data, workload: Workload) -> Result:
    torch.set_num_threads(case.threads or cpu_count())
    x = torch.from_numpy(conv_ae.images(data.x)).permute(0, 3, 1, 2).contiguous()
    batch = conv_ae.batch_size(x.shape[0])
    t_first, _ = timed(lambda: train_run_epoch(10_000, x, batch))
    seconds, loss = [], None
    for r in range(case.repeats):
        t, loss = timed(lambda: train_run_epoch(r, x, batch))
        seconds.append(t)
    steady = sorted(seconds)[len(seconds) // 2]
    notes = f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    return Result(seconds, max(0.0, t_first - steady), "first epoch minus steady epoch",
                  loss, "own", notes)
