"""2-D max pooling (NHWC), as ``torch.nn.MaxPool2d`` (floor mode, −∞ padding)."""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from nnjax.layer import Layer
from nnjax.layers.conv import _check_batch, _check_image_shape, _conv_out, _pair


def _window_views(xp, k, s, out_hw):
    """The k_h·k_w strided views ``xp[:, a + s·i, b + s·j, :]`` (row-major over (a, b)),
    each (N, Ho, Wo, C). A Python loop over the kernel offsets only, not over the data."""
    views = []
    for a in range(k[0]):
        for b in range(k[1]):
            views.append(lax.slice(
                xp, (0, a, b, 0),
                (xp.shape[0], a + s[0] * (out_hw[0] - 1) + 1, b + s[1] * (out_hw[1] - 1) + 1,
                 xp.shape[3]),
                (1, s[0], s[1], 1)))
    return views


def MaxPool2D(kernel=2, stride=None, padding=0, *, name: str = "MaxPool2D") -> Layer:
    """Max over k×k windows: x (N, H, W, C) → y (N, ⌊(H + 2p − k)/s⌋ + 1, …, C).

    ``y[n,i,j,c] = max_{a,b} x_pad[n, s·i + a, s·j + b, c]`` with x padded by −∞;
    ``stride`` defaults to ``kernel``; ``padding`` ≤ kernel/2 (as PyTorch). Backward routes
    each dy to the argmax of its window: ``dx[n, s·i + a*, s·j + b*] += dy[n,i,j]``, where on
    ties (a*, b*) is the first maximum in row-major order — PyTorch's rule, ties not split.
    Overlapping windows (stride < kernel) add up.
    """
    k = _pair(name, "kernel", kernel)
    s = k if stride is None else _pair(name, "stride", stride)
    p = _pair(name, "padding", padding, minimum=0)
    label = f"{name}(k={k}, s={s}, p={p})"
    if any(2 * p[d] > k[d] for d in range(2)):
        raise ValueError(f"{label}: padding must be at most half the kernel (as PyTorch),"
                         f" got padding {p} for kernel {k}.")

    def init(key, in_shape):
        h, w, c = _check_image_shape(label, in_shape)
        (ho, wo), _ = _conv_out(label, (h, w), k, s, p)
        return (), (), (ho, wo, c)

    def forward(params, state, x, *, key=None, train=False):
        _check_batch(label, x)
        out_hw, _ = _conv_out(label, x.shape[1:3], k, s, p)
        xp = jnp.pad(x, ((0, 0), (p[0], p[0]), (p[1], p[1]), (0, 0)),
                     constant_values=-jnp.inf)
        windows = jnp.stack(_window_views(xp, k, s, out_hw), axis=-1)  # (N, Ho, Wo, C, kk)
        idx = jnp.argmax(windows, axis=-1)  # first maximum on ties
        y = jnp.take_along_axis(windows, idx[..., None], axis=-1)[..., 0]
        # residuals: the argmax and a zero-size array carrying x's shape and dtype
        return y, state, (idx, jnp.zeros((0,) + x.shape[1:], x.dtype))

    def backward(params, residuals, dy):
        idx, carrier = residuals
        h, w = carrier.shape[1:3]
        hp, wp = h + 2 * p[0], w + 2 * p[1]
        ho, wo = dy.shape[1:3]
        dxp = jnp.zeros((dy.shape[0], hp, wp, dy.shape[3]), dy.dtype)
        zero = jnp.zeros((), dy.dtype)
        for a in range(k[0]):
            for b in range(k[1]):
                routed = jnp.where(idx == a * k[1] + b, dy, zero)
                # transpose of the strided view: interior padding s − 1 puts routed[i] at
                # row a + s·i of the padded input; edge padding fills up to (hp, wp)
                dxp = dxp + lax.pad(routed, zero, (
                    (0, 0, 0),
                    (a, hp - a - s[0] * (ho - 1) - 1, s[0] - 1),
                    (b, wp - b - s[1] * (wo - 1) - 1, s[1] - 1),
                    (0, 0, 0)))
        dx = dxp[:, p[0]:p[0] + h, p[1]:p[1] + w, :]
        return (), dx

    return Layer(init, forward, backward, name=label)
