"""What ``fit`` trains, set up once: data, run specs, the compiled program — :func:`prepare`.

``fit`` and the benchmark's nnjax contender (``benchmarks/nnjax_mlp.py``) both call
:func:`prepare`, so the benchmark times the very program ``fit`` runs. It checks the
splits and the runs, builds the stacked :class:`~nnjax.train.program.RunSpec` (padded to
the mapper's multiple), places data and specs on the devices and fetches ``(init,
program)`` from :func:`nnjax.train.program.build`.

Example::

    >>> prep = prepare(model, config, make_runs(15), x, y, mapper=RunMapper())  # doctest: +SKIP
    >>> carry = prep.init(prep.specs, None)                                       # doctest: +SKIP
    >>> carry, history = prep.program(carry, prep.specs, prep.shared)             # doctest: +SKIP
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nnjax.train import program as epoch_lib
from nnjax.train.evaluate import classifies, index_batches
from nnjax.train.hyperparams import run_hyper, schedule_table
from nnjax.train.parallel import host_input
from nnjax.train.program import RunSpec, Shared
from nnjax.train.runs import Runs, keys as run_keys, kfold, select
from nnjax.train.validate.data import split_xy


class Prepared(NamedTuple):
    """Everything ``fit``'s loop needs: ``program(carry, specs, shared)`` and its inputs."""

    init: Callable
    program: Callable
    specs: RunSpec            # placed, padded to the mapper's multiple
    shared: Shared            # placed; epoch0 = 0
    runs: Runs
    n_train: int
    has_val: bool
    metric_names: list


def prepare(model, config, runs: Runs, x, y, xv=None, yv=None, *, mapper) -> Prepared:
    """Set up the training of every run of ``runs`` on ``(x, y)`` (validation on ``(xv,
    yv)`` or, with folds, on each run's held-out fold). The inputs are those
    :func:`nnjax.train.validate.fit_args` accepted (labels present, a recorded monitor,
    a batch no bigger than the training set, no val with folds)."""
    has_val = runs.fold is not None or xv is not None
    specs, n_train, shared_val, table = _run_specs(model, runs, config, mapper, x.shape[0], xv)
    specs = mapper.put_runs(specs)
    shared = mapper.put_shared(Shared(x, y, xv, yv, *shared_val, jnp.int32(0), schedule=table))
    init, program = epoch_lib.build(model, config, tuple(x.shape[1:]), n_train, mapper,
                                    has_val=has_val)
    return Prepared(init, program, specs, shared, runs, n_train, has_val,
                    metric_names(config, y, has_val))


def _xy(split):
    """``(x, y)`` (x floating; a NumPy x stays on the host until :func:`prepare` places
    it, :func:`~nnjax.train.parallel.host_input`; y a device array) from a Split-like
    object, an ``(x, y)`` pair or a lone ``x`` (:func:`nnjax.train.validate.data.split_xy`)."""
    x, y = split_xy(split)
    if x is None:
        return None, None
    x = host_input(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    if y is not None:
        y = jnp.asarray(y)
    return x, y


def _run_specs(model, runs: Runs, config, mapper, n: int, xv):
    """Stacked :class:`RunSpec` (padded to the mapper's multiple by repeating the last
    run), the training-set size, the shared validation batches and the learning-rate
    schedule's table (or None)."""
    r, eb = runs.size, config.eval_batch_size
    padded = select(runs, np.minimum(np.arange(mapper.multiple(r)), r - 1))
    specs = RunSpec(run_keys(padded.seed),
                    jax.tree.map(jnp.asarray, run_hyper(padded, model, config)))
    if runs.fold is not None:
        tr_idx, va_idx = kfold(n, runs.n_folds, runs.fold_seed)
        vb, vm = index_batches(va_idx.shape[1], min(eb, va_idx.shape[1]))
        specs = specs._replace(train_idx=jnp.asarray(tr_idx[padded.fold]),
                               val_idx=jnp.asarray(va_idx[padded.fold][:, vb]),
                               val_mask=jnp.asarray(np.broadcast_to(vm, (padded.size,) + vm.shape)))
        n, shared_val = tr_idx.shape[1], (None, None)
    elif xv is not None:
        shared_val = tuple(map(jnp.asarray, index_batches(xv.shape[0], min(eb, xv.shape[0]))))
    else:
        shared_val = (None, None)
    table, index = schedule_table(padded, config, n)
    if table is not None:
        specs, table = specs._replace(schedule=jnp.asarray(index)), jnp.asarray(table)
    return specs, n, shared_val, table


def metric_names(config, y, has_val: bool) -> list:
    """The history metrics a run records (see :class:`~nnjax.train.result.FitResult`)."""
    classify = classifies(config, y)
    names = ["train_loss"] + (["train_accuracy"] if classify else [])
    if has_val:
        names += ["val_loss", "val_accuracy" if classify else "val_mse"]
    return names

