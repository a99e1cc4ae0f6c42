"""Activity regularisers: identity layers that add a penalty to the objective."""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nnjax.layer import Layer
from nnjax.losses import l1_penalty, l1_penalty_grad


class L1State(NamedTuple):
    """The penalty strength λ, kept in ``state`` so a sweep can vmap over it."""

    strength: jax.Array


def ActivityL1(strength: float = 1e-4, *, name: str = "ActivityL1") -> Layer:
    """Identity ``y = x`` that adds ``λ·Σ|x|/N`` to the objective (a sparse autoencoder's
    code penalty, Keras' ``activity_regularizer=l1(λ)``).

    Backward: ``dx = dy + λ·sign(x)/N`` — the penalty's gradient is part of the manual
    backward. λ lives in ``state`` (``L1State``) so sweeps can trace and vmap it.
    Shapes: (N, ...) → same.
    """
    if not strength >= 0:
        raise ValueError(f"{name}: strength must be ≥ 0, got {strength!r}.")

    def init(key, in_shape):
        return (), L1State(jnp.asarray(strength, jnp.float32)), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        return x, state, (x, state.strength)

    def backward(params, res, dy):
        x, lam = res
        return (), dy + l1_penalty_grad(x, lam).astype(dy.dtype)

    def penalty(params, state, res):
        x, lam = res
        return l1_penalty(x, lam)

    return Layer(init, forward, backward, name=f"{name}({strength:g})", penalty=penalty)
