"""Plain-JAX reference contender: a hand-rolled ``jit(vmap(epoch))``.

One epoch of one seed is a ``lax.scan`` over a (batches, 128) array of image indices; each
step gathers its batch by index (no seed holds a permuted copy of the data), takes
``jax.value_and_grad`` of the softmax cross-entropy and applies ``optax.adam``. The
dataset is an *argument* of the compiled program, never closed over. Seeds are a vmapped
axis; the batch order is either

* ``shared``: one permutation per epoch for all seeds (the first layer becomes one wide
  matmul, ``(128, 784) @ (784, S·64)``), or
* ``per_seed``: each seed shuffles with its own key (every matmul becomes a batched one).

``seq`` is the sequential baseline: the same epoch jitted without vmap, one seed at a time.

The :class:`EpochProgram` contract is shared with ``nnjax_mlp.py``: anything that can be
expressed as ``epoch(carry, x, y) -> (carry, loss)`` is timed by :func:`measure_program`.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import numpy as np
import optax

from benchmarks.common import Case, Data, Result, Workload, timed

VARIANTS = ("shared", "per_seed", "seq")


class Dense(NamedTuple):
    w: jax.Array  # (fan_in, fan_out)
    b: jax.Array  # (fan_out,)


class EpochProgram(NamedTuple):
    """A whole epoch for S seeds as one pure function.

    ``epoch(carry, x, y) -> (carry, loss)`` with ``x`` (N, 784) float32, ``y`` (N,) int32,
    ``loss`` (S,) or () the mean training loss of the epoch; ``carry`` holds all
    per-seed state (params, optimizer state, keys) with a leading seed axis.
    ``place((x, y))``, if given, puts the data where ``epoch`` wants it (e.g. replicated
    over a device mesh); by default it goes to the default device.
    """

    epoch: Callable
    carry: Any
    order: str
    engine: str
    place: Optional[Callable] = None


def init_params(key, sizes) -> tuple:
    """PyTorch-style U(±1/√fan_in) init; a tuple of :class:`Dense`."""
    layers = []
    for k, (fan_in, fan_out) in zip(jax.random.split(key, len(sizes) - 1),
                                    zip(sizes[:-1], sizes[1:])):
        kw, kb = jax.random.split(k)
        bound = 1.0 / np.sqrt(fan_in)
        layers.append(Dense(jax.random.uniform(kw, (fan_in, fan_out), minval=-bound,
                                               maxval=bound),
                            jax.random.uniform(kb, (fan_out,), minval=-bound,
                                               maxval=bound)))
    return tuple(layers)


def forward(params, x):
    """Logits (B, 10) of the ReLU MLP for images x (B, 784)."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer.w + layer.b)
    return x @ params[-1].w + params[-1].b


def loss_fn(params, x, y):
    """Mean softmax cross-entropy over the batch."""
    return optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()


def batch_indices(key, n_images: int, batch: int):
    """A fresh permutation cut into (n_images // batch, batch) index rows."""
    n_batches = n_images // batch
    return jax.random.permutation(key, n_images)[: n_batches * batch].reshape(n_batches, batch)


def make_seed_epoch(tx: optax.GradientTransformation) -> Callable:
    """``seed_epoch(params, opt_state, x, y, idx) -> (params, opt_state, mean_loss)``."""

    def seed_epoch(params, opt_state, x, y, idx):
        def step(carry, rows):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, x[rows], y[rows])
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), idx)
        return params, opt_state, losses.mean()

    return seed_epoch


def build_program(workload: Workload, seeds: int, order: str, seed: int = 0) -> EpochProgram:
    """The plain-JAX epoch for ``seeds`` runs with batch ``order`` (see module doc)."""
    if order not in VARIANTS:
        raise ValueError(f"order must be one of {VARIANTS}, got {order!r}")
    tx = optax.adam(workload.lr)
    seed_epoch = make_seed_epoch(tx)
    key_init, key_order = jax.random.split(jax.random.key(seed))
    batch = workload.batch

    if order == "seq":
        if seeds != 1:
            raise ValueError("the seq variant runs one seed at a time: use seeds=1")
        params = init_params(key_init, workload.sizes)

        def epoch(carry, x, y):
            params, opt_state, key = carry
            key, sub = jax.random.split(key)
            params, opt_state, loss = seed_epoch(params, opt_state, x, y,
                                                 batch_indices(sub, x.shape[0], batch))
            return (params, opt_state, key), loss

        return EpochProgram(epoch, (params, tx.init(params), key_order), "own", "jax")

    params = jax.vmap(lambda k: init_params(k, workload.sizes))(
        jax.random.split(key_init, seeds))
    opt_state = jax.vmap(tx.init)(params)
    if order == "shared":
        def epoch(carry, x, y):
            params, opt_state, key = carry
            key, sub = jax.random.split(key)
            idx = batch_indices(sub, x.shape[0], batch)
            params, opt_state, loss = jax.vmap(seed_epoch, in_axes=(0, 0, None, None, None))(
                params, opt_state, x, y, idx)
            return (params, opt_state, key), loss

        return EpochProgram(epoch, (params, opt_state, key_order), order, "jax")

    def epoch(carry, x, y):
        params, opt_state, keys = carry
        pairs = jax.vmap(jax.random.split)(keys)
        idx = jax.vmap(lambda k: batch_indices(k, x.shape[0], batch))(pairs[:, 1])
        params, opt_state, loss = jax.vmap(seed_epoch, in_axes=(0, 0, None, None, 0))(
            params, opt_state, x, y, idx)
        return (params, opt_state, pairs[:, 0]), loss

    keys = jax.random.split(key_order, seeds)
    return EpochProgram(epoch, (params, opt_state, keys), order, "jax")


def compile_program(program: EpochProgram, data: Data) -> tuple:
    """``(compiled, x, y, t_lower, t_compile)``: the data placed as ``program`` wants it and
    ``program.epoch`` jitted with the carry donated (as nnjax's engine does), lowered and
    compiled ahead of time, each stage timed."""
    x, y = jax.device_put((data.x, data.y))
    if program.place is not None:
        x, y = program.place((x, y))
    jitted = jax.jit(program.epoch, donate_argnums=0)
    t_lower, lowered = timed(lambda: jitted.lower(program.carry, x, y))
    t_compile, compiled = timed(lowered.compile)
    return compiled, x, y, t_lower, t_compile


def measure_program(program: EpochProgram, data: Data, case: Case) -> Result:
    """Compile ``program`` ahead of time (timed), warm up once, then time ``case.repeats``
    epochs. Each epoch continues from the previous one's state (donated: updated in place),
    so every timed epoch is a real training epoch with a fresh shuffle."""
    compiled, x, y, t_lower, t_compile = compile_program(program, data)

    def run(carry):
        return jax.block_until_ready(compiled(carry, x, y))

    t_first, (carry, loss) = timed(lambda: run(program.carry))
    seconds = []
    for _ in range(case.repeats):
        t, (carry, loss) = timed(lambda: run(carry))
        seconds.append(t / case.seeds)
    notes = (f"lower {t_lower:.2f} s + compile {t_compile:.2f} s; first call "
             f"{t_first:.2f} s")
    return Result(seconds, t_lower + t_compile, "jax lower+compile (AOT)",
                  float(np.mean(np.asarray(loss))), program.order, notes, t_first)


def cases(settings) -> list:
    """Shared and per-seed orders at every seed count, plus the sequential baseline."""
    out = [Case("jax_plain", order, s, settings.repeats) for order in ("shared", "per_seed")
           for s in settings.seed_counts]
    return out + [Case("jax_plain", "seq", 1, settings.repeats)]


def run(case: Case, data: Data, workload: Workload) -> Result:
    program = build_program(workload, case.seeds, case.variant)
    return measure_program(program, data, case)
