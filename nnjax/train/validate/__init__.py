"""Refuse input that would train silently wrong, on the host, before anything compiles.

The engine calls one function where each kind of input enters (one-line hooks):

* :func:`fit_args`, :func:`evaluate_args`, :func:`predict_args`: the data (see
  :mod:`.data`) and, for fit, the runs;
* :func:`hyper.config`, :func:`hyper.early_stopping`, :func:`hyper.runs_args`,
  :func:`hyper.kfold_args`, :func:`hyper.grid`: hyperparameters where they are set (see
  :mod:`.hyper`).

Errors are ``ValueError`` (a value out of range) or ``TypeError`` (a wrong kind of
thing); each names the argument, what was found, what is allowed and how to fix it.
Nothing here is traced or compiled (the model's shapes come from ``jax.eval_shape``);
the cost is a pass over each array on the host, small next to one epoch
(``python -m benchmarks.validate_cost``).

Example::

    >>> import numpy as np
    >>> from nnjax import layers as L
    >>> from nnjax.train import TrainConfig, fit
    >>> x = np.zeros((8, 4), np.float32)
    >>> fit(L.Sequential(L.Linear(3)), TrainConfig(batch_size=4), (x, np.arange(8)))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: fit: train labels (y): 5 labels lie outside [0, 3) for a model with 3 outputs ...
"""
from __future__ import annotations

import jax
import numpy as np

from nnjax.train.validate import data, hyper
from nnjax.train.validate.hyper import HyperparameterWarning

__all__ = ["fit_args", "evaluate_args", "predict_args", "data", "hyper", "HyperparameterWarning"]


def _config(where, config):
    from nnjax.train.config import TrainConfig
    if not isinstance(config, TrainConfig):
        raise TypeError(f"{where}: config must be a TrainConfig, got {type(config).__name__}.")


def _split(where, name, split):
    try:
        return data.split_xy(split)
    except ValueError as e:
        raise ValueError(f"{where}: {name}: {e}; pass (x, y), a Split or x alone.") from None


def _check_split(where, name, config, out, x, y, in_shape=None, xa=None):
    """Inputs (unless ``xa``, already checked) and targets of one split against the
    model's output shape ``out``."""
    xa = data.inputs(x, f"{where}: {name} inputs (x)") if xa is None else xa
    if in_shape is not None and xa.shape[1:] != tuple(in_shape):
        raise ValueError(f"{where}: {name} inputs have per-example shape {xa.shape[1:]} but the"
                         f" training inputs have {tuple(in_shape)}; every split must share it.")
    loss = config.loss.name
    if config.target == "input":
        ny = None if y is None else (np.shape(y)[0] if np.ndim(y) else 0)
        if ny is not None and ny != xa.shape[0]:          # unused here, but a mistake
            raise ValueError(f"{where}: {name} has {xa.shape[0]} inputs but {ny} targets;"
                             " pass x alone for target='input'.")
        data.targets(xa, out, loss, f"{where}: {name} inputs (x), the targets of"
                     " target='input'", xa.shape[0])
    elif y is None:
        raise ValueError(f"{where}: target='labels' needs {'training' if name == 'train' else name} labels (y); pass (x, y), or"
                         " use TrainConfig(target='input') for an autoencoder.")
    else:
        data.targets(y, out, loss, f"{where}: {name} labels (y)", xa.shape[0])
    return xa


def fit_args(model, config, runs, train, val=None, test=None, chunk_size=None,
             checkpoint_every=1) -> None:
    """Everything :func:`~nnjax.train.fit` is given, checked before it builds anything."""
    _config("fit", config)
    hyper.runs("fit", runs)
    hyper.positive_int("fit", "chunk_size", chunk_size, optional=True)
    hyper.positive_int("fit", "checkpoint_every", checkpoint_every)
    x, y = _split("fit", "train", train)
    xa = data.inputs(x, "fit: train inputs (x)")
    out, _ = data.model_output_shape(model, xa.shape[1:], "fit")
    _check_split("fit", "train", config, out, None, y, xa=xa)
    n = xa.shape[0] - (xa.shape[0] // runs.n_folds if runs.fold is not None else 0)
    if config.batch_size > n:
        raise ValueError(f"fit: batch_size={config.batch_size} exceeds the {n} training examples"
                         f"{' of each fold' if runs.fold is not None else ''}. Fix:"
                         f" TrainConfig(batch_size=...) ≤ {n}, or more data.")
    if runs.fold is not None and val is not None:
        raise ValueError("fit: k-fold runs validate on their held-out fold; pass val=None.")
    for name, split in (("val", val), ("test", test)):
        if split is not None:
            _check_split("fit", name, config, out, *_split("fit", name, split), xa.shape[1:])
    _monitor(config, y, has_val=runs.fold is not None or val is not None)


def _monitor(config, y, has_val: bool) -> None:
    """Early stopping watches a metric the run records."""
    es = config.early_stopping
    if es is None:
        return
    from nnjax.train.setup import metric_names
    names = metric_names(config, y, has_val)
    if es.monitor not in names:
        raise ValueError(
            f"EarlyStopping.monitor={es.monitor!r} is not recorded by this run; it records"
            f" {names} (val_* need validation data or folds).")


def _stacked(where, name, tree, expected, in_shape) -> int:
    """``tree`` must be ``expected`` (one run's ShapeDtypeStructs) stacked on axis 0: (R, ...)."""
    got, got_def = jax.tree.flatten(tree)
    exp, exp_def = jax.tree.flatten(expected)
    fix = (f" Pass the stacked {name} of fit's result (FitResult.{name if name == 'params' else 'model_state'})"
           f" for inputs of per-example shape {tuple(in_shape)}.")
    if got_def != exp_def:
        raise ValueError(f"{where}: {name} do not have this model's structure ({len(got)} arrays,"
                         f" expected {len(exp)} laid out as the model's init returns them).{fix}")
    runs = set()
    for i, (g, e) in enumerate(zip(got, exp)):
        shape = tuple(np.shape(g))
        if shape == tuple(e.shape):
            raise ValueError(f"{where}: {name} hold one run (array {i} has shape {shape}); they"
                             " must be stacked over runs, (R, ...). Fix: jax.tree.map(lambda a:"
                             f" a[None], {name}) for a single run.")
        if shape[1:] != tuple(e.shape) or len(shape) != len(e.shape) + 1:
            raise ValueError(f"{where}: {name} array {i} has shape {shape}; this model on inputs"
                             f" {tuple(in_shape)} needs (R, {', '.join(map(str, e.shape))}).{fix}")
        runs.add(shape[0])
    if len(runs) > 1:
        raise ValueError(f"{where}: {name} arrays disagree on the run count: {sorted(runs)}.")
    return runs.pop() if runs else 0


def evaluate_args(model, config, params, state, x, y=None) -> None:
    """:func:`~nnjax.train.evaluate`'s data and stacked parameters."""
    _config("evaluate", config)
    xa = data.inputs(x, "evaluate: x")
    out, (p_exp, s_exp) = data.model_output_shape(model, xa.shape[1:], "evaluate")
    r = _stacked("evaluate", "params", params, p_exp, xa.shape[1:])
    if r == 0:
        raise ValueError("evaluate: this model has no parameters to stack; evaluate needs at"
                         " least one array to know the run count.")
    _stacked("evaluate", "state", state, s_exp, xa.shape[1:])
    _check_split("evaluate", "the", config, out, None, y, xa=xa)


def predict_args(model, params, state, x, batch_size) -> None:
    """:func:`~nnjax.train.predict`'s inputs and stacked parameters."""
    hyper.positive_int("predict", "batch_size", batch_size)
    xa = data.inputs(x, "predict: x")
    _, (p_exp, s_exp) = data.model_output_shape(model, xa.shape[1:], "predict")
    if _stacked("predict", "params", params, p_exp, xa.shape[1:]) == 0:
        raise ValueError("predict: this model has no parameters to stack; predict needs at"
                         " least one array to know the run count.")
    _stacked("predict", "state", state, s_exp, xa.shape[1:])
