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
    """The nnjax engine's epoch for ``seeds`` runs with batch ``order``, or None.

    Sketch of the intended wiring (the names depend on nnjax.train / nnjax.sweep)::

        from nnjax import layers as L, losses, sweep, train
        model = L.Sequential(L.Linear(64), L.ReLU(), L.Linear(32), L.ReLU(), L.Linear(10))
        config = train.TrainConfig(batch_size=workload.batch, lr=workload.lr,
                                   optimizer="adam", shuffle=order)
        carry = sweep.init(model, config, key=jax.random.key(0), seeds=seeds,
                           in_shape=(784,))
        epoch = sweep.epoch_fn(model, losses.softmax_cross_entropy, config)
        return EpochProgram(epoch, carry, order, "nnjax")
    """
    del workload, seeds, order
    return None


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
