"""The "Neural Networks" report's gradient faults, rebuilt as :class:`nnjax.losses.Loss`
objects so that a deviation test can train with them (REFERENCE.md, "known faults").

* :data:`damped_softmax_cross_entropy`: its softmax backward keeps only the Jacobian's
  diagonal ``p(1 − p)`` and its cross-entropy gradient (already ``p − onehot``) is pushed
  through it again, so the gradient reaching the logits is ``(p − y) ⊙ p ⊙ (1 − p) / N``.
  The value is the ordinary mean cross-entropy (what it reported); only the gradient is
  the source's. Not the derivative of its value: train it with ``verify=False``.
* :func:`batch_sum`: a loss whose gradient is not divided by the batch size (its MSE,
  and the ``ŷ − y`` cross-entropy gradient its report states), i.e. ``N ×`` the mean's
  gradient: the loss of a batch *sum* with the value of the mean.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from nnjax import losses


def _damped_grad(logits, target):
    """``(softmax − onehot) ⊙ p(1 − p) / N``: the exact gradient times the diagonal of the
    softmax Jacobian (logits and result (N, K); integer labels (N,) or one-hot (N, K))."""
    exact = losses.softmax_cross_entropy.grad(logits, target)       # (p − y) / N
    p = jax.nn.softmax(logits, axis=-1)
    return exact * p * (1.0 - p)


damped_softmax_cross_entropy = losses.Loss(
    losses.softmax_cross_entropy.value, _damped_grad, "source_damped_softmax_cross_entropy")


def batch_sum(loss: losses.Loss) -> losses.Loss:
    """``loss`` with its gradient multiplied by the batch size ``N = pred.shape[0]``: the
    gradient of the batch's summed per-example loss (value unchanged, the mean)."""
    def grad(pred, target):
        return loss.grad(pred, target) * jnp.asarray(pred.shape[0], pred.dtype)
    return losses.Loss(loss.value, grad, f"{loss.name}_batch_sum_gradient")
