"""Losses as ``Loss(value, grad)`` pairs: the value and its hand-derived gradient.

``value(pred, target) -> scalar`` is a mean: over all elements for :func:`mse` and
:func:`binary_cross_entropy` (PyTorch's ``reduction="mean"``), over the batch for
:func:`softmax_cross_entropy`. ``grad(pred, target) -> dpred`` is ``∂value/∂pred``, so the
``1/N`` of the mean lives here, not in the optimizer.

Example::

    >>> import jax.numpy as jnp
    >>> from nnjax import losses
    >>> logits, labels = jnp.zeros((4, 10)), jnp.array([0, 1, 2, 3])
    >>> float(losses.softmax_cross_entropy.value(logits, labels))  # log(10)
    2.302585...
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Loss(NamedTuple):
    """``value(pred, target) -> scalar`` and ``grad(pred, target) -> ∂value/∂pred``."""

    value: Callable
    grad: Callable
    name: str = "loss"


def _check_same_shape(name, pred, target):
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction shape {tuple(pred.shape)} and target shape"
            f" {tuple(target.shape)} differ; they must be equal."
        )


# --- mean squared error -----------------------------------------------------------
def _mse_value(pred, target):
    _check_same_shape("mse", pred, target)
    return jnp.mean((pred - target) ** 2)


def _mse_grad(pred, target):
    """``d/dpred mean((pred − t)²) = 2 (pred − t) / numel``."""
    _check_same_shape("mse", pred, target)
    return 2.0 * (pred - target) / pred.size


mse = Loss(_mse_value, _mse_grad, "mse")
"""Mean squared error over all elements; ``dpred = 2 (pred − target) / numel``."""


# --- softmax cross-entropy on logits -----------------------------------------------
def _targets(logits, target):
    """Integer labels (N,) → one-hot (N, K); one-hot/soft targets (N, K) pass through."""
    if logits.ndim != 2:
        raise ValueError(
            f"softmax_cross_entropy: logits must be (batch, classes), got {tuple(logits.shape)}."
        )
    if target.ndim == 1 and jnp.issubdtype(target.dtype, jnp.integer):
        if target.shape[0] != logits.shape[0]:
            raise ValueError(
                f"softmax_cross_entropy: {target.shape[0]} labels for {logits.shape[0]} logits rows."
            )
        _check_labels(target, logits.shape[1])
        return jax.nn.one_hot(target, logits.shape[1], dtype=logits.dtype)
    _check_same_shape("softmax_cross_entropy", logits, target)
    return target.astype(logits.dtype)


def _check_labels(labels, n_classes):
    """Labels outside [0, K) are an error (concrete arrays only; traced ones can't be checked)."""
    if isinstance(labels, jax.core.Tracer):
        return
    labels = np.asarray(labels)  # host-side: jnp.min of a closed-over array under jit is traced
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= n_classes:
        raise ValueError(
            f"softmax_cross_entropy: labels must lie in [0, {n_classes}) for {n_classes}"
            f" logits per row; found labels in [{lo}, {hi}]."
        )


def _xent_value(logits, target):
    t = _targets(logits, target)
    log_p = jax.nn.log_softmax(logits, axis=-1)  # z − logsumexp(z), stable for |z| ~ 1e4
    return -jnp.sum(t * log_p) / logits.shape[0]


def _xent_grad(logits, target):
    """``dlogits = (softmax(z)·Σ_k t_k − t) / N`` (``= (p − onehot(y)) / N`` for labels)."""
    t = _targets(logits, target)
    p = jax.nn.softmax(logits, axis=-1)
    return (p * jnp.sum(t, axis=-1, keepdims=True) - t) / logits.shape[0]


softmax_cross_entropy = Loss(_xent_value, _xent_grad, "softmax_cross_entropy")
"""Cross-entropy of softmax(logits) against integer labels (N,) or targets (N, K), mean
over the batch; ``dlogits = (softmax(z) − onehot(y)) / N``."""


# --- binary cross-entropy on logits --------------------------------------------------
def _bce_value(logits, target):
    """``mean(softplus(z) − t·z)`` = ``−mean(t log σ(z) + (1−t) log(1−σ(z)))``, stably."""
    _check_same_shape("binary_cross_entropy", logits, target)
    return jnp.mean(jax.nn.softplus(logits) - target * logits)


def _bce_grad(logits, target):
    """``dz = (σ(z) − t) / numel``."""
    _check_same_shape("binary_cross_entropy", logits, target)
    return (jax.nn.sigmoid(logits) - target) / logits.size


binary_cross_entropy = Loss(_bce_value, _bce_grad, "binary_cross_entropy")
"""Binary cross-entropy on logits with targets in [0, 1], mean over all elements
(``torch.nn.BCEWithLogitsLoss``); ``dz = (σ(z) − t) / numel``."""


# --- L1 activity penalty --------------------------------------------------------------
def l1_penalty(z, strength):
    """``strength · Σ|z| / N`` for codes ``z`` of shape (N, ...): Keras' ``l1`` activity
    regulariser (summed over units, averaged over the batch). Written ``sign(z)·z`` so that
    jax.grad takes the subgradient 0 at z = 0, as :func:`l1_penalty_grad` does (jax.grad of
    ``jnp.abs`` takes 1 there: ReLU codes sit at 0 often)."""
    return strength * jnp.sum(jax.lax.stop_gradient(jnp.sign(z)) * z) / z.shape[0]


def l1_penalty_grad(z, strength):
    """``d/dz = strength · sign(z) / N`` (subgradient 0 at z = 0)."""
    return strength * jnp.sign(z) / z.shape[0]


LOSSES = {loss.name: loss for loss in (mse, softmax_cross_entropy, binary_cross_entropy)}


def get(name: str) -> Loss:
    """Look a loss up by name (``"mse"``, ``"softmax_cross_entropy"``, ``"binary_cross_entropy"``)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}.") from None
