"""Lowerings of the three convolution primitives the conv layers are built from.

Every lowering provides, on NHWC images and HWIO kernels ``w`` (kh, kw, I, O), a stride
``s`` and paddings ``pads = ((lo_h, hi_h), (lo_w, hi_w))`` (negative crops)::

    conv(x, w, s, pads)                 y[i]  = Σ_a x_pad[s·i + a] · w[a]          (N,H,W,I) → (N,Ho,Wo,O)
    conv_adjoint(y, w, s, pads, in_hw)  x[t]  = Σ_{s·i + a − lo = t} y[i] · w[a]ᵀ  (N,Ho,Wo,O) → (N,H,W,I)
    conv_kernel_grad(x, dy, s, pads, k) dw[a] = Σ_{n,i} x_pad[n, s·i + a]ᵀ dy[n, i]

(one index stands for both spatial axes). ``conv_adjoint`` is the transpose of ``conv``
as a linear map of x and ``conv_kernel_grad`` its transpose as a map of w, whatever the
lowering; ``tests/test_conv_ops.py`` checks both against ``jax.vjp`` in float64.

Lowerings (``LOWERINGS``):

* ``"xla"``: ``lax.conv_general_dilated`` for all three (the adjoint is a stride-1 conv
  of the dilated ``y`` with the flipped, I/O-swapped kernel; the kernel gradient a conv
  with x's channel axis as batch and ``dy`` as kernel, dilated by s). XLA's own kernels:
  the fast path on GPU/TPU.
* ``"im2col"``: one strided slice of x_pad per kernel offset, concatenated (patches), and
  one matmul; the adjoint places each offset's block back with an interior-padded
  ``lax.pad`` (zero insertion) and sums them.
* ``"phase"`` (space-to-depth / sub-pixel): with a = s·q + r (r < s, q < Q = ⌈k/s⌉),
  ``x_pad[s·i + a] = X[i + q, r]`` where ``X = x_pad.reshape(M, s)`` is a free reshape
  (x_pad padded to s·M rows, M = Ho + Q − 1). So the patches are plain slices of X (no
  strided slices) and the adjoint is a *stride-1* correlation: ``x_pad[s·m + r] =
  Σ_q y[m − q] · w[s·q + r]ᵀ``, i.e. one matmul of the stride-1 Q×Q patches of ``y``
  (padded by Q − 1 low) with a (Q²·O, s²·I) matrix that holds every output phase r,
  then depth-to-space (a reshape) and a crop: no zero insertion, one matmul. For s = 1 it
  is im2col. With one input channel and a stride > 1 (the first conv of an image
  model; a transposed conv's dx when it has one output channel) the conv and kernel
  gradient take the patches of the space-to-depth image instead (:func:`s2d_patches`:
  Q_h·Q_w slices of s_h·s_w·I channels each, not kh·kw scalar slices; zero-weight
  columns for the taps ≥ k, 16 columns for 9 taps at k = 3, s = 2). The sub-pixel
  kernel holds zero taps (for k = 3, s = 2: 7 of 16), so the adjoint's matmul runs
  16/9 of the useful multiply-adds and more on the border phases.
* ``"phasesum"``: ``phase``'s conv and kernel gradient; the adjoint as col2im *by output
  phase*: one matmul ``C = y @ Wᵀ`` with exactly the useful multiply-adds (no patches of
  y built), then each output phase r of x_pad is the sum over its own taps a = s·q + r of
  ``C[m − q, a]``, unit-stride slices shifted by q (``lax.pad`` low, no interior padding),
  and depth-to-space. XLA fuses the shifted sums and the interleave into loop fusions.

Which lowering runs: the layer's ``lowering=`` argument, else :func:`lowering` (a
context manager), else ``$NNJAX_CONV_LOWERING``, else the backend's default
(:data:`BACKEND_DEFAULT`: CPU → ``"phasesum"``, the fastest measured on the conv
autoencoder, see benchmarks/TRIED.md; GPU/TPU → ``"xla"``). It is resolved when the
layer is *built* (not when traced: jit's trace cache would not see a context change), so
build the model inside the ``with lowering(...)`` block.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import lax

LOWERINGS = ("xla", "im2col", "phase", "phasesum")
BACKEND_DEFAULT = {"cpu": "phasesum"}      # any other backend: "xla"
ENV = "NNJAX_CONV_LOWERING"
_DN = ("NHWC", "HWIO", "NHWC")


def _out_size(size, k, s, lo, hi):
    return (size + lo + hi - k) // s + 1


def _pad(x, cfg):
    return lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0)] + list(cfg) + [(0, 0, 0)])


# ----------------------------------------------------------------------------------- xla
def xla_conv(x, w, stride, pads):
    """``lax.conv_general_dilated`` (cross-correlation, NHWC/HWIO)."""
    return lax.conv_general_dilated(x, w, tuple(stride), [tuple(p) for p in pads],
                                    dimension_numbers=_DN)


def xla_conv_adjoint(y, w, stride, pads, in_hw):
    """x[t] = Σ_{s·i + a − lo = t} y[i] w[a]ᵀ = Σ_b ŷ[t + b − (k − 1 − lo)] · w[k − 1 − b]ᵀ
    with ŷ = y dilated by s (``lhs_dilation``): a stride-1 correlation of ŷ, padded by
    k − 1 − lo low and up to size H high, with the flipped kernel, I and O swapped."""
    k = w.shape[:2]
    ho = y.shape[1:3]
    padding = []
    for d in range(2):
        lo = k[d] - 1 - pads[d][0]
        dilated = stride[d] * (ho[d] - 1) + 1
        padding.append((lo, in_hw[d] + k[d] - 1 - lo - dilated))
    wt = jnp.swapaxes(jnp.flip(w, (0, 1)), 2, 3)
    return lax.conv_general_dilated(y, wt, (1, 1), padding, lhs_dilation=tuple(stride),
                                    dimension_numbers=_DN)


def xla_conv_kernel_grad(x, dy, stride, pads, k):
    """dw[a, c, o] = Σ_{n,i} x_pad[n, s·i + a, c] dy[n, i, o]: a conv whose batch is x's
    channel axis, whose input features are x's batch axis, with dy as the kernel dilated
    by s (``rhs_dilation``); output (I, kh, kw, O) → (kh, kw, I, O)."""
    ho = dy.shape[1:3]
    padding = [(pads[d][0], k[d] - 1 + stride[d] * (ho[d] - 1) + 1 - x.shape[1 + d]
                - pads[d][0]) for d in range(2)]
    out = lax.conv_general_dilated(x, dy, (1, 1), padding, rhs_dilation=tuple(stride),
                                   dimension_numbers=("CHWN", "IHWO", "NHWC"))
    return jnp.transpose(out, (1, 2, 0, 3))


# -------------------------------------------------------------------------------- im2col
def patches(x, k, stride, pads):
    """im2col: (N, H, W, I) → (N, Ho, Wo, kh·kw·I), entry ``(i, j, (a, b, c))`` =
    ``x_pad[s·i + a, s·j + b, c]``; one strided slice of the padded input per offset."""
    xp = _pad(x, [(lo, hi, 0) for lo, hi in pads])
    n, h, w, c = xp.shape
    ho, wo = _out_size(h, k[0], stride[0], 0, 0), _out_size(w, k[1], stride[1], 0, 0)
    cols = [lax.slice(xp, (0, a, b, 0),
                      (n, a + stride[0] * (ho - 1) + 1, b + stride[1] * (wo - 1) + 1, c),
                      (1, stride[0], stride[1], 1))
            for a in range(k[0]) for b in range(k[1])]
    return jnp.concatenate(cols, axis=-1)


def im2col_conv(x, w, stride, pads):
    """``patches(x) @ w.reshape(kh·kw·I, O)``."""
    return patches(x, w.shape[:2], stride, pads) @ w.reshape(-1, w.shape[3])


def im2col_conv_adjoint(y, w, stride, pads, in_hw):
    """conv is ``patches(x) @ W``, so its transpose is ``col2im(y @ Wᵀ)``: the column block
    of offset (a, b) goes back to x[s·i + a − lo], i.e. dilated by s and shifted by
    a − lo (one interior-padded ``lax.pad`` each), and the blocks are summed."""
    k, (h, wd), c = w.shape[:2], in_hw, w.shape[2]
    ho, wo = y.shape[1:3]
    cols = y @ w.reshape(-1, w.shape[3]).T               # (N, Ho, Wo, kh·kw·I)
    out = None
    for a in range(k[0]):
        for b in range(k[1]):
            block = cols[..., (a * k[1] + b) * c:(a * k[1] + b + 1) * c]
            lo_h, lo_w = a - pads[0][0], b - pads[1][0]
            placed = _pad(block, [(lo_h, h - lo_h - stride[0] * (ho - 1) - 1, stride[0] - 1),
                                  (lo_w, wd - lo_w - stride[1] * (wo - 1) - 1, stride[1] - 1)])
            out = placed if out is None else out + placed
    return out


def rows_contracted(cols, dy):
    """``colsᵀ @ dy`` over the flattened leading axes: (…, K), (…, O) → (K, O), computed as
    ``(dyᵀ @ cols)ᵀ``. The same sums; XLA:CPU contracts the long row axis (N·Ho·Wo) of
    two row-major operands faster into an (O, K) result than into (K, O) (the kernel
    gradients' dots took ≈ 40% less time in the conv AE's per-op profile,
    benchmarks/TRIED.md, fifth pass), and the optimisation barrier keeps the final K×O transpose a
    small copy instead of letting XLA fold it back into the dot's output layout."""
    p, d = cols.reshape(-1, cols.shape[-1]), dy.reshape(-1, dy.shape[-1])
    return lax.optimization_barrier(d.T @ p).T


def im2col_conv_kernel_grad(x, dy, stride, pads, k):
    """``patches(x)ᵀ @ dy`` with (N, Ho, Wo) flattened into the contracted axis."""
    dw = rows_contracted(patches(x, k, stride, pads), dy)
    return dw.reshape(k[0], k[1], x.shape[3], dy.shape[3])


# --------------------------------------------------------------------------------- phase
def _phases(x, k, stride, pads, out_hw):
    """x_pad as (N, M_h, s_h, M_w, s_w, I) with M = Ho + Q − 1 (a reshape of x padded, or
    cropped, to s·M rows): ``x_pad[s·m + r] = X[m, r]``."""
    cfg = []
    for d in range(2):
        q = -(-k[d] // stride[d])
        rows = stride[d] * (out_hw[d] + q - 1)
        cfg.append((pads[d][0], rows - x.shape[1 + d] - pads[d][0], 0))
    xp = _pad(x, cfg)
    n, h, w, c = xp.shape
    return xp.reshape(n, h // stride[0], stride[0], w // stride[1], stride[1], c)


def phase_patches(x, k, stride, pads, out_hw):
    """The same (N, Ho, Wo, kh·kw·I) patches as :func:`patches`, each offset
    a = s·q + r a plain (unit-stride) slice ``X[q:q + Ho, r]`` of :func:`_phases`."""
    xs = _phases(x, k, stride, pads, out_hw)
    n, c = x.shape[0], x.shape[3]
    ho, wo = out_hw
    cols = []
    for a in range(k[0]):
        qa, ra = divmod(a, stride[0])
        for b in range(k[1]):
            qb, rb = divmod(b, stride[1])
            cols.append(lax.slice(xs, (0, qa, ra, qb, rb, 0),
                                  (n, qa + ho, ra + 1, qb + wo, rb + 1, c)
                                  ).reshape(n, ho, wo, c))
    return jnp.concatenate(cols, axis=-1)


def _conv_hw(x, k, stride, pads):
    return tuple(_out_size(x.shape[1 + d], k[d], stride[d], *pads[d]) for d in range(2))


def _depth_first(x, stride) -> bool:
    """Whether the phase lowerings build x's patches from its space-to-depth image
    (:func:`s2d_patches`): for one input channel and a stride > 1, where the
    (kh·kw)-column patches would be scalar slices (measured faster on the conv AE's
    first layer; more channels made it slower, benchmarks/TRIED.md)."""
    return x.shape[3] == 1 and tuple(stride) != (1, 1)


def s2d_patches(x, k, stride, pads, out_hw):
    """Patches of the space-to-depth image: ``X = _phases(x)`` as (N, M_h, M_w,
    s_h·s_w·I) (one transpose), then its Q_h×Q_w stride-1 windows, (N, Ho, Wo,
    Q_h·Q_w·s_h·s_w·I), column (q_h, q_w, r_h, r_w, c) = ``x_pad[s·i + s·q + r, c]``:
    every offset a = s·q + r < s·Q, so the taps a ≥ k are extra columns that
    :func:`_s2d_weight` gives zero weight (16 columns for 9 taps at k = 3, s = 2)."""
    xs = _phases(x, k, stride, pads, out_hw)                 # (N, M_h, s_h, M_w, s_w, I)
    n, mh, sh, mw, sw, c = xs.shape
    xs = jnp.transpose(xs, (0, 1, 3, 2, 4, 5)).reshape(n, mh, mw, sh * sw * c)
    q = [-(-k[d] // stride[d]) for d in range(2)]
    cols = [lax.slice(xs, (0, a, b, 0), (n, a + out_hw[0], b + out_hw[1], xs.shape[3]))
            for a in range(q[0]) for b in range(q[1])]
    return cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)


def _s2d_weight(w, stride):
    """(Q_h·Q_w·s_h·s_w·I, O): row (q_h, q_w, r_h, r_w, c) = ``w[s·q + r, c]`` (zero
    for taps ≥ k), matching :func:`s2d_patches`' columns."""
    k, (ci, co) = w.shape[:2], w.shape[2:]
    q = [-(-k[d] // stride[d]) for d in range(2)]
    wp = jnp.pad(w, [(0, q[0] * stride[0] - k[0]), (0, q[1] * stride[1] - k[1]),
                     (0, 0), (0, 0)])
    wp = wp.reshape(q[0], stride[0], q[1], stride[1], ci, co)
    return jnp.transpose(wp, (0, 2, 1, 3, 4, 5)).reshape(-1, co)


def phase_conv(x, w, stride, pads):
    """``phase_patches(x) @ w.reshape(kh·kw·I, O)`` (for one input channel
    ``s2d_patches(x) @ _s2d_weight(w)``: the same sums plus zero-weight taps)."""
    k = w.shape[:2]
    hw = _conv_hw(x, k, stride, pads)
    if _depth_first(x, stride):
        return s2d_patches(x, k, stride, pads, hw) @ _s2d_weight(w, stride)
    cols = phase_patches(x, k, stride, pads, hw)
    return cols @ w.reshape(-1, w.shape[3])


def _subpixel_kernel(w, stride):
    """(Q_h·Q_w·O, s_h·s_w·I) matrix, row (p_h, p_w, o), column (r_h, r_w, c) =
    ``w[s·(Q − 1 − p) + r, c, o]`` (zero where that tap is ≥ k): the kernel of the
    stride-1 correlation that yields every output phase r at once."""
    k, (ci, co) = w.shape[:2], w.shape[2:]
    q = [-(-k[d] // stride[d]) for d in range(2)]
    wp = jnp.pad(w, [(0, q[0] * stride[0] - k[0]), (0, q[1] * stride[1] - k[1]),
                     (0, 0), (0, 0)])
    wp = wp.reshape(q[0], stride[0], q[1], stride[1], ci, co)[::-1, :, ::-1]
    return jnp.transpose(wp, (0, 2, 5, 1, 3, 4)).reshape(q[0] * q[1] * co,
                                                         stride[0] * stride[1] * ci)


def phase_conv_adjoint(y, w, stride, pads, in_hw):
    """Sub-pixel transposed convolution. With u = t + lo = s·m + r and a = s·q + r:
    ``x_pad[s·m + r] = Σ_q y[m − q] · w[s·q + r]ᵀ``, for all r at once a stride-1
    correlation of y padded by Q − 1 low (window Q, flipped taps p = Q − 1 − q) with
    :func:`_subpixel_kernel`; then depth-to-space (m, r) → s·m + r and the crop
    [lo, lo + H)."""
    k, ci = w.shape[:2], w.shape[2]
    n, ho, wo, _ = y.shape
    q = [-(-k[d] // stride[d]) for d in range(2)]
    m = [-(-(pads[d][0] + in_hw[d]) // stride[d]) for d in range(2)]     # phase rows needed
    ypad = _pad(y, [(q[0] - 1, m[0] - ho, 0), (q[1] - 1, m[1] - wo, 0)])
    cols = [lax.slice(ypad, (0, a, b, 0), (n, a + m[0], b + m[1], ypad.shape[3]))
            for a in range(q[0]) for b in range(q[1])]
    cols = cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)
    xs = cols @ _subpixel_kernel(w, stride)                  # (N, M_h, M_w, s_h·s_w·I)
    xs = xs.reshape(n, m[0], m[1], stride[0], stride[1], ci)
    xp = jnp.transpose(xs, (0, 1, 3, 2, 4, 5)).reshape(n, m[0] * stride[0],
                                                          m[1] * stride[1], ci)
    lo = [pads[d][0] for d in range(2)]
    return lax.slice(xp, (0, lo[0], lo[1], 0), (n, lo[0] + in_hw[0], lo[1] + in_hw[1], ci))


def phase_conv_kernel_grad(x, dy, stride, pads, k):
    """``phase_patches(x)ᵀ @ dy`` with (N, Ho, Wo) flattened into the contracted axis.
    For one input channel ``s2d_patches(x)ᵀ @ dy``, whose rows (q, r) are the taps
    a = s·q + r, reordered to (a_h, a_w) and cropped to a < k (the transpose of
    :func:`_s2d_weight`)."""
    ci, co = x.shape[3], dy.shape[3]
    if not _depth_first(x, stride):
        dw = rows_contracted(phase_patches(x, k, stride, pads, dy.shape[1:3]), dy)
        return dw.reshape(k[0], k[1], ci, co)
    dw = rows_contracted(s2d_patches(x, k, stride, pads, dy.shape[1:3]), dy)
    q = [-(-k[d] // stride[d]) for d in range(2)]
    dw = jnp.transpose(dw.reshape(q[0], q[1], stride[0], stride[1], ci, co),
                       (0, 2, 1, 3, 4, 5))
    return dw.reshape(q[0] * stride[0], q[1] * stride[1], ci, co)[:k[0], :k[1]]


# ------------------------------------------------------------------------------- phasesum
def phasesum_conv_adjoint(y, w, stride, pads, in_hw):
    """col2im by output phase. ``C = y @ Wᵀ`` (one matmul with exactly the useful
    multiply-adds: (N·Ho·Wo, O)·(O, kh·kw·I)) holds ``C[i, a] = y[i] · w[a]ᵀ``; with
    u = t + lo = s·m + r and a = s·q + r (so i = m − q)::

        x_pad[s·m + r] = Σ_{q : s·q + r < k} C[m − q, s·q + r]

    i.e. every output phase r is a sum of unit-stride shifted slices of C (one
    ``lax.pad`` by q low each, no interior padding and no zero taps), then the phases are
    interleaved (depth-to-space, a reshape) and cropped to [lo, lo + H)."""
    k, ci, co = w.shape[:2], w.shape[2], w.shape[3]
    n, ho, wo, _ = y.shape
    m = [-(-(pads[d][0] + in_hw[d]) // stride[d]) for d in range(2)]     # phase rows needed
    cols = (y @ w.reshape(-1, co).T).reshape(n, ho, wo, k[0], k[1], ci)
    rows = []
    for rh in range(stride[0]):
        phase_row = []
        for rw in range(stride[1]):
            acc = None
            for qh in range(-(-(k[0] - rh) // stride[0]) if rh < k[0] else 0):
                for qw in range(-(-(k[1] - rw) // stride[1]) if rw < k[1] else 0):
                    tap = cols[:, :, :, stride[0] * qh + rh, stride[1] * qw + rw, :]
                    placed = _pad(tap, [(qh, m[0] - qh - ho, 0), (qw, m[1] - qw - wo, 0)])
                    acc = placed if acc is None else acc + placed
            phase_row.append(jnp.zeros((n, m[0], m[1], ci), y.dtype) if acc is None else acc)
        rows.append(jnp.stack(phase_row, axis=3))                   # (N, M_h, M_w, s_w, I)
    xp = jnp.stack(rows, axis=2).reshape(n, m[0] * stride[0], m[1] * stride[1], ci)
    lo = [pads[d][0] for d in range(2)]
    return lax.slice(xp, (0, lo[0], lo[1], 0), (n, lo[0] + in_hw[0], lo[1] + in_hw[1], ci))


# ----------------------------------------------------------------------------- selection
class Lowering(NamedTuple):
    """The three primitives of one lowering (signatures as in the module docstring)."""

    name: str
    conv: Callable
    conv_adjoint: Callable
    conv_kernel_grad: Callable


_TABLE = {
    "xla": Lowering("xla", xla_conv, xla_conv_adjoint, xla_conv_kernel_grad),
    "im2col": Lowering("im2col", im2col_conv, im2col_conv_adjoint, im2col_conv_kernel_grad),
    "phase": Lowering("phase", phase_conv, phase_conv_adjoint, phase_conv_kernel_grad),
    "phasesum": Lowering("phasesum", phase_conv, phasesum_conv_adjoint,
                         phase_conv_kernel_grad),
}
_local = threading.local()


def check_name(name, where: str = "conv lowering") -> str:
    """``name`` if it is one of :data:`LOWERINGS`, else a ValueError saying which are."""
    if name not in _TABLE:
        raise ValueError(f"{where}: unknown convolution lowering {name!r}; choose one of"
                         f" {', '.join(LOWERINGS)}.")
    return name


@contextlib.contextmanager
def lowering(name: str):
    """Conv layers built within the block without an explicit ``lowering=`` use ``name``."""
    check_name(name)
    stack = _local.__dict__.setdefault("stack", [])
    stack.append(name)
    try:
        yield name
    finally:
        stack.pop()


def resolve(name: Optional[str] = None) -> str:
    """The lowering to use: ``name``, else the innermost :func:`lowering` block, else
    ``$NNJAX_CONV_LOWERING``, else :data:`BACKEND_DEFAULT` for the default backend."""
    if name is not None:
        return check_name(name)
    stack = getattr(_local, "stack", None)
    if stack:
        return stack[-1]
    env = os.environ.get(ENV)
    if env:
        return check_name(env, f"${ENV}")
    return BACKEND_DEFAULT.get(jax.default_backend(), "xla")


def get(name: Optional[str] = None) -> Lowering:
    """The :class:`Lowering` that :func:`resolve` picks."""
    return _TABLE[resolve(name)]
