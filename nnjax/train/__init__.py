"""The training engine: one public face.

``fit`` trains every run of a sweep (seeds × per-run numbers × folds) in one compiled
program; ``evaluate`` and ``predict`` apply stacked parameters; ``TrainConfig``,
``EarlyStopping``, ``Optimizer``, ``Schedule`` and ``make_runs`` describe what to train;
``sweepable(model, config)`` lists the per-run numbers. The submodules are the engine's
parts: ``config`` (frozen settings), ``runs`` (the run axis: seeds, swept numbers, folds),
``hyperparams`` (which numbers are per run), ``optim`` (Optax transforms with traced
hyperparameters, schedules), ``setup`` (what ``fit`` and the benchmark compile),
``program`` (the scanned epoch and the mapping over runs), ``cache`` (programs cached by
content), ``permute`` (the sort-free shuffle), ``parallel`` (vmap / chunks / devices),
``compact`` (stopped runs leave the program), ``callbacks``, ``compile_cache``,
``early_stopping``, ``evaluate``, ``progress``, ``result`` and ``fit`` (the host loop).
"""
from nnjax.train.config import TrainConfig
from nnjax.train.early_stopping import EarlyStopping
from nnjax.train.evaluate import evaluate, predict
from nnjax.train.fit import GradientCheckError, fit
from nnjax.train.hyperparams import sweepable
from nnjax.train.optim import Optimizer, Schedule
from nnjax.train.result import FitResult
from nnjax.train.runs import Runs, kfold, make_runs

__all__ = ["TrainConfig", "EarlyStopping", "evaluate", "predict", "GradientCheckError", "fit",
           "FitResult", "Runs", "kfold", "make_runs", "Optimizer", "Schedule", "sweepable"]
