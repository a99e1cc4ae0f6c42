"""nnjax: neural networks from first principles in JAX.

Every layer carries a hand-derived backward pass proven against ``jax.vjp``; training
runs on Optax; multi-seed sweeps compile into one vmapped program.

Subpackages: ``layers`` (the built-in layers), ``gradcheck`` (proving a backward),
``train`` (the engine: ``fit``), ``sweep`` (grids of runs, resumable), ``analysis``
(statistics and figures), ``data`` (datasets and corruptions).
"""
from nnjax import layers, losses
from nnjax.backprop import Aux, autodiff, backprop, objective, value_and_grad
from nnjax.layer import Layer, Sequential, ShapeError, as_function
from nnjax.losses import Loss
from nnjax.train import EarlyStopping, FitResult, TrainConfig, evaluate, fit, make_runs, predict
from nnjax.sweep import Grid

__version__ = "0.1.0"
