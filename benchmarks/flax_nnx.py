"""Flax NNX contender: the MLP as an ``nnx.Module``, trained the way the NNX docs show.

* ``vmap``: an ensemble built with ``nnx.split_rngs(splits=S)`` + ``nnx.vmap`` over the
  constructor (the NNX transforms guide's recipe), an ``nnx.Optimizer(optax.adam)``
  created under ``nnx.vmap``, and an ``nnx.jit``-ed, ``nnx.vmap``-ed train step. All seeds
  see the same batch (``in_axes=None`` for the data).
* ``seq``: one model at a time, the same train step without vmap.

Either way a Python loop calls the step once per batch, wrapped in ``nnx.cached_partial``
as the NNX "Performance considerations" guide recommends to cut ``nnx.jit``'s graph
traversal overhead. The step receives the whole dataset (an argument, not a constant) and
the batch's index row, and gathers the batch inside the compiled program.
"""
from __future__ import annotations

import jax
import numpy as np
import optax
from flax import nnx

from benchmarks.common import Case, Data, Result, Workload, timed


class MLP(nnx.Module):
    """784-64-32-10 ReLU MLP (logits out)."""

    def __init__(self, sizes, rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs)
                                for a, b in zip(sizes[:-1], sizes[1:])])

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nnx.relu(layer(x))
        return self.layers[-1](x)


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def _step(model, optimizer, x, y, rows):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x[rows], y[rows])
    optimizer.update(model, grads)
    return loss


single_step = nnx.jit(_step)
ensemble_step = nnx.jit(nnx.vmap(_step, in_axes=(0, 0, None, None, None)))


def make_single(workload: Workload, seed: int, tx: optax.GradientTransformation):
    """One model and its optimizer. Share ``tx`` across seeds: it is a static part of the
    optimizer's graph, so a fresh ``optax.adam`` per seed makes ``nnx.jit`` recompile."""
    model = MLP(workload.sizes, nnx.Rngs(seed))
    return model, nnx.Optimizer(model, tx, wrt=nnx.Param)


def make_ensemble(workload: Workload, seeds: int, seed: int):
    """S stacked models (leading axis S on every Param) and their vmapped optimizer."""
    @nnx.split_rngs(splits=seeds)
    @nnx.vmap(in_axes=(0,))
    def make_model(rngs):
        return MLP(workload.sizes, rngs)

    model = make_model(nnx.Rngs(seed))
    optimizer = nnx.vmap(lambda m: nnx.Optimizer(m, optax.adam(workload.lr), wrt=nnx.Param),
                         in_axes=(0,))(model)
    return model, optimizer


def train_epoch(step, x, y, rng: np.random.Generator, batch: int, n_batches: int) -> float:
    """Call the cached step on ``n_batches`` shuffled batches; the mean loss."""
    perm = rng.permutation(x.shape[0])
    losses = [step(x, y, perm[i * batch:(i + 1) * batch]) for i in range(n_batches)]
    return float(np.mean(jax.block_until_ready(losses)))


def cases(settings) -> list:
    return ([Case("flax_nnx", "vmap", s, settings.repeats) for s in settings.seed_counts]
            + [Case("flax_nnx", "seq", 1, settings.repeats)])


def run(case: Case, data: Data, workload: Workload) -> Result:
    x, y = jax.device_put(data.x), jax.device_put(data.y)
    n_batches = max(1, round(case.fraction * (x.shape[0] // workload.batch)))
    scale = (x.shape[0] // workload.batch) / n_batches
    rng = np.random.default_rng(0)
    tx = optax.adam(workload.lr)

    def seed_epoch(seed):  # seq: a fresh model per repeat, like a loop over seeds
        step = nnx.cached_partial(single_step, *make_single(workload, seed, tx))
        return train_epoch(step, x, y, rng, workload.batch, n_batches)

    if case.variant == "seq":
        epoch = seed_epoch
    elif case.variant == "vmap":
        step = nnx.cached_partial(ensemble_step, *make_ensemble(workload, case.seeds, 0))

        def epoch(_):
            return train_epoch(step, x, y, rng, workload.batch, n_batches)
    else:
        raise ValueError(f"flax_nnx variant must be vmap or seq, got {case.variant!r}")

    t_first, _ = timed(lambda: epoch(10_000))
    seconds, loss = [], None
    for r in range(case.repeats):
        t, loss = timed(lambda: epoch(r))
        seconds.append(t * scale / case.seeds)
    steady = sorted(seconds)[len(seconds) // 2] * case.seeds / scale
    order = "shared" if case.variant == "vmap" else "own"
    notes = "python loop over batches, nnx.cached_partial(nnx.jit step)"
    if case.fraction < 1:
        notes += f"; timed {n_batches} batches and extrapolated"
    return Result(seconds, max(0.0, t_first - steady), "first epoch minus steady epoch",
                  loss, order, notes)
