"""nnjax: neural networks from first principles in JAX.

Every layer carries a hand-derived backward pass proven against ``jax.vjp``; training
runs on Optax; multi-seed sweeps compile into one vmapped program.
"""
from nnjax import layers, losses
from nnjax.backprop import Aux, autodiff, backprop, objective, value_and_grad
from nnjax.layer import Layer, Sequential, ShapeError, as_function
from nnjax.losses import Loss
from nnjax.config import TrainConfig, gaussian_noise
from nnjax.early_stopping import EarlyStopping
from nnjax.runs import make_runs
from nnjax.train import evaluate, fit, predict
from nnjax.sweep import Grid, sweep

__version__ = "0.1.0"
