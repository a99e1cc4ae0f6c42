"""Activity regularisers: identity layers that add a penalty to the objective."""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nnjax.layer import Layer
from nnjax.layers import hyperparam as hp
from nnjax.losses import l1_penalty, l1_penalty_grad


class L1State(NamedTuple):
    """The penalty strength λ, kept in ``state`` so a sweep can vmap over it."""

    strength: jax.Array


def ActivityL1(strength=1e-4, *, name: str = "ActivityL1") -> Layer:
    """Identity ``y = x`` that adds ``λ·Σ|x|/N`` to the objective (a sparse autoencoder's
    code penalty, Keras' ``activity_regularizer=l1(λ)``).

    Backward: ``dx = dy + λ·sign(x)/N`` — the penalty's gradient is part of the manual
    backward. λ lives in ``state`` (``L1State``, set by a sweep's ``l1`` axis) so sweeps
    can trace and vmap it; ``strength=L.hyper("l1_code", 1e-4)`` keeps it as a
    :class:`~nnjax.layers.hyperparam.HyperValue` instead, its own sweep axis.
    Shapes: (N, ...) → same.
    """
    default, hname = hp.resolve(strength, f"{name}: strength")
    if not default >= 0:
        raise ValueError(f"{name}: strength must be ≥ 0, got {default!r}.")

    def init(key, in_shape):
        if hname is not None:
            return (), hp.initial(default, hname), tuple(in_shape)
        return (), L1State(jnp.asarray(default, jnp.float32)), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        lam = state.value if hname is not None else state.strength
        return x, state, (x, lam)

    def backward(params, res, dy):
        x, lam = res
        return (), dy + l1_penalty_grad(x, lam).astype(dy.dtype)

    def penalty(params, state, res):
        x, lam = res
        return l1_penalty(x, lam)

    return Layer(init, forward, backward, name=f"{name}({hp.label(default, hname)})",
                 penalty=penalty, hypers=hp.declared(default, hname))
