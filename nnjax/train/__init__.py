"""The training engine: one public face.

``fit`` trains every run of a sweep (seeds × per-run numbers × folds) in one compiled
program; ``evaluate`` and ``predict`` apply stacked parameters; ``TrainConfig``,
``EarlyStopping`` and ``make_runs`` describe what to train. The submodules are the
engine's parts: ``config`` (frozen settings), ``runs`` (the run axis: seeds, swept
numbers, folds), ``optim`` (Optax transforms with traced hyperparameters), ``program``
(the scanned epoch and the mapping over runs), ``parallel`` (vmap / chunks / devices),
``early_stopping``, ``evaluate``, ``progress``, ``result`` and ``fit`` (the host loop).
"""
from nnjax.train.config import TrainConfig
from nnjax.train.early_stopping import EarlyStopping
from nnjax.train.evaluate import evaluate, predict
from nnjax.train.fit import GradientCheckError, fit
from nnjax.train.result import FitResult
from nnjax.train.runs import Runs, kfold, make_runs

__all__ = ["TrainConfig", "EarlyStopping", "evaluate", "predict", "GradientCheckError", "fit",
           "FitResult", "Runs", "kfold", "make_runs"]
