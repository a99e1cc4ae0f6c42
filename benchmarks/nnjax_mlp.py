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
    """The nnjax engine's epoch for ``seeds`` runs with batch ``order``.

    Exactly the per-run epoch ``fit`` scans (:func:`nnjax.train.program.train_epoch`: manual
    backward unless ``grad="autodiff"``, Optax Adam with injected hyperparameters, batches
    gathered by index), mapped over runs by a :class:`nnjax.train.parallel.RunMapper` (``vmap``;
    with ``devices`` > 1, ``shard_map`` over a mesh of that many devices, the shared batch
    order and the data replicated) as ``nnjax.train.program.build`` does; initialisation and keys
    from :mod:`nnjax.train.runs` as in ``fit``. Only the validation pass and early-stopping
    bookkeeping of ``fit``'s epoch are left out, so the timing is of training alone, like
    the other contenders.
    """
    import jax
    import jax.numpy as jnp

    from nnjax.train import program as E
    from nnjax import layers as L
    from nnjax.backprop import value_and_grad
    from nnjax.train.config import TrainConfig
    from nnjax.train.parallel import RunMapper, make_mesh
    from nnjax.train.hyperparams import run_hyper
    from nnjax.train.runs import keys as run_keys, make_runs

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
    config = TrainConfig(epochs=1, batch_size=workload.batch, optimizer="adam",
                         learning_rate=workload.lr, drop_last=True, grad=grad,
                         shuffle="shared" if order == "shared" else "per_run")
    runs = make_runs(seeds)
    specs = E.RunSpec(run_keys(runs.seed),
                      jax.tree.map(jnp.asarray, run_hyper(runs, model, config)))
    train0 = jax.jit(jax.vmap(
        lambda s: E.init_run(model, config, (workload.sizes[0],), s).train))(specs)
    vg = value_and_grad(model, config.loss, grad)
    batch = workload.batch

    def one_run(run, shared):
        (t, s), (x, y, full, e) = run, shared
        if full is None:  # per_seed: this run's own order, from its key
            full, _ = E.batch_order(jax.random.fold_in(s.keys.order, e), x.shape[0], batch,
                                    "per_run", True)
        return E.train_epoch(vg, config, t, s, x, y, full, None, e)

    mapped = mapper(one_run)

    def epoch(carry, x, y):
        ts, spec, e = carry
        full = None
        if order == "shared":  # one order for all runs, drawn outside the run map
            full, _ = E.batch_order(jax.random.fold_in(jax.random.key(0), e), x.shape[0],
                                    batch, "shared", True)
        ts, metrics = mapped((ts, spec), (x, y, full, e))
        return (ts, spec, e + 1), metrics["train_loss"]

    ts, spec = mapper.put_runs((train0, specs))
    engine = "nnjax" + (f", grad={grad}" if grad != "manual" else "")
    if devices:
        engine += (f", RunMapper shard_map over {devices} devices" if mesh is not None
                   else ", RunMapper vmap on 1 device")
    return EpochProgram(epoch, (ts, spec, jnp.int32(0)), order, engine, mapper.put_shared)


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
