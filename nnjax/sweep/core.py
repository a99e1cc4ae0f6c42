"""Sweeps: static axes looped in Python × vmapped axes in one program, into a result store.

A :class:`Grid` has *static* axes (anything that changes a shape or the code: widths,
depth, batch size, activation, loss; one compilation per point) and *vmapped* axes
(learning rate, momentum, weight decay, noise σ, L1 λ; plus seeds and k-fold folds),
which all train together in one program. For each static point, ``build(point)``
returns a :class:`Problem` (model, config, data); :func:`sweep` trains all its runs with
:func:`nnjax.train.fit` and stores one JSON file per static point, atomically, under
an exclusive claim per point (:mod:`nnjax.sweep.claims`). Re-running skips finished
points, so an interruption loses at most the point in flight, and N workers
(``workers=Workers(i, N)``, ``--shard I/N``) can share one store without training a
point twice.

Example (a grid search: 3 lr × 3 wd × 3 folds, per code size)::

    >>> grid = Grid(static={"code": [4, 8, 16, 32]},
    ...             vmapped={"learning_rate": [1e-2, 1e-3, 1e-4],
    ...                      "weight_decay": [1e-3, 1e-4, 1e-5]}, folds=3)
    >>> records = sweep(lambda p: Problem(conv_ae(p["code"]), cfg, train),   # doctest: +SKIP
    ...                 grid, "runs/conv-grid")
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from nnjax.analysis import stats
from nnjax.train import validate
from nnjax.train.runs import Runs, make_runs


@dataclass(frozen=True)
class Grid:
    """``static``: ``{name: values}`` (Python loop); ``vmapped``: ``{hyper: values}`` (one
    program, names from :func:`nnjax.train.hyperparams.sweepable`); ``seeds``: a count or a list;
    ``folds``: k for randomised k-fold cross-validation (split from ``fold_seed``)."""

    static: Mapping[str, Sequence] = field(default_factory=dict)
    vmapped: Mapping[str, Sequence] = field(default_factory=dict)
    seeds: Union[int, Sequence[int]] = 1
    folds: Optional[int] = None
    fold_seed: int = 0

    def points(self) -> list:
        """Every static point as a dict, in product order (last axis fastest)."""
        names = list(self.static)
        return [dict(zip(names, combo))
                for combo in itertools.product(*(list(self.static[n]) for n in names))]

    def runs(self) -> Runs:
        """The vmapped runs of each point: hyperparameters × folds × seeds."""
        return make_runs(self.seeds, folds=self.folds, fold_seed=self.fold_seed,
                         **{k: list(v) for k, v in self.vmapped.items()})


class Problem(NamedTuple):
    """What ``build(point)`` returns: a model, its TrainConfig and the data splits;
    optionally ``fit_kwargs`` for this point only (e.g. ``verify=False``, ``checkpoint``)
    and ``analyse(result) -> dict``, a measurement of the trained runs (codes, PSNR...)
    stored in the point's record under ``"analysis"``."""

    model: Any
    config: Any
    train: Any
    val: Any = None
    test: Any = None
    fit_kwargs: Optional[Mapping] = None
    analyse: Optional[Callable] = None


def point_key(name: str, point: Mapping) -> str:
    """The store key of a static point, e.g. ``"mlp/width=64,batch_size=128"``."""
    inner = ",".join(f"{k}={_short(v)}" for k, v in point.items())
    return f"{name}/{inner}" if inner else name


def _short(v) -> str:
    return getattr(v, "__name__", None) or (f"{v:g}" if isinstance(v, float) else str(v))


def group_summaries(labels: list, values, by: Sequence[str]) -> list:
    """Summaries of ``values`` (R,) grouped by the run labels ``by`` (pooled over the rest,
    e.g. seeds and folds). Non-finite values (diverged runs) are excluded and counted."""
    values = np.asarray(values, np.float64)
    groups: dict = {}
    for i, lab in enumerate(labels):
        groups.setdefault(tuple(lab.get(k) for k in by), []).append(i)
    return [{**dict(zip(by, g)), **stats.summary(values[idx], n_boot=1000)}
            for g, idx in groups.items()]


def make_record(name: str, point: Mapping, result, grid: Grid) -> dict:
    """The JSON record of one static point: its config, per-run metrics and histories,
    and per-setting summaries (over seeds and folds) of the test and final metrics."""
    rec = result.record()
    labels = rec["runs"]
    by = list(grid.vmapped)
    summaries = {f"test_{k}": group_summaries(labels, v, by) for k, v in result.test.items()}
    summaries.update({f"final_{k}": group_summaries(labels, result.final(k), by)
                      for k in result.history})
    static = {k: v if isinstance(v, (bool, int, float, str, type(None))) else _short(v)
              for k, v in point.items()}
    return {"name": name, "static": static,
            "vmapped": {k: list(v) for k, v in grid.vmapped.items()},
            "seeds": grid.seeds if isinstance(grid.seeds, int) else list(grid.seeds),
            "folds": grid.folds, "fold_seed": grid.fold_seed, **rec, "summary": summaries}


def settings_digest(settings: Mapping) -> str:
    """12 hex digits of the SHA-256 of ``settings`` as canonical JSON (sorted keys)."""
    from nnjax.results import json_digest
    return json_digest(settings, 12)


def sweep(build: Callable[[dict], Problem], grid: Grid, store, *, name: str = "sweep",
          fit_kwargs: Optional[Mapping] = None, save_params: bool = False,
          on_skip: Optional[Callable] = None, settings: Optional[Mapping] = None,
          log: Optional[Callable[[str], None]] = None, epoch_log: Optional[str] = None,
          workers=None) -> list:
    """Train every static point of ``grid`` not yet in ``store``; return all records.

    Args:
      build: ``point -> Problem``; called only for points still to run.
      store: a :class:`nnjax.results.ResultStore` or a folder.
      fit_kwargs: extra arguments of :func:`nnjax.train.fit` (``verify``, ``progress``,
        ``chunk_size``, ``devices``...).
      save_params: also save the returned (best) stacked params and model state beside
        the record (``<record>.params.msgpack``, written before the record).
      settings: everything besides the static point that decides a record (data, model
        arguments, TrainConfig, vmapped values, seeds...), JSON-able. Its digest joins
        each point's key (``<point key>@<digest>``) and it is stored in the record, so a
        changed setting trains again instead of reusing a stale record.
      log: called with one line per point (``"point 2/4, 1 resumed: width=5"``).
      epoch_log: ``"csv"`` or ``"tensorboard"``: every run's metrics after every epoch,
        into :func:`logs_path` of each point (``log.csv``, ``tensorboard/``), through
        :func:`nnjax.train.callbacks.callbacks_from_flag`; None: no log.
      workers: a :class:`nnjax.sweep.claims.Workers` (``--shard I/N``, ``--reclaim``):
        which points this worker trains first; every point trains under an exclusive
        claim, so workers sharing ``store`` never train one twice (default: worker 0/1).
    Raises:
      nnjax.sweep.claims.Pending: when points held by other live workers remain.
    Returns:
      One record per point, in grid order, as read back from the store (lists, not
      arrays: ``np.asarray(record["history"]["val_loss"])``).
    """
    validate.hyper.grid(grid)
    from nnjax.provenance import provenance
    from nnjax.train.callbacks import callbacks_from_flag
    from nnjax.results import ResultStore, save_checkpoint
    from nnjax.sweep.claims import Workers, me, run_points
    from nnjax.train import fit

    store = store if isinstance(store, ResultStore) else ResultStore(store)
    kwargs = dict(fit_kwargs or {})
    suffix = "" if settings is None else "@" + settings_digest(settings)
    points = grid.points()
    count = {"done": 0, "resumed": 0}

    def say(point, what):
        count["done"] += 1
        if log is not None:
            inner = ",".join(f"{k}={_short(v)}" for k, v in point.items()) or "(one point)"
            log(f"point {count['done']}/{len(points)}, {count['resumed']} resumed: {inner}{what}")

    def skipped(key, record):
        count["resumed"] += 1
        say(record.get("static", {}), " (resumed)")
        if on_skip is not None:
            on_skip(key, record)

    def note(point, what):
        if log is not None:
            inner = ",".join(f"{k}={_short(v)}" for k, v in point.items()) or "(one point)"
            log(f"point {inner}: {what}")

    def run_one(point):
        say(point, "")
        wall, cpu = time.perf_counter(), time.process_time()
        problem = build(dict(point))
        key = point_key(name, point) + suffix
        callbacks = callbacks_from_flag(epoch_log, logs_path(store, key))
        result = fit(problem.model, problem.config, problem.train, problem.val, problem.test,
                     runs=grid.runs(), **{**kwargs, **(problem.fit_kwargs or {})},
                     **({"callbacks": callbacks} if callbacks else {}))
        if save_params:
            save_checkpoint(params_path(store, key),
                            {"params": result.params, "model_state": result.model_state})
        record = make_record(name, point, result, grid)
        if problem.analyse is not None:
            record["analysis"] = problem.analyse(result)
        if settings is not None:
            record["settings"] = dict(settings)
        record["provenance"] = {**provenance(wall_seconds=time.perf_counter() - wall,
                                             cpu_seconds=time.process_time() - cpu),
                                "worker": {k: who[k] for k in ("host", "pid", "shard")}}
        return record

    workers = workers or Workers()
    who = me(workers)
    items = [(point_key(name, p) + suffix, p) for p in points]
    by_key = dict(items)
    return run_points(
        store, items, run_one, workers, on_skip=skipped,
        on_held=lambda k, h: note(by_key[k], f"held by {h} (heartbeat {h.age:.0f} s ago),"
                                             " moving on"),
        on_retake=lambda k, old: note(by_key[k], f"retaking the stale claim of"
                                                 f" {old[0].get('host')}:{old[0].get('pid')}"
                                                 f" (heartbeat {old[1]:.0f} s ago)"))


def params_path(store, key: str):
    """Where :func:`sweep` saves the parameters of ``key`` (``save_params=True``)."""
    path = store.path(key)
    return path.with_name(path.name[: -len(".json")] + ".params.msgpack")


def logs_path(store, key: str):
    """The folder of ``key``'s per-epoch log (``sweep(epoch_log=...)``), beside its record."""
    path = store.path(key)
    return path.with_name(path.name[: -len(".json")] + ".log")
