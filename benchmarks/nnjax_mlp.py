"""The nnjax contender: the seed-001 MLP trained by nnjax's own vmapped sweep engine.

The goal rows of the report come from this file. It times an :class:`EpochProgram`
(see ``jax_plain.py``) with the same harness as the plain-JAX reference, so the two are
measured identically:

    program = build_program(workload, seeds, order)   # order: "shared" | "per_seed"
    program.epoch(carry, x, y) -> (carry, loss)       # one epoch of every seed; pure
    program.carry                                     # all per-seed state, leading axis S

The harness jits ``program.epoch``, times ``lower`` + ``compile`` ahead of time, warms up
once, then times whole epochs (each continuing from the previous state) and divides by S.

What the engine has to provide (lead: fill in :func:`engine_program`):

* one pure function for a whole epoch of S seeds, the ``jit(vmap(epoch))`` the sweep runs
  (un-jitted or jitted; jitting a jitted function is harmless),
* the dataset ``x`` (N, 784) float32 and ``y`` (N,) int32 as *arguments*, never closed
  over; batches gathered by index inside a ``lax.scan``,
* the shuffle derived from keys inside ``carry``: one order for all seeds (``shared``) or
  one per seed (``per_seed``), so the timing includes drawing the permutation,
* Adam 1e-3 (a traced learning rate is fine), batch 128, softmax cross-entropy, the
  manual backward (``grad="manual"``, the default); the last partial batch dropped,
* ``loss`` the per-seed mean training loss of the epoch, shape (S,).

Until :func:`engine_program` returns a program, the contender runs the plain-JAX reference
and every result says ``engine: jax_plain fallback``.
"""
from __future__ import annotations

from typing import Optional

from benchmarks import jax_plain
from benchmarks.common import Case, Data, Result, Workload
from benchmarks.jax_plain import EpochProgram

VARIANTS = ("shared", "per_seed")


def engine_program(workload: Workload, seeds: int, order: str) -> Optional[EpochProgram]:
    """The nnjax engine's epoch for ``seeds`` runs with batch ``order``.

    Exactly the per-run epoch ``fit`` scans (:func:`nnjax.epoch.train_epoch`: manual
    backward, Optax Adam with injected hyperparameters, batches gathered by index), vmapped
    over runs; initialisation and keys from :mod:`nnjax.runs` as in ``fit``. Only the
    validation pass and early-stopping bookkeeping of ``fit``'s epoch are left out, so the
    timing is of training alone, like the other contenders.
    """
    import jax
    import jax.numpy as jnp

    from nnjax import epoch as E
    from nnjax import layers as L
    from nnjax.backprop import value_and_grad
    from nnjax.config import TrainConfig
    from nnjax.runs import hyper_arrays, keys as run_keys, make_runs

    stack = []
    for width in workload.sizes[1:-1]:
        stack += [L.Linear(width), L.ReLU()]
    model = L.Sequential(*stack, L.Linear(workload.sizes[-1]))
    config = TrainConfig(epochs=1, batch_size=workload.batch, optimizer="adam",
                         learning_rate=workload.lr, drop_last=True,
                         shuffle="shared" if order == "shared" else "per_run")
    runs = make_runs(seeds)
    specs = E.RunSpec(run_keys(runs.seed), jax.tree.map(jnp.asarray, hyper_arrays(
        runs, {"learning_rate": workload.lr, "momentum": 0.0, "weight_decay": 0.0,
               "noise_std": 0.0})))
    train0 = jax.jit(jax.vmap(
        lambda s: E.init_run(model, config, (workload.sizes[0],), s).train))(specs)
    vg = value_and_grad(model, config.loss, "manual")
    batch = workload.batch

    def epoch(carry, x, y):
        ts, spec, e = carry
        n = x.shape[0]
        if order == "shared":
            full, _ = E.batch_order(jax.random.fold_in(jax.random.key(0), e), n, batch,
                                    "shared", True)
            run = jax.vmap(lambda t, s: E.train_epoch(vg, config, t, s, x, y, full, None, e))
            ts, metrics = run(ts, spec)
        else:
            def one(t, s):
                full, _ = E.batch_order(jax.random.fold_in(s.keys.order, e), n, batch,
                                        "per_run", True)
                return E.train_epoch(vg, config, t, s, x, y, full, None, e)
            ts, metrics = jax.vmap(one)(ts, spec)
        return (ts, spec, e + 1), metrics["train_loss"]

    return EpochProgram(epoch, (train0, specs, jnp.int32(0)), order, "nnjax")


def build_program(workload: Workload, seeds: int, order: str) -> EpochProgram:
    """The engine's program, or the plain-JAX reference while the engine is not wired."""
    if order not in VARIANTS:
        raise ValueError(f"nnjax order must be one of {VARIANTS}, got {order!r}")
    program = engine_program(workload, seeds, order)
    if program is None:
        program = jax_plain.build_program(workload, seeds, order)._replace(
            engine="jax_plain fallback")
    return program


def cases(settings) -> list:
    return [Case("nnjax", order, s, settings.repeats) for order in VARIANTS
            for s in settings.seed_counts]


def run(case: Case, data: Data, workload: Workload) -> Result:
    program = build_program(workload, case.seeds, case.variant)
    result = jax_plain.measure_program(program, data, case)
    return result._replace(notes=f"engine: {program.engine}; {result.notes}")
