"""Element-wise activations and softmax. None has parameters or state."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from nnjax.layer import Layer
from nnjax.layers import hyperparam as hp


def _elementwise(name, f, df_from):
    """Layer for ``y = f(x)``; ``df_from(x, y)`` gives ``f'(x)`` so ``dx = dy ⊙ f'(x)``."""

    def init(key, in_shape):
        return (), (), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        y = f(x)
        return y, state, (x, y)

    def backward(params, residuals, dy):
        x, y = residuals
        return (), dy * df_from(x, y)

    return Layer(init, forward, backward, name=name)


def ReLU() -> Layer:
    """``y = max(x, 0)``; ``dx = dy ⊙ 1[x > 0]`` (derivative 0 at exactly 0, like
    ``jax.nn.relu`` and PyTorch)."""
    return _elementwise("ReLU", lambda x: jnp.where(x > 0, x, jnp.zeros_like(x)),
                        lambda x, y: (x > 0).astype(x.dtype))


def LeakyReLU(negative_slope=0.01) -> Layer:
    """``y = x if x > 0 else a·x``; ``dx = dy ⊙ (1 if x > 0 else a)`` (a at exactly 0,
    like PyTorch). Default ``a = 0.01`` as ``torch.nn.LeakyReLU``. ``negative_slope``
    may be ``L.hyper("slope", 0.01)``: a per-run number kept in ``state``."""
    a, hname = hp.resolve(negative_slope, "LeakyReLU: negative_slope")
    if hname is None:
        return _elementwise(f"LeakyReLU({a:g})", lambda x: jnp.where(x > 0, x, a * x),
                            lambda x, y: jnp.where(x > 0, jnp.ones_like(x), jnp.full_like(x, a)))

    def init(key, in_shape):
        return (), hp.initial(a, hname), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        slope = state.value.astype(x.dtype)
        return jnp.where(x > 0, x, slope * x), state, (x, slope)

    def backward(params, residuals, dy):
        x, slope = residuals
        return (), dy * jnp.where(x > 0, jnp.ones_like(x), slope)

    return Layer(init, forward, backward, name=f"LeakyReLU({hp.label(a, hname)})",
                 hypers=hp.declared(a, hname))


def Sigmoid() -> Layer:
    """``y = σ(x) = 1 / (1 + e^{−x})`` (stable for |x| large); ``dx = dy ⊙ y(1 − y)``."""
    return _elementwise("Sigmoid", jax.nn.sigmoid, lambda x, y: y * (1 - y))


def Tanh() -> Layer:
    """``y = tanh(x)``; ``dx = dy ⊙ (1 − y²)``."""
    return _elementwise("Tanh", jnp.tanh, lambda x, y: 1 - y * y)


def Softmax(axis: int = -1) -> Layer:
    """``y = softmax(x)`` along ``axis`` (stable: shifted by the max).

    Full Jacobian–vector product, not only its diagonal (a known fault of
    from-scratch implementations):
    ``dx = y ⊙ (dy − Σ_j dy_j y_j)``. For training a classifier, feed logits to
    ``losses.softmax_cross_entropy`` instead; this layer is for models that need
    probabilities.
    """

    def init(key, in_shape):
        return (), (), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        y = jax.nn.softmax(x, axis=axis)
        return y, state, y

    def backward(params, y, dy):
        return (), y * (dy - jnp.sum(dy * y, axis=axis, keepdims=True))

    return Layer(init, forward, backward, name="Softmax")
