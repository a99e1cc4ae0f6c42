"""The nnjax contender: the seed-001 MLP trained by nnjax's own vmapped sweep engine.

The goal rows of the report come from this file. It times the program ``fit`` runs (set
up by :func:`nnjax.train.setup.prepare`, as ``fit`` does) wrapped as an
:class:`EpochProgram` (see ``jax_plain.py``), with the same harness as the plain-JAX
reference, so the two are measured identically:

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

Variants (names from :func:`benchmarks.common.nnjax_variant`):

* ``shared``, ``per_seed``: the engine itself at every S of the mode (the goal rows);
* ``shared_autodiff``, ``per_seed_autodiff``: the same with ``grad="autodiff"``, at the
  goal S only (for "grad=manual within 10% of grad=autodiff");
* ``shared_1dev``/``shared_2dev`` (and ``per_seed_…``): the run axis mapped by
  ``RunMapper(mesh=make_mesh())`` at ``Settings.device_seeds`` runs, each in its own
  process with 1 or 2 XLA CPU devices (``Case.devices``): shard_map over 2 devices
  against the same program (plain vmap) on one.
"""
from __future__ import annotations

from typing import Optional

from benchmarks import jax_plain
from benchmarks.common import (NNJAX_ORDERS, Case, Data, Result, Workload, nnjax_variant,
                               parse_nnjax_variant)
from benchmarks.goals import S_GOAL
from benchmarks.jax_plain import EpochProgram

VARIANTS = NNJAX_ORDERS  # the engine's own rows; see the module docstring for the others
DEVICES = 2


def engine_program(workload: Workload, seeds: int, order: str, grad: str = "manual",
                   devices: int = 0) -> Optional[EpochProgram]:
    """The program ``fit`` runs for ``seeds`` runs with batch ``order``, one epoch a call.

    Set up by :func:`nnjax.train.setup.prepare`, the function ``fit`` itself calls (the
    same specs, initialisation, :func:`nnjax.train.program.build` program: scanned epoch,
    manual backward unless ``grad="autodiff"``, Optax Adam with injected
    hyperparameters, early-stopping bookkeeping), mapped over runs by a
    :class:`nnjax.train.parallel.RunMapper` (``vmap``; with ``devices`` > 1,
    ``shard_map`` over that many devices). No validation data is given, so the epoch is
    training alone, like the other contenders. The timed epoch calls that program with
    the harness's data in place of the placeholder ``prepare`` saw.
    """
    import jax
    import jax.numpy as jnp

    from nnjax import layers as L
    from nnjax.train.config import TrainConfig
    from nnjax.train.parallel import RunMapper, make_mesh
    from nnjax.train.runs import make_runs
    from nnjax.train.setup import prepare

    mesh = None
    if devices > 1:
        if jax.device_count() < devices:
            raise RuntimeError(f"needs {devices} devices, this process has "
                               f"{jax.device_count()} (set Case.devices)")
        mesh = make_mesh(jax.devices()[:devices])
    mapper = RunMapper(mesh=mesh)
    if mapper.multiple(seeds) != seeds:
        raise ValueError(f"{seeds} runs do not split evenly over {mapper.n_devices} devices")
    stack = []
    for width in workload.sizes[1:-1]:
        stack += [L.Linear(width), L.ReLU()]
    model = L.Sequential(*stack, L.Linear(workload.sizes[-1]))
    # an epoch limit never reached: every timed call is a training epoch with a fresh order
    config = TrainConfig(epochs=1_000_000, batch_size=workload.batch, optimizer="adam",
                         learning_rate=workload.lr, drop_last=True, grad=grad,
                         shuffle="shared" if order == "shared" else "per_run")
    n = workload.n_images
    # placeholders of the data's shapes: the timed epoch passes the real data
    x0 = jnp.zeros((n, workload.sizes[0]), jnp.float32)
    y0 = jnp.zeros((n,), jnp.int32)
    prep = prepare(model, config, make_runs(seeds), x0, y0, mapper=mapper)
    carry0 = prep.init(prep.specs, None)
    shared0 = prep.shared._replace(x=None, y=None)

    def epoch(carry, x, y):
        state, e = carry
        shared = shared0._replace(x=x, y=y, epoch0=e)
        state, hist = prep.program(state, prep.specs, shared)
        return (state, e + 1), hist["train_loss"][0]

    del x0, y0
    engine = "nnjax fit program (prepare)" + (f", grad={grad}" if grad != "manual" else "")
    if devices:
        engine += (f", RunMapper shard_map over {devices} devices" if mesh is not None
                   else ", RunMapper vmap on 1 device")
    return EpochProgram(epoch, (carry0, jnp.int32(0)), order, engine, mapper.put_shared)


def build_program(workload: Workload, seeds: int, variant: str) -> EpochProgram:
    """The engine's program, or the plain-JAX reference while the engine is not wired."""
    order, grad, devices = parse_nnjax_variant(variant)
    program = engine_program(workload, seeds, order, grad, devices)
    if program is None:
        program = jax_plain.build_program(workload, seeds, order)._replace(
            engine="jax_plain fallback")
    return program


def cases(settings) -> list:
    """The engine at every S; autodiff at the goal S; 1 vs 2 devices at ``device_seeds``.

    Only the engine's own rows sweep S, so the comparison cases add a fixed few."""
    s_goal = S_GOAL if S_GOAL in settings.seed_counts else max(settings.seed_counts)
    out = [Case("nnjax", order, s, settings.repeats) for order in VARIANTS
           for s in settings.seed_counts]
    out += [Case("nnjax", nnjax_variant(order, "autodiff"), s_goal, settings.repeats)
            for order in VARIANTS]
    return out + [Case("nnjax", nnjax_variant(order, devices=d), settings.device_seeds,
                       settings.repeats, devices=d)
                  for order in VARIANTS for d in (1, DEVICES)]


def run(case: Case, data: Data, workload: Workload) -> Result:
    program = build_program(workload, case.seeds, case.variant)
    result = jax_plain.measure_program(program, data, case)
    return result._replace(notes=f"engine: {program.engine}; {result.notes}")
