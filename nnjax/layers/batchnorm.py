"""Batch normalisation over features (N, C) or channels (N, H, W, C), PyTorch numerics."""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nnjax.layer import Layer


class BatchNormParams(NamedTuple):
    """Per-channel scale ``gamma`` (C,) (init 1) and shift ``beta`` (C,) (init 0)."""

    gamma: jax.Array
    beta: jax.Array


class BatchNormState(NamedTuple):
    """Running statistics (C,): ``mean`` (init 0) and unbiased ``var`` (init 1)."""

    mean: jax.Array
    var: jax.Array


class _TrainResiduals(NamedTuple):
    xhat: jax.Array
    inv_std: jax.Array


class _EvalResiduals(NamedTuple):
    xhat: jax.Array
    inv_std: jax.Array


def _per_channel(v, ndim):
    """Reshape a (C,) vector to (1, ..., 1, C) to broadcast against a rank-``ndim`` input."""
    return v.reshape((1,) * (ndim - 1) + v.shape)


def BatchNorm(*, eps: float = 1e-5, momentum: float = 0.1, name: str = "BatchNorm") -> Layer:
    """``y = γ ⊙ x̂ + β`` with ``x̂ = (x − μ) / √(σ² + eps)``, per channel (last axis).

    Statistics are taken over every axis but the last: the batch for (N, C) input, the
    batch and both spatial axes for NHWC (N, H, W, C) input (``nn.BatchNorm1d`` /
    ``nn.BatchNorm2d``). Conventions follow PyTorch: ``eps = 1e-5``; in train mode μ, σ²
    are the batch mean and *biased* variance, and the running statistics become
    ``(1 − momentum)·running + momentum·batch`` with the *unbiased* batch variance
    (``momentum = 0.1`` is the weight of the new batch). In eval mode the running
    statistics normalise and the state is unchanged.

    Backward, m values per channel, ``g = dy ⊙ γ``:
    train ``dx = (inv_std / m)(m g − Σg − x̂ Σ(g ⊙ x̂))``; eval ``dx = g ⊙ inv_std``;
    both ``dγ = Σ dy ⊙ x̂``, ``dβ = Σ dy``.
    """
    label = name

    def init(key, in_shape):
        if len(in_shape) not in (1, 3):
            raise ValueError(
                f"{label}: in_shape must be (C,) features or (H, W, C) images, got {tuple(in_shape)}."
            )
        c = in_shape[-1]
        params = BatchNormParams(jnp.ones((c,)), jnp.zeros((c,)))
        state = BatchNormState(jnp.zeros((c,)), jnp.ones((c,)))
        return params, state, tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        if x.ndim not in (2, 4) or x.shape[-1] != params.gamma.shape[0]:
            raise ValueError(
                f"{label}: expected input (N, {params.gamma.shape[0]}) or (N, H, W,"
                f" {params.gamma.shape[0]}), got shape {tuple(x.shape)}."
            )
        axes = tuple(range(x.ndim - 1))
        if train:
            m = x.size // x.shape[-1]
            if m < 2:
                raise ValueError(
                    f"{label}: train mode needs more than one value per channel to estimate"
                    f" a variance, got input of shape {tuple(x.shape)}; use a batch of ≥ 2"
                    f" or train=False."
                )
            mean = jnp.mean(x, axis=axes)
            var = jnp.mean(jnp.square(x - _per_channel(mean, x.ndim)), axis=axes)
            new_state = BatchNormState(
                (1 - momentum) * state.mean + momentum * mean,
                (1 - momentum) * state.var + momentum * var * (m / (m - 1)),
            )
            make = _TrainResiduals
        else:
            mean, var, new_state, make = state.mean, state.var, state, _EvalResiduals
        inv_std = _per_channel(jax.lax.rsqrt(var + eps), x.ndim)
        xhat = (x - _per_channel(mean, x.ndim)) * inv_std
        y = _per_channel(params.gamma, x.ndim) * xhat + _per_channel(params.beta, x.ndim)
        return y, new_state, make(xhat, inv_std)

    def backward(params, res, dy):
        axes = tuple(range(dy.ndim - 1))
        dparams = BatchNormParams(jnp.sum(dy * res.xhat, axis=axes), jnp.sum(dy, axis=axes))
        g = dy * _per_channel(params.gamma, dy.ndim)
        if isinstance(res, _EvalResiduals):
            return dparams, g * res.inv_std
        m = dy.size // dy.shape[-1]
        dx = (res.inv_std / m) * (
            m * g - jnp.sum(g, axis=axes, keepdims=True)
            - res.xhat * jnp.sum(g * res.xhat, axis=axes, keepdims=True)
        )
        return dparams, dx

    return Layer(init, forward, backward, name=label)
