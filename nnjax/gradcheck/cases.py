"""Every built-in layer, loss and a few whole models, as gradient-check cases.

``nnjax gradcheck`` and the test suite run :func:`run_all` over these lists, so a new
built-in is covered by adding one line here.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from nnjax import layers as L
from nnjax import losses
from nnjax.gradcheck.checks import CheckResult, check_layer, check_loss


class LayerCase(NamedTuple):
    name: str
    make: Callable[[], L.Layer]
    in_shape: tuple
    train: bool = False
    batch: int = 3


class LossCase(NamedTuple):
    name: str
    loss: losses.Loss
    make_inputs: Callable  # key -> (pred, target)


def _conv_cases():
    return [
        LayerCase("Conv2D(4, k3, s1, p1)", lambda: L.Conv2D(4, 3, 1, 1), (6, 6, 2)),
        LayerCase("Conv2D(3, k3, s2, p1) odd 7x9", lambda: L.Conv2D(3, 3, 2, 1), (7, 9, 2)),
        LayerCase("Conv2D(2, k2, s3, p0)", lambda: L.Conv2D(2, 2, 3, 0), (8, 7, 3)),
        LayerCase("Conv2D(2, k(3,1), s(1,2), p(1,0))", lambda: L.Conv2D(2, (3, 1), (1, 2), (1, 0)), (5, 6, 2)),
        LayerCase("ConvTranspose2D(3, k3, s2, p1, op1)", lambda: L.ConvTranspose2D(3, 3, 2, 1, 1), (4, 5, 2)),
        LayerCase("ConvTranspose2D(2, k2, s2, p0)", lambda: L.ConvTranspose2D(2, 2, 2, 0), (3, 3, 3)),
        LayerCase("ConvTranspose2D(2, k3, s1, p0)", lambda: L.ConvTranspose2D(2, 3, 1, 0), (4, 4, 1)),
        LayerCase("MaxPool2D(2)", lambda: L.MaxPool2D(2), (6, 6, 2)),
        LayerCase("MaxPool2D(3, s2, p1) odd", lambda: L.MaxPool2D(3, 2, 1), (7, 5, 2)),
    ]


def layer_cases() -> list[LayerCase]:
    """One case per built-in layer and mode (conv cases once conv layers exist)."""
    return [
        LayerCase("Linear(5)", lambda: L.Linear(5), (4,)),
        LayerCase("Linear(5, no bias)", lambda: L.Linear(5, use_bias=False), (4,)),
        LayerCase("ReLU", L.ReLU, (7,)),
        LayerCase("LeakyReLU(0.1)", lambda: L.LeakyReLU(0.1), (7,)),
        LayerCase("Sigmoid", L.Sigmoid, (7,)),
        LayerCase("Tanh", L.Tanh, (7,)),
        LayerCase("Softmax", L.Softmax, (7,)),
        LayerCase("Dropout(0.3) train", lambda: L.Dropout(0.3), (7,), train=True),
        LayerCase("Dropout(0.3) eval", lambda: L.Dropout(0.3), (7,)),
        LayerCase("BatchNorm (N,C) train", L.BatchNorm, (5,), train=True, batch=6),
        LayerCase("BatchNorm (N,C) eval", L.BatchNorm, (5,)),
        LayerCase("BatchNorm (N,H,W,C) train", L.BatchNorm, (4, 3, 2), train=True),
        LayerCase("BatchNorm (N,H,W,C) eval", L.BatchNorm, (4, 3, 2)),
        LayerCase("ActivityL1(0.1)", lambda: L.ActivityL1(0.1), (6,)),
        # per-run hyperparameters (L.hyper): the traced form, read from state
        LayerCase("Dropout(hyper 0.3) train", lambda: L.Dropout(L.hyper("p", 0.3)), (7,), train=True),
        LayerCase("LeakyReLU(hyper 0.1)", lambda: L.LeakyReLU(L.hyper("a", 0.1)), (7,)),
        LayerCase("ActivityL1(hyper 0.1)", lambda: L.ActivityL1(L.hyper("lam", 0.1)), (6,)),
        LayerCase("GaussianNoise(0.2) train", lambda: L.GaussianNoise(0.2), (6,), train=True),
        LayerCase("GaussianNoise(hyper 0.2) train", lambda: L.GaussianNoise(L.hyper("s", 0.2)),
                  (6,), train=True),
        LayerCase("Flatten", L.Flatten, (3, 4, 2)),
        LayerCase("Reshape(4, 6)", lambda: L.Reshape((4, 6)), (3, 4, 2)),
        *_conv_cases(),
    ]


def loss_cases() -> list[LossCase]:
    """Every loss, with integer and soft targets and saturated logits (±1e4)."""
    def normal(shape):
        return lambda k: jax.random.normal(k, shape)

    def labels(k):
        k1, k2 = jax.random.split(k)
        return jax.random.normal(k1, (5, 4)), jax.random.randint(k2, (5,), 0, 4)

    def soft(k):
        k1, k2 = jax.random.split(k)
        return jax.random.normal(k1, (5, 4)), jax.nn.softmax(jax.random.normal(k2, (5, 4)))

    def huge(k):
        k1, k2 = jax.random.split(k)
        return 1e4 * jnp.sign(jax.random.normal(k1, (5, 4))), jax.random.randint(k2, (5,), 0, 4)

    def bce(scale):
        def make(k):
            k1, k2 = jax.random.split(k)
            return scale * jax.random.normal(k1, (5, 6)), jax.random.uniform(k2, (5, 6))
        return make

    return [
        LossCase("mse", losses.mse, lambda k: (normal((5, 6))(k), normal((5, 6))(jax.random.fold_in(k, 1)))),
        LossCase("softmax_cross_entropy (labels)", losses.softmax_cross_entropy, labels),
        LossCase("softmax_cross_entropy (soft targets)", losses.softmax_cross_entropy, soft),
        LossCase("softmax_cross_entropy (logits ±1e4)", losses.softmax_cross_entropy, huge),
        LossCase("binary_cross_entropy", losses.binary_cross_entropy, bce(2.0)),
        LossCase("binary_cross_entropy (logits ~±1e4)", losses.binary_cross_entropy, bce(1e4)),
    ]


def model_cases() -> list[LayerCase]:
    """Whole Sequential models mixing every kind, in train mode (BatchNorm, Dropout)."""
    return [
        LayerCase("MLP: Linear-BN-ReLU-Dropout-Linear-Tanh-Linear-Softmax", lambda: L.Sequential(
            L.Linear(8), L.BatchNorm(), L.ReLU(), L.Dropout(0.25), L.Linear(6), L.Tanh(),
            L.Linear(4), L.Softmax()), (5,), train=True, batch=6),
        LayerCase("sparse AE: Linear-LeakyReLU-L1-Linear-Sigmoid", lambda: L.Sequential(
            L.Linear(3), L.LeakyReLU(), L.ActivityL1(0.05), L.Linear(9), L.Sigmoid()),
            (9,), train=True),
        LayerCase("conv AE: Conv-BN-ReLU-MaxPool-Flatten-Linear-Reshape-ConvT-Sigmoid",
                  lambda: L.Sequential(
                      L.Conv2D(3, 3, 1, 1), L.BatchNorm(), L.ReLU(), L.MaxPool2D(2),
                      L.Flatten(), L.Linear(4), L.Linear(27), L.Reshape((3, 3, 3)),
                      L.ConvTranspose2D(2, 3, 2, 1, 1), L.Sigmoid()),
                  (6, 6, 1), train=True, batch=2),
    ]


def run_layer_case(case: LayerCase, key=None) -> CheckResult:
    return check_layer(case.make(), case.in_shape, train=case.train, batch=case.batch,
                       key=key, name=case.name)


def run_loss_case(case: LossCase, key=None) -> CheckResult:
    key = jax.random.key(0) if key is None else key
    with jax.enable_x64(True):
        pred, target = case.make_inputs(key)
    return check_loss(case.loss, pred, target, name=case.name)


def run_all(only: Optional[str] = None):
    """Yield (section, CheckResult) for every case whose name contains ``only``."""
    sections = (("layer", layer_cases(), run_layer_case), ("loss", loss_cases(), run_loss_case),
                ("model", model_cases(), run_layer_case))
    for section, cases, run in sections:
        for case in cases:
            if only is None or only.lower() in case.name.lower():
                yield section, run(case)
