"""Train many runs of one model in one compiled program: :func:`fit`.

``fit`` verifies the gradient of the exact objective (float64, manual backward against
``jax.grad``), initialises every run from its seed, then loops in Python over calls of
the jitted program (``config.epochs_per_call`` epochs each: a ``lax.scan`` over
minibatches per epoch, vmapped/chunked/sharded over runs). Between calls it draws the
progress bar, writes checkpoints and ends when every run has stopped.

Example (an MNIST MLP, 15 seeds)::

    >>> from nnjax import layers as L, data
    >>> from nnjax.train import TrainConfig, fit
    >>> ds = data.load("mnist", flatten=True)                         # doctest: +SKIP
    >>> model = L.Sequential(L.Linear(64), L.ReLU(), L.Linear(32), L.ReLU(), L.Linear(10))
    >>> res = fit(model, TrainConfig(epochs=20), ds.train, ds.val, ds.test,  # doctest: +SKIP
    ...           runs=15)
    >>> res.history["val_accuracy"].shape, res.test["accuracy"][res.best_run()]  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from nnjax import distributed
from nnjax.train import automap, compile_cache, program as epoch_lib
from nnjax.train.callbacks import Callbacks
from nnjax.train.check import GradientCheckError, first_run, verify_model  # noqa: F401
from nnjax.train.compact import Compactor
from nnjax.train.config import TrainConfig, config_dict
from nnjax.train.evaluate import evaluate_unchecked
from nnjax.train.parallel import RunMapper, make_mesh, unpad
from nnjax.train.progress import Progress
from nnjax.train import validate
from nnjax.train.result import FitResult
from nnjax.train.runs import as_runs
from nnjax.train.setup import _xy, prepare


def _fingerprint(model, config, runs, shapes) -> np.ndarray:
    desc = json.dumps([model.name, config_dict(config), runs.labels(), shapes], default=str)
    return np.frombuffer(hashlib.sha256(desc.encode()).digest(), np.uint8).copy()


def _select(cond, a, b):
    """Per run: ``a`` where ``cond`` (R,) else ``b`` (stacked pytrees)."""
    return jax.tree.map(
        lambda u, v: jnp.where(cond.reshape((-1,) + (1,) * (u.ndim - 1)), u, v), a, b)


def fit(model, config: TrainConfig, train, val=None, test=None, *, runs=1,
        verify: bool = True, progress: Optional[bool] = None,
        chunk_size: Optional[int] = None, map: str = "auto", devices=None,
        checkpoint: Optional[os.PathLike] = None, checkpoint_every: int = 1,
        compact=True, callbacks=(), test_outputs: bool = False) -> FitResult:
    """Train every run of ``runs`` and return a :class:`~nnjax.train.result.FitResult`.

    Args:
      model: a Layer; config: a :class:`TrainConfig`.
      train, val, test: ``(x, y)`` pairs or Split-like objects (``.x``, ``.y``); ``y`` may
        be None with ``target="input"``. With k-fold runs, pass no ``val``: each run
        validates on its held-out fold of ``train``.
      runs: a seed count, a list of seeds or :func:`~nnjax.train.runs.make_runs` (seeds ×
        hyperparameters × folds); all of them train in one program.
      verify: gradient-check the objective first (manual mode; ~seconds).
      progress: draw a progress bar (default: when stderr is a terminal).
      chunk_size: train that many runs at a time (``lax.map``), to bound memory.
      map: how runs are mapped when ``chunk_size`` is None: ``"auto"`` (measured once per
        program shape and cached, :mod:`nnjax.train.automap`), ``"vmap"``,
        ``"sequential"`` or ``"one_by_one"``; ``info["map"]`` says which ran.
      devices: shard runs over these devices (default ``jax.devices()``, at most one per
        run; one device: no sharding); the run count is padded to a multiple of the
        device count.
      checkpoint: a file; training state is saved there every ``checkpoint_every``
        epochs, and a matching checkpoint found there is resumed from.
      compact: when runs stop, train the live ones in a smaller program when that saves
        more time than compiling it costs (:mod:`nnjax.train.compact`); ``"always"``:
        at every smaller bucket; False keeps every run in the masked program.
      callbacks: objects called after every epoch with every run's metrics
        (:mod:`nnjax.train.callbacks`: ``CSVLogger``, ``TensorBoard``).
      test_outputs: also keep the model outputs the test metrics were computed from
        (``FitResult.test_outputs``, (R, N_test, *out_shape)): no second pass for them.
    """
    compile_cache.enable()
    runs = as_runs(runs)
    validate.fit_args(model, config, runs, train, val, test, chunk_size, checkpoint_every)
    if test_outputs and test is None:
        raise ValueError("fit: test_outputs=True keeps the test set's outputs; pass test data.")
    x, y = _xy(train)
    xv, yv = _xy(val)
    xt, yt = _xy(test)
    r = runs.size
    mesh = make_mesh(devices, runs=r)
    chunk_size, map_info = automap.resolve(map, chunk_size, model=model, config=config, x=x,
                                           y=y, runs=runs, mesh=mesh)
    mapper = RunMapper(chunk_size=chunk_size, mesh=mesh)
    prep = prepare(model, config, runs, x, y, xv, yv, mapper=mapper)
    specs, shared, init = prep.specs, prep.shared, prep.init
    program = automap.wrap(map_info, prep.program, lambda: epoch_lib.build(
        model, config, tuple(x.shape[1:]), prep.n_train, RunMapper(), has_val=prep.has_val)[1])
    info = {"grad": config.grad, "shuffle": config.shuffle, "runs": r, "chunk_size": chunk_size,
            "devices": mapper.n_devices, "config": config_dict(config), "map": map_info}
    carry = init(specs, None)
    if verify and config.grad == "manual":
        first = first_run(distributed.local((carry.train.params, carry.train.model_state)))
        info["gradcheck"] = verify_model(model, config, *first, x, y)
    else:
        info["gradcheck"] = "off" if not verify else "skipped (grad='autodiff')"
    hist = {k: np.full((config.epochs, r), np.nan, np.float32) for k in prep.metric_names}
    start = 0
    fp = _fingerprint(model, config, runs, [list(x.shape), None if y is None else list(y.shape)])
    if checkpoint is not None and distributed.agree(os.path.exists(checkpoint)):
        carry, hist, start = _resume(checkpoint, carry, hist, fp, mapper)
    bar = Progress(config.epochs, r, enabled=progress if distributed.is_writer() else False)
    epoch, times = start, []
    cp = Compactor(carry, specs, r, mapper, enabled=compact, program=program)
    n_calls = 0                       # calls of the current subset's program
    cbs = Callbacks(callbacks if distributed.is_writer() else (), runs)
    active = cp.active()
    while epoch < config.epochs and active.any():
        t0 = time.perf_counter()
        carry, h = program(cp.carry, cp.specs, shared._replace(epoch0=jnp.int32(epoch)))
        cp.advance(carry)
        h = distributed.to_host(h)
        k = min(config.epochs_per_call, config.epochs - epoch)
        cp.record(hist, h, epoch, k)
        cbs.after(hist, epoch, k)
        epoch += k
        active = cp.active()
        times.append((time.perf_counter() - t0, k))
        if checkpoint is not None and (epoch // config.epochs_per_call) % checkpoint_every == 0:
            _save(checkpoint, cp.full(), hist, epoch, fp)
        bar.update(epoch, {n: v[epoch - 1] for n, v in hist.items()}, int(active.sum()))
        n_calls += 1
        if cp.compact(epoch, times[-n_calls:], config.epochs - epoch):
            n_calls = 0
    carry = cp.full()
    cbs.close()
    info["compactions"] = cp.compactions
    stopped = int((~active).sum()) if epoch < config.epochs else 0
    bar.close(f"{r} runs, {epoch} epochs, {sum(t for t, _ in times):.1f} s"
              + (f", {stopped} stopped early or diverged" if stopped else ""))
    if checkpoint is not None and epoch > start:
        _save(checkpoint, carry, hist, epoch, fp)
    info.update(_timing(times))
    return _finish(model, config, carry, hist, runs, mapper, r, (xt, yt), info, test_outputs)


def _timing(times) -> dict:
    if not times:
        return {"first_call_seconds": None, "seconds_per_epoch": None}
    rest = times[1:]
    per = sum(t for t, _ in rest) / max(sum(k for _, k in rest), 1) if rest else None
    return {"first_call_seconds": times[0][0], "seconds_per_epoch": per,
            "train_seconds": sum(t for t, _ in times),
            "call_seconds": [round(t, 4) for t, _ in times]}


def _finish(model, config, carry, hist, runs, mapper, r, test, info, outputs) -> FitResult:
    carry = unpad(distributed.local(carry), r)
    tr, ts = carry.tracker, carry.train
    es = config.early_stopping
    best_epoch = np.asarray(tr.best_epoch)
    params, mstate = ts.params, ts.model_state
    if es is not None and es.restore_best:
        params = _select(tr.best_epoch >= 0, tr.best[0], ts.params)
        mstate = _select(tr.best_epoch >= 0, tr.best[1], ts.model_state)
    else:
        best_epoch = np.full(r, -1, np.int32)
    epochs_run = np.asarray(tr.epochs_run)
    diverged = np.asarray(tr.diverged)
    stopped = ~np.asarray(tr.active) & ~diverged & (epochs_run < config.epochs)
    e_max = int((epochs_run + diverged).max(initial=0))
    history = {k: np.ascontiguousarray(v[:min(e_max, config.epochs)].T) for k, v in hist.items()}
    test_metrics, test_out = {}, None
    if test[0] is not None:
        test_metrics = evaluate_unchecked(model, config, params, mstate, test[0], test[1],
                                          chunk_size=mapper.chunk_size,
                                          devices=_devices(mapper), outputs=outputs)
        test_metrics, test_out = test_metrics if outputs else (test_metrics, None)
        test_metrics = {k: np.where(diverged, np.nan, v) for k, v in test_metrics.items()}
    if diverged.any():
        warnings.warn(f"{int(diverged.sum())} of {r} runs diverged (non-finite training loss):"
                      f" runs {np.flatnonzero(diverged).tolist()} were frozen at their last finite"
                      " state; their test metrics are NaN and summaries exclude them.",
                      RuntimeWarning, stacklevel=3)
    return FitResult(params, mstate, ts, history, test_metrics, best_epoch, epochs_run,
                     stopped, diverged, runs, info, test_outputs=test_out)


def _devices(mapper):
    if mapper.mesh is None or distributed.process_count() > 1:   # gathered: this process's
        return jax.local_devices()[:1 if mapper.mesh is None else None]
    return list(mapper.mesh.devices.ravel())


def _save(path, carry, hist, epoch, fp):
    from nnjax.results import save_checkpoint
    carry = distributed.local(carry)          # every process gathers; process 0 writes
    save_checkpoint(path, {"carry": carry, "hist": hist, "epoch": np.int32(epoch), "fp": fp})


def _resume(path, carry, hist, fp, mapper):
    from nnjax.results import load_checkpoint
    template = {"carry": carry, "hist": hist, "epoch": np.int32(0), "fp": fp}
    got = load_checkpoint(path, template)
    if not np.array_equal(np.asarray(got["fp"]), fp):
        raise ValueError(f"{path}: this checkpoint belongs to another model, config or set of"
                         " runs; delete it or choose another checkpoint path.")
    carry = mapper.put_runs(jax.tree.map(jnp.asarray, got["carry"]))
    hist = {k: np.array(v) for k, v in got["hist"].items()}
    return carry, hist, int(got["epoch"])
