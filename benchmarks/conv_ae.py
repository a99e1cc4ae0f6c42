"""The conv-autoencoder workload of the benchmarks (seed 004's model, issue 14).

``nnjax.models.conv_autoencoder(32)`` (Conv 8/16/32, 3×3 stride 2 → Linear 64 → 32 and
back with transposed convolutions, Sigmoid), MSE on the input, Adam 1e-3, batch 1000, on
the first 20 000 MNIST training images as 28×28×1 (fewer with ``--tiny``: the batch then
shrinks to a quarter of the images). Contenders report *seconds per run-epoch*.

FLOPs: the products the backward of every layer needs, counted from the geometry:
``MAC`` per image = Ho·Wo·k²·I·O for a Conv2D, Hin·Win·k²·I·O for a ConvTranspose2D,
fan_in·fan_out for a Linear; a training step executes 2·MAC (forward) + 2·MAC (dW) +
2·MAC (dx) per layer, less the first layer's dx (no gradient for the images):
6·ΣMAC − 2·MAC₁ = 1.56 MFLOP per image. A lowering may execute more (the ``phase``
lowering multiplies the zero taps of its 4×4 sub-pixel kernels, 16/9 of a 3×3's), so the
GFLOP/s are of this useful count.
"""
from __future__ import annotations

import numpy as np

CODE = 32
N_IMAGES = 20_000
BATCH = 1000
LR = 1e-3
CHANNELS = (8, 16, 32)
HIDDEN = 64
# nnjax computes each step's gradient in chunks of this many images (TrainConfig.microbatch:
# the batch-1000 gradient to round-off, a chunk's activations staying in the caches;
# benchmarks/TRIED.md). PyTorch runs its idiomatic whole-batch step.
MICROBATCH = 100


def images(x: np.ndarray) -> np.ndarray:
    """The first ``N_IMAGES`` rows of the (N, 784) benchmark data as (n, 28, 28, 1)."""
    n = min(N_IMAGES, len(x))
    return np.ascontiguousarray(x[:n].reshape(n, 28, 28, 1), dtype=np.float32)


def batch_size(n: int) -> int:
    """1000, or a quarter of the images when there are fewer than 4000 (``--tiny``)."""
    return BATCH if n >= 4 * BATCH else max(1, n // 4)


def microbatch(batch: int):
    """:data:`MICROBATCH`, or None (the whole batch) when it does not divide ``batch``
    (``--tiny``'s small batches)."""
    return MICROBATCH if batch % MICROBATCH == 0 else None


def layer_macs(hw=(28, 28), channels=CHANNELS, hidden=HIDDEN, code=CODE) -> list:
    """Multiply-adds per image of each weight layer, in order (encoder then decoder)."""
    c1, c2, c3 = channels
    (h, w), out = hw, []
    sizes, cin = [], 1
    for c, p in ((c1, 1), (c2, 1), (c3, 0)):
        ho, wo = (h + 2 * p - 3) // 2 + 1, (w + 2 * p - 3) // 2 + 1
        out.append(ho * wo * 9 * cin * c)
        sizes.append((h, w))
        h, w, cin = ho, wo, c
    flat = h * w * c3
    out += [flat * hidden, hidden * code, code * hidden, hidden * flat]
    for (hi, wi), co in zip(((h, w),) + tuple(sizes[:0:-1]), (c2, c1, 1)):
        out.append(hi * wi * 9 * cin * co)
        h, w = hi, wi
        cin = co
    return out


def conv_geometries(hw=(28, 28), channels=CHANNELS) -> list:
    """Each conv layer as the Conv2D it is (a ConvTranspose2D is the adjoint of one):
    ``(H, W, I, O, k, s, lo, first)`` with (H, W, I) that conv's input, O its output
    channels, padding ``lo`` low, ``first`` for the encoder's first layer (no dx)."""
    c1, c2, c3 = channels
    out, (h, w), cin = [], hw, 1
    for c, p in ((c1, 1), (c2, 1), (c3, 0)):
        out.append((h, w, cin, c, 3, 2, p, cin == 1 and (h, w) == tuple(hw)))
        h, w, cin = (h + 2 * p - 3) // 2 + 1, (w + 2 * p - 3) // 2 + 1, c
    return out + [g[:7] + (False,) for g in out]   # the decoder's mirror images


def adjoint_macs(geometry, lowering: str) -> float:
    """Multiply-adds per image of one ``conv_adjoint`` as the lowering executes it: the
    useful Ho·Wo·k²·I·O, except ``phase``, whose sub-pixel matmul is (M_h·M_w,
    Q²·O)·(Q²·O, s²·I) with M = ⌈(lo + H)/s⌉ and Q = ⌈k/s⌉ (zero taps included)."""
    h, w, i, o, k, s, lo, _ = geometry
    ho, wo = (h + 2 * lo - k) // s + 1, (w + 2 * lo - k) // s + 1
    if lowering != "phase":
        return ho * wo * k * k * i * o
    q, mh, mw = -(-k // s), -(-(lo + h) // s), -(-(lo + w) // s)
    return mh * mw * q * q * o * s * s * i


def executed_flops_per_image(lowering: str) -> float:
    """FLOPs of the matmuls a training step runs per image under ``lowering``: per conv
    geometry 2·MAC for the conv and for the kernel gradient, 2·:func:`adjoint_macs` for
    the adjoint (all but the first layer's), 6·fan_in·fan_out per Linear; ``phase`` and
    ``phasesum`` build a one-channel conv's patches from its space-to-depth image, whose
    (s·⌈k/s⌉)² columns include zero-weight taps (16 for 9). For ``xla``
    (XLA's own convolution kernels, whose inner work is not visible) the useful count.
    ``tests/test_conv_bench.py`` checks it against the dots in XLA's optimized HLO."""
    total = 0.0
    for g in conv_geometries():
        h, w, i, o, k, s, lo, first = g
        ho, wo = (h + 2 * lo - k) // s + 1, (w + 2 * lo - k) // s + 1
        taps = k * k
        if lowering in ("phase", "phasesum") and i == 1 and s > 1:
            taps = (-(-k // s) * s) ** 2        # space-to-depth patches: s²·Q² columns
        total += 4.0 * ho * wo * taps * i * o + (0.0 if first else 2.0 * adjoint_macs(
            g, lowering))
    return total + 6.0 * sum(layer_macs()[3:7])


def flops_per_image() -> float:
    """6·ΣMAC − 2·MAC of the first layer (see the module docstring)."""
    macs = layer_macs()
    return 6.0 * sum(macs) - 2.0 * macs[0]


def flops_per_run_epoch(n_images: int) -> float:
    """FLOPs of one run's epoch over ``n_images`` (whole batches only)."""
    b = batch_size(n_images)
    return flops_per_image() * (n_images // b) * b
