"""Gradients of ``loss(model(x), target)``: the manual backward, or autodiff as a twin.

Both return exactly what ``jax.value_and_grad(objective(model, loss), has_aux=True)``
returns, so training does not care where gradients come from::

    (value, Aux(state, output)), grads = vg(params, state, x, target, key)

``value`` is the mean loss plus any layer penalties; ``state`` is the model's new state
(BatchNorm statistics); ``output`` the model's prediction; ``grads`` has the structure
of ``params``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

from nnjax.layer import Layer
from nnjax.losses import Loss


class Aux(NamedTuple):
    """Auxiliary results of one training step's forward pass."""

    state: Any
    output: jax.Array


def objective(model: Layer, loss: Loss) -> Callable:
    """``f(params, state, x, target, key) -> (value, Aux)``: the training objective
    ``loss.value(model(x), target) + penalties`` in train mode."""

    def f(params, state, x, target, key=None):
        y, new_state, res = model.forward(params, state, x, key=key, train=True)
        value = loss.value(y, target)
        if model.penalty is not None:
            value = value + model.penalty(params, state, res)
        return value, Aux(new_state, y)

    return f


def backprop(model: Layer, loss: Loss) -> Callable:
    """Manual forward → ``loss.grad`` → ``model.backward``: one forward, one backward.

    Same signature and result as :func:`autodiff`; the derivative is the chain of the
    hand-written backward passes: ``grads, _ = model.backward(params, res, ∂loss/∂y)``.
    """

    def vg(params, state, x, target, key=None):
        y, new_state, res = model.forward(params, state, x, key=key, train=True)
        value = loss.value(y, target)
        if model.penalty is not None:
            value = value + model.penalty(params, state, res)
        grads, _ = model.backward(params, res, loss.grad(y, target))
        return (value, Aux(new_state, y)), grads

    return vg


def autodiff(model: Layer, loss: Loss) -> Callable:
    """``jax.value_and_grad(objective(model, loss), has_aux=True)``: the reference twin."""
    return jax.value_and_grad(objective(model, loss), has_aux=True)


def value_and_grad(model: Layer, loss: Loss, grad: str = "manual") -> Callable:
    """``backprop`` for ``grad="manual"`` (default), ``autodiff`` for ``grad="autodiff"``."""
    if grad == "manual":
        return backprop(model, loss)
    if grad == "autodiff":
        return autodiff(model, loss)
    raise ValueError(f"grad must be 'manual' or 'autodiff', got {grad!r}.")
