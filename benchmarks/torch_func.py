"""PyTorch ``torch.func`` ensemble: S models trained as one vmapped computation.

Follows the PyTorch model-ensembling recipe: ``stack_module_state`` stacks S
``nn.Sequential`` models' parameters (new leaf tensors with a leading seed axis), a
``meta``-device copy serves ``functional_call``, ``vmap(grad(loss))`` gives per-seed
gradients, and ``torch.optim.Adam`` steps the stacked parameters (Adam is elementwise, so
this equals S independent Adams). All seeds see the same batch order (``in_dims=None``
for the data), PyTorch's eager analogue of ``jax_plain/shared``. All cores.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from benchmarks.common import Case, Data, Result, Workload, cpu_count, timed
from benchmarks.torch_mlp import make_model


class Ensemble:
    """Stacked parameters, their Adam, and the vmapped gradient function."""

    def __init__(self, seeds: int, workload: Workload, seed: int):
        torch.manual_seed(seed)
        models = [make_model(workload.sizes) for _ in range(seeds)]
        self.params, self.buffers = stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")

        def loss(params, buffers, x, y):
            return F.cross_entropy(functional_call(base, (params, buffers), (x,)), y)

        self.grads_and_losses = vmap(grad_and_value(loss), in_dims=(0, 0, None, None))
        self.opt = torch.optim.Adam(list(self.params.values()), lr=workload.lr)

    def step(self, x, y) -> torch.Tensor:
        """One Adam step of every seed on batch (x, y); returns the (S,) losses."""
        grads, losses = self.grads_and_losses(self.params, self.buffers, x, y)
        for name, p in self.params.items():
            p.grad = grads[name]
        self.opt.step()
        return losses


def train_epoch(ens: Ensemble, x, y, workload: Workload, n_batches: int) -> float:
    """One shuffled pass of ``n_batches`` batches; the mean training loss."""
    perm = torch.randperm(x.shape[0])
    total = torch.zeros(())
    for i in range(n_batches):
        idx = perm[i * workload.batch:(i + 1) * workload.batch]
        total += ens.step(x[idx], y[idx]).detach().mean()
    return float(total) / n_batches


def cases(settings) -> list:
    """One thread at every seed count; all cores at S = 15 only (the goal's point: with
    other processes on the cores, libgomp's spinning threads make it very slow)."""
    r, f, n = settings.repeats, settings.torch_func_fraction, cpu_count()
    out = [Case("torch_func", "vmap_1thread", s, r, fraction=f, threads=1)
           for s in settings.seed_counts]
    s_all = 15 if 15 in settings.seed_counts else max(settings.seed_counts)
    return out + [Case("torch_func", f"vmap_{n}threads", s_all, r, fraction=f, threads=n)]


def run(case: Case, data: Data, workload: Workload) -> Result:
    torch.set_num_threads(case.threads or cpu_count())
    x = torch.from_numpy(data.x)
    y = torch.from_numpy(data.y).long()
    n_batches = max(1, round(case.fraction * (x.shape[0] // workload.batch)))
    scale = (x.shape[0] // workload.batch) / n_batches
    ens = Ensemble(case.seeds, workload, seed=0)
    t_first, _ = timed(lambda: train_epoch(ens, x, y, workload, n_batches))
    seconds, loss = [], None
    for _ in range(case.repeats):
        t, loss = timed(lambda: train_epoch(ens, x, y, workload, n_batches))
        seconds.append(t * scale / case.seeds)
    steady = sorted(seconds)[len(seconds) // 2] * case.seeds / scale
    notes = f"torch {torch.__version__}, {torch.get_num_threads()} threads, shared batch order"
    if case.fraction < 1:
        notes += f"; timed {n_batches} batches and extrapolated"
    return Result(seconds, max(0.0, t_first - steady), "first epoch minus steady epoch",
                  loss, "shared", notes)
