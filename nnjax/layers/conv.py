"""2-D convolution and transposed convolution (NHWC images, HWIO kernels), as PyTorch.

Both layers are built from three convolution primitives on one geometry: a kernel
``w`` (kh, kw, I, O), a stride ``s`` and a padding ``(lo, hi)`` per spatial axis::

    conv(x, w)            y[i]   = Σ_a x_pad[s·i + a] · w[a]          (x: I channels → y: O)
    conv_adjoint(y, w)    x[t]   = Σ_{s·i + a − lo = t} y[i] · w[a]ᵀ  (y: O channels → x: I)
    conv_kernel_grad(x,y) dw[a]  = Σ_{n,i} x_pad[n, s·i + a]ᵀ y[n, i]

(one index stands for both spatial axes). ``conv_adjoint`` is the transpose of ``conv`` as
a linear map of x, and ``conv_kernel_grad`` its transpose as a map of w (each has several
lowerings, :mod:`nnjax.layers.conv_ops`; a layer's ``lowering=`` picks one). Hence:

* Conv2D:          y = conv(x, w);  dx = conv_adjoint(dy, w);  dw = conv_kernel_grad(x, dy).
* ConvTranspose2D: y = conv_adjoint(x, K) with K = wᵀ (I and O swapped);
                   dx = conv(dy, K);  dK = conv_kernel_grad(dy, x), dw = dKᵀ.

When the stride does not divide ``H + 2p − k`` the forward conv never reads the last
``r = (H + 2p − k) mod s`` rows of x_pad: the effective high padding is ``p − r`` (negative
means those input rows are cropped) and they receive zero gradient. ConvTranspose2D's
``output_padding`` is exactly that ``r``: it is the adjoint of a Conv2D on the larger input.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

from nnjax.layer import Layer, ShapeError, check_input, check_positive
from nnjax.layers import conv_ops

class ConvParams(NamedTuple):
    """``w``: (kh, kw, in, out) (HWIO); ``b``: (out,), or (0,) without bias."""

    w: jax.Array
    b: jax.Array


# ----------------------------------------------------------------------------- primitives
# conv, conv_adjoint and conv_kernel_grad have several lowerings (XLA's convolution,
# im2col matmuls, space-to-depth/sub-pixel matmuls): see nnjax.layers.conv_ops. XLA's CPU
# backend runs its own convolution inside a loop body (the lax.scan over batches) several
# times slower than outside one, and a vmapped one (per-run kernels: a grouped conv)
# slower still, while a (batched) dot is fast in both places.
# ---------------------------------------------------------------------------- validation
def _pair(label, what, value, minimum=1):
    """An int or a pair of ints, each ≥ ``minimum`` → a pair."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                 and v >= minimum for v in pair):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{label}: {what} must be a {kind} integer or a pair of them,"
                         f" got {value!r}.")
    return pair


def _check_image_shape(label, in_shape):
    """in_shape must be (H, W, C) with positive sizes."""
    in_shape = tuple(in_shape)
    if len(in_shape) != 3:
        raise ValueError(f"{label}: expects images of in_shape (H, W, C) (NHWC without the"
                         f" batch axis), got in_shape {in_shape}. Reshape((H, W, C)) first.")
    check_positive(label, "every in_shape size (H, W, C)", in_shape)
    return in_shape


def _check_batch(label, x, channels=None):
    """x must be (N, H, W, C) [with C = channels]; raises ShapeError via check_input."""
    if x.ndim != 4 or (channels is not None and x.shape[3] != channels):
        check_input(label, ("H", "W", "C" if channels is None else channels), x)


def _too_small(label, hw, k, s, p, extra=""):
    raise ShapeError(f"{label}: input of spatial size {tuple(hw)} is too small for kernel"
                     f" {k}, stride {s}, padding {p}{extra}: the output would have no rows or"
                     f" columns. Use a larger input, a smaller kernel or more padding.")


def _conv_out(label, hw, k, s, p):
    """floor((H + 2p − k)/s) + 1 per axis, and the unread remainder r = (H + 2p − k) mod s."""
    span = [hw[d] + 2 * p[d] - k[d] for d in range(2)]
    if min(span) < 0:
        _too_small(label, hw, k, s, p)
    return tuple(span[d] // s[d] + 1 for d in range(2)), tuple(span[d] % s[d] for d in range(2))


def _uniform_init(key, shape, fan_in, out, use_bias):
    """PyTorch's default: kaiming_uniform(a=√5) ⇒ w ~ U(±1/√fan_in); b ~ U(±1/√fan_in)."""
    bound = 1.0 / jnp.sqrt(fan_in)
    kw, kb = jax.random.split(key)
    w = jax.random.uniform(kw, shape, minval=-bound, maxval=bound)
    b = (jax.random.uniform(kb, (out,), minval=-bound, maxval=bound)
         if use_bias else jnp.zeros((0,)))
    return ConvParams(w, b)


def _add_bias(y, b, use_bias):
    return y + b.reshape(1, 1, 1, -1) if use_bias else y


def channel_sum(dy):
    """Σ over (N, H, W) of dy (N, H, W, C) → (C,). With 1 < C < 16 the sum runs over a
    (N·H·W/g, g·C) view (rows of g pixels, the largest power of two g with g·C ≤ 32 that
    divides N·H·W) and then adds the g partial sums: the same sum, in about a quarter of
    the time for the conv AE's 8-channel bias gradients (per-op profile,
    benchmarks/TRIED.md, fifth pass)."""
    c = dy.shape[-1]
    rows = dy.size // c
    g = 1
    if 1 < c < 16:
        while 2 * g * c <= 32 and rows % (2 * g) == 0:
            g *= 2
    if g == 1:
        return jnp.sum(dy, axis=(0, 1, 2))
    return dy.reshape(rows // g, g * c).sum(0).reshape(g, c).sum(0)


def _bias_grad(dy, b, use_bias):
    return channel_sum(dy) if use_bias else jnp.zeros_like(b)


# -------------------------------------------------------------------------------- layers
def Conv2D(out_channels: int, kernel=3, stride=1, padding=0, *, use_bias: bool = True,
           lowering: Optional[str] = None, name: str = "Conv2D") -> Layer:
    """2-D cross-correlation as ``torch.nn.Conv2d`` (zero padding ``p`` on both sides).

    x (N, H, W, I), w (kh, kw, I, O), b (O,) → y (N, ⌊(H + 2p − k)/s⌋ + 1, …, O),
    ``y[n,i,j] = Σ_{a,b} x_pad[n, s·i + a, s·j + b] · w[a, b] + b``.
    Backward: ``dW = Σ_n xpatchesᵀ dy`` (conv_kernel_grad), ``db = Σ_{n,i,j} dy``,
    ``dx = conv_transpose(dy, W)`` (conv_adjoint; rows the stride skips get 0).
    ``kernel``, ``stride`` (≥ 1) and ``padding`` (≥ 0) are ints or (h, w) pairs.
    Init as PyTorch: W, b ~ U(−1/√fan_in, 1/√fan_in), fan_in = I·kh·kw.
    From a torch weight Wt (O, I, kh, kw): ``w = Wt.permute(2, 3, 1, 0)``.
    The forward accepts any spatial size (like PyTorch) but checks rank and channels.
    ``lowering``: ``"xla"``, ``"im2col"``, ``"phase"`` or ``"phasesum"`` (see
    :mod:`nnjax.layers.conv_ops`); None: chosen when the layer is built
    (``conv_ops.lowering`` block, ``$NNJAX_CONV_LOWERING``, the backend's default).
    """
    check_positive(name, "out_channels", out_channels)
    k = _pair(name, "kernel", kernel)
    s = _pair(name, "stride", stride)
    p = _pair(name, "padding", padding, minimum=0)
    label = f"{name}({out_channels}, k={k}, s={s}, p={p})"
    ops = conv_ops.get(conv_ops.check_name(lowering, label) if lowering is not None else None)

    def init(key, in_shape):
        h, w, c = _check_image_shape(label, in_shape)
        (ho, wo), _ = _conv_out(label, (h, w), k, s, p)
        params = _uniform_init(key, k + (c, out_channels), c * k[0] * k[1],
                               out_channels, use_bias)
        return params, (), (ho, wo, out_channels)

    def forward(params, state, x, *, key=None, train=False):
        _check_batch(label, x, params.w.shape[2])
        _conv_out(label, x.shape[1:3], k, s, p)
        y = ops.conv(x, params.w, s, [(p[0], p[0]), (p[1], p[1])])
        return _add_bias(y, params.b, use_bias), state, x

    def backward(params, x, dy):
        _, r = _conv_out(label, x.shape[1:3], k, s, p)
        pads = [(p[d], p[d] - r[d]) for d in range(2)]  # the rows the forward read
        dw = ops.conv_kernel_grad(x, dy, s, pads, k)
        dx = ops.conv_adjoint(dy, params.w, s, pads, x.shape[1:3])
        return ConvParams(dw, _bias_grad(dy, params.b, use_bias)), dx

    return Layer(init, forward, backward, name=label)


def ConvTranspose2D(out_channels: int, kernel=3, stride=1, padding=0, output_padding=0, *,
                    use_bias: bool = True, lowering: Optional[str] = None,
                    name: str = "ConvTranspose2D") -> Layer:
    """Transposed convolution as ``torch.nn.ConvTranspose2d`` (the dx of a Conv2D).

    x (N, H, W, I), w (kh, kw, I, O), b (O,) → y (N, (H−1)·s − 2p + k + op, …, O),
    ``y[n, s·i + a − p, s·j + b − p] += x[n,i,j] · w[a, b]`` (+ b); ``op`` = output_padding
    (0 ≤ op < s) adds rows at the high end. Backward: ``dx = conv(dy, Wᵀ)`` (a strided
    Conv2D with I/O swapped), ``dW = (Σ_n dypatchesᵀ x)ᵀ``, ``db = Σ_{n,i,j} dy``.
    HWIO with I = this layer's input channels, O = its output channels; from a torch weight
    Wt (I, O, kh, kw): ``w = Wt.permute(2, 3, 0, 1)`` — no spatial flip.
    Init as PyTorch: W, b ~ U(−1/√fan_in, 1/√fan_in) with PyTorch's fan_in for this weight,
    ``Wt.size(1)·kh·kw = O·kh·kw`` (the output channels). ``lowering``: as Conv2D's.
    """
    check_positive(name, "out_channels", out_channels)
    k = _pair(name, "kernel", kernel)
    s = _pair(name, "stride", stride)
    p = _pair(name, "padding", padding, minimum=0)
    op = _pair(name, "output_padding", output_padding, minimum=0)
    label = f"{name}({out_channels}, k={k}, s={s}, p={p}, op={op})"
    ops = conv_ops.get(conv_ops.check_name(lowering, label) if lowering is not None else None)
    if any(op[d] >= s[d] for d in range(2)):
        raise ValueError(f"{label}: output_padding must be smaller than stride (as in"
                         f" PyTorch), got output_padding {op} with stride {s}.")
    pads = [(p[d], p[d] - op[d]) for d in range(2)]  # of the Conv2D this is the adjoint of

    def out_hw(label_, hw):
        out = tuple((hw[d] - 1) * s[d] - 2 * p[d] + k[d] + op[d] for d in range(2))
        if min(out) < 1:
            _too_small(label_, hw, k, s, p, extra=f", output_padding {op}")
        return out

    def init(key, in_shape):
        h, w, c = _check_image_shape(label, in_shape)
        ho, wo = out_hw(label, (h, w))
        params = _uniform_init(key, k + (c, out_channels), out_channels * k[0] * k[1],
                               out_channels, use_bias)
        return params, (), (ho, wo, out_channels)

    def forward(params, state, x, *, key=None, train=False):
        _check_batch(label, x, params.w.shape[2])
        hw = out_hw(label, x.shape[1:3])
        kernel_ = jnp.swapaxes(params.w, 2, 3)  # as a Conv2D kernel: O → I
        y = ops.conv_adjoint(x, kernel_, s, pads, hw)
        return _add_bias(y, params.b, use_bias), state, x

    def backward(params, x, dy):
        kernel_ = jnp.swapaxes(params.w, 2, 3)
        dx = ops.conv(dy, kernel_, s, pads)
        dw = jnp.swapaxes(ops.conv_kernel_grad(dy, x, s, pads, k), 2, 3)
        return ConvParams(dw, _bias_grad(dy, params.b, use_bias)), dx

    return Layer(init, forward, backward, name=label)
