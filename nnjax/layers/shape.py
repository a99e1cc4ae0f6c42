"""Shape-only layers: Flatten and Reshape (no parameters, no state)."""
from __future__ import annotations

import math

import jax.numpy as jnp

from nnjax.layer import Layer, check_positive


def _shape_carrier(x):
    """A zero-element array of shape (0, *x.shape[1:]): carries the input's shape through
    jit / vmap / custom_vjp as a residual (Python ints would become traced values)."""
    return jnp.zeros((0,) + tuple(x.shape[1:]), x.dtype)


def Reshape(target_shape, *, name: str = "Reshape") -> Layer:
    """(N, *in_shape) → (N, *target_shape), same number of elements;
    ``dx = reshape(dy, (N, *in_shape))``."""
    target_shape = tuple(target_shape)
    check_positive(name, "every target dimension", target_shape)
    label = f"{name}{target_shape}"

    def init(key, in_shape):
        if math.prod(in_shape) != math.prod(target_shape):
            raise ValueError(
                f"{label}: cannot reshape in_shape {tuple(in_shape)} ({math.prod(in_shape)}"
                f" elements) to {target_shape} ({math.prod(target_shape)} elements)."
            )
        return (), (), target_shape

    def forward(params, state, x, *, key=None, train=False):
        if math.prod(x.shape[1:]) != math.prod(target_shape):
            raise ValueError(
                f"{label}: input of shape {tuple(x.shape)} has {math.prod(x.shape[1:])}"
                f" elements per example, need {math.prod(target_shape)}."
            )
        return x.reshape((x.shape[0],) + target_shape), state, _shape_carrier(x)

    def backward(params, carrier, dy):
        return (), dy.reshape((dy.shape[0],) + carrier.shape[1:])

    return Layer(init, forward, backward, name=label)


def Flatten() -> Layer:
    """(N, *in_shape) → (N, prod(in_shape)); ``dx = reshape(dy, x.shape)``."""

    def init(key, in_shape):
        check_positive("Flatten", "every input dimension", tuple(in_shape))
        return (), (), (math.prod(in_shape),)

    def forward(params, state, x, *, key=None, train=False):
        if x.ndim < 2:
            raise ValueError(f"Flatten: expected a batch-first input of rank ≥ 2, got shape {tuple(x.shape)}.")
        return x.reshape(x.shape[0], -1), state, _shape_carrier(x)

    def backward(params, carrier, dy):
        return (), dy.reshape((dy.shape[0],) + carrier.shape[1:])

    return Layer(init, forward, backward, name="Flatten")
