"""Additive Gaussian input noise as a layer (Keras' ``GaussianNoise``)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from nnjax.layer import Layer
from nnjax.layers import hyperparam as hp


def GaussianNoise(sigma, *, name: str = "GaussianNoise") -> Layer:
    """Train: ``y = x + σ·ε``, ε ~ N(0, 1) per element from ``key``; eval: ``y = x``.

    The noise does not depend on ``x``, so ``dx = dy`` in both modes. ``sigma`` may be
    ``L.hyper("sigma", 0.2)``: a per-run number kept in ``state``. Shapes: (N, ...) → same.
    """
    default, hname = hp.resolve(sigma, f"{name}: sigma")
    if not default >= 0:
        raise ValueError(f"{name}: sigma must be ≥ 0, got {default!r}.")
    label = f"{name}({hp.label(default, hname)})"

    def init(key, in_shape):
        return (), hp.initial(default, hname), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        if not train or (hname is None and default == 0.0):
            return x, state, ()
        if key is None:
            raise ValueError(f"{label}: train=True needs a PRNG key for the noise; call"
                             " forward(..., key=jax.random.key(seed), train=True).")
        s = jnp.asarray(default if hname is None else state.value, x.dtype)
        return x + s * jax.random.normal(key, x.shape, x.dtype), state, ()

    def backward(params, residuals, dy):
        return (), dy

    return Layer(init, forward, backward, name=label, hypers=hp.declared(default, hname))
