"""Fully connected layer."""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nnjax.layer import Layer, check_input, check_positive


class LinearParams(NamedTuple):
    """``w``: (in, out) so that ``y = x w + b``; ``b``: (out,)."""

    w: jax.Array
    b: jax.Array


def Linear(out_features: int, *, use_bias: bool = True, name: str = "Linear") -> Layer:
    """``y = x W + b`` for x of shape (N, in), W (in, out), b (out,) → y (N, out).

    Backward (textbook): ``dW = xᵀ dy``, ``db = Σ_n dy``, ``dx = dy Wᵀ``.
    Init as PyTorch's ``nn.Linear``: W, b ~ U(−1/√in, 1/√in).
    Without bias, ``params.b`` is an empty (0,) array and ``db`` is empty too.
    """
    check_positive(name, "out_features", out_features)
    label = f"{name}({out_features})"

    def init(key, in_shape):
        if len(in_shape) != 1:
            raise ValueError(
                f"{label}: expects flat input features (in_shape of rank 1), got in_shape"
                f" {tuple(in_shape)}; put a Flatten() before it."
            )
        check_positive(label, "in_features", in_shape[0])
        fan_in = in_shape[0]
        bound = 1.0 / jnp.sqrt(fan_in)
        kw, kb = jax.random.split(key)
        w = jax.random.uniform(kw, (fan_in, out_features), minval=-bound, maxval=bound)
        b = (jax.random.uniform(kb, (out_features,), minval=-bound, maxval=bound)
             if use_bias else jnp.zeros((0,)))
        return LinearParams(w, b), (), (out_features,)

    def forward(params, state, x, *, key=None, train=False):
        check_input(label, params.w.shape[:1], x)
        y = x @ params.w
        if use_bias:
            y = y + params.b[None, :]
        return y, state, x

    def backward(params, x, dy):
        dw = x.T @ dy
        db = jnp.sum(dy, axis=0) if use_bias else jnp.zeros_like(params.b)
        dx = dy @ params.w.T
        return LinearParams(dw, db), dx

    return Layer(init, forward, backward, name=label)
