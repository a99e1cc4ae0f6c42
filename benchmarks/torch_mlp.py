"""PyTorch, idiomatic and sequential: a loop over seeds of a standard training loop.

``nn.Sequential`` + ``torch.optim.Adam`` + ``F.cross_entropy``; each epoch draws a
``torch.randperm`` and indexes the data tensor batch by batch (no DataLoader, whose worker
and collate overhead would only slow PyTorch down). Run at ``torch.set_num_threads(1)``
and at all cores. One timed repeat is one seed's full epoch (model creation included);
seeds run one after another, so the time per seed-epoch does not depend on S.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import Case, Data, Result, Workload, cpu_count, timed


def make_model(sizes) -> nn.Sequential:
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_seed_epoch(seed: int, x: torch.Tensor, y: torch.Tensor, workload: Workload,
                     n_batches: int) -> float:
    """Create seed ``seed``'s model and Adam, train ``n_batches`` shuffled batches;
    return the mean loss."""
    torch.manual_seed(seed)
    model = make_model(workload.sizes)
    opt = torch.optim.Adam(model.parameters(), lr=workload.lr)
    perm = torch.randperm(x.shape[0])
    total = torch.zeros(())
    for i in range(n_batches):
        idx = perm[i * workload.batch:(i + 1) * workload.batch]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
    return float(total) / n_batches


def cases(settings) -> list:
    r = settings.repeats
    return [Case("torch_mlp", "seq_1thread", 1, r, threads=1),
            Case("torch_mlp", f"seq_{cpu_count()}threads", 1, r, threads=cpu_count())]


def run(case: Case, data: Data, workload: Workload) -> Result:
    torch.set_num_threads(case.threads or cpu_count())
    x = torch.from_numpy(data.x)
    y = torch.from_numpy(data.y).long()
    n_batches = max(1, round(case.fraction * (x.shape[0] // workload.batch)))
    scale = (x.shape[0] // workload.batch) / n_batches
    t_first, _ = timed(lambda: train_seed_epoch(10_000, x, y, workload, n_batches))
    seconds, loss = [], None
    for r in range(case.repeats):
        t, loss = timed(lambda: train_seed_epoch(r, x, y, workload, n_batches))
        seconds.append(t * scale)
    steady = sorted(seconds)[len(seconds) // 2] / scale
    notes = f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    return Result(seconds, max(0.0, t_first - steady), "first epoch minus steady epoch",
                  loss, "own", notes)
