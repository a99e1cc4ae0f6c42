"""Which numbers of a (model, config) a sweep may vary per run, and their per-run arrays.

A name is *sweepable* (``make_runs(..., name=[...])``, a sweep file's ``[vmapped]``)
when one compiled program can take a different value per run:

* the optimizer's numbers: ``learning_rate``, ``momentum``, ``weight_decay`` for the four
  named optimizers; every float argument of an :class:`~nnjax.train.optim.Optimizer`;
* the numeric arguments of a learning-rate :class:`~nnjax.train.optim.Schedule`;
* ``noise_std`` (σ of ``TrainConfig.noise``);
* every layer hyperparameter ``L.hyper(name, default)`` in the model, and ``l1``: λ of every
  ``ActivityL1`` built with a constant (each keeps its own unless swept).

Example::

    >>> import optax
    >>> from nnjax import layers as L
    >>> from nnjax.train import TrainConfig
    >>> from nnjax.train.optim import Optimizer
    >>> model = L.Sequential(L.Linear(8), L.LeakyReLU(L.hyper("slope", 0.01)), L.Linear(2))
    >>> sorted(sweepable(model, TrainConfig(optimizer=Optimizer(optax.lion, b1=0.9))))
    ['b1', 'l1', 'learning_rate', 'noise_std', 'slope']
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from nnjax.train.optim import Schedule, learning_rate_of, optimizer_numbers
from nnjax.train.runs import RESERVED


# TrainConfig fields the program reads per run (run_hyper's columns), never compiled in;
# an Optimizer's float arguments and a Schedule's numbers are per run too
CONFIG_PER_RUN = ("learning_rate", "momentum", "weight_decay", "noise_std")


def sweepable(model, config) -> dict:
    """``{name: default}`` of every per-run number of ``(model, config)`` (``l1``: None,
    meaning each ActivityL1 keeps the λ it was built with).

    Raises ``ValueError`` when two of them share a name (say, a layer hyperparameter
    called ``learning_rate``, or one layer name declared with two defaults).
    """
    out: dict = {}
    roles: dict = {}

    def add(name, default, role):
        if name in RESERVED:
            raise ValueError(f"{role} {name!r}: {RESERVED} are reserved for make_runs; rename it.")
        if name in out and (roles[name] != role or out[name] != default):
            raise ValueError(f"the per-run number {name!r} is both {roles[name]} (default"
                             f" {out[name]!r}) and {role} (default {default!r}); give one"
                             " of them another name.")
        out[name], roles[name] = default, role

    for name, default in optimizer_numbers(config).items():
        add(name, default, "an optimizer argument")
    sched = learning_rate_of(config)
    if isinstance(sched, Schedule):
        for name, default in sched.numbers().items():
            add(name, default, "a schedule argument")
    add("noise_std", float(config.noise_std), "TrainConfig.noise_std")
    add("l1", None, "the ActivityL1 strength")
    for name, default in getattr(model, "hypers", ()):
        add(name, default, "a layer hyperparameter")
    return out


def check_runs(runs, model, config) -> None:
    """Raise a ``ValueError`` naming any swept name ``(model, config)`` cannot vary per run."""
    allowed = sweepable(model, config)
    unknown = sorted(set(runs.hyper) - set(allowed))
    if unknown:
        raise ValueError(
            f"runs sweep {unknown}, which this model and config cannot vary per run; the"
            f" per-run numbers here are {sorted(allowed)}. A layer's number becomes one with"
            " L.hyper(name, default), an optimizer's with Optimizer(optax.<name>, ...);"
            " shape-changing choices belong in the sweep's static axes.")


def run_hyper(runs, model, config) -> dict:
    """``{name: (R,) float32}``: what the program reads per run. The optimizer's numbers
    and ``noise_std``, swept values or defaults; the layer hyperparameters that ``runs``
    sweeps, ``l1`` among them (the others keep their built-in value)."""
    check_runs(runs, model, config)
    names = dict(optimizer_numbers(config), noise_std=float(config.noise_std))
    layers = ["l1", *(n for n, _ in getattr(model, "hypers", ()))]
    names.update({n: None for n in layers if n in runs.hyper})

    def col(name, default):
        if name in runs.hyper:
            return np.asarray(runs.hyper[name], np.float32)
        return np.full(runs.size, default, np.float32)
    return {n: col(n, d) for n, d in names.items()}


def steps_per_epoch(n_train: int, config) -> int:
    """Optimizer steps in one epoch: full batches, plus the partial one unless dropped."""
    steps, rest = divmod(n_train, config.batch_size)
    return steps + (1 if rest and not config.drop_last else 0)


def schedule_table(runs, config, n_train: int):
    """``(table (U, T + 1), index (R,))`` of the learning-rate schedule, or ``(None, None)``
    (see :meth:`nnjax.train.optim.Schedule.table`; T = epochs × steps per epoch)."""
    sched = learning_rate_of(config)
    if not isinstance(sched, Schedule):
        return None, None
    steps = config.epochs * steps_per_epoch(n_train, config)
    return sched.table({k: v for k, v in runs.hyper.items()}, runs.size, steps)


def schedule_fn(table, index) -> Optional[callable]:
    """The learning rate of step ``count`` for one run (a traced table lookup)."""
    if table is None or index is None:
        return None
    import jax.numpy as jnp
    last = table.shape[-1] - 1
    return lambda count: table[index, jnp.minimum(count, last)]
