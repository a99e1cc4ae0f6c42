"""Image corruptions (pure, vmappable JAX functions of a key) and PSNR.

Images are batch-first: (N, H, W, C), (N, H, W) or flattened (N, D); pixels in [0, 1].
Each corruption draws independent noise for every image (and pixel) from ``key`` alone,
so ``jax.vmap(lambda k: gaussian_noise(k, x, 0.3))(keys)`` gives one corrupted copy per
key, and numeric arguments (``sigma``) may be traced, hence vmapped too.

What the source studies did, as far as their reports say:

* the ``denoising`` study's source trained its denoiser on ``clip(x + N(0, 0.2²), 0, 1)`` and showed σ = 0.2 and
  0.6: :func:`gaussian_noise` with ``clip=True`` (the default).
* the ``ae-denoise-gauss`` study's source added ``ε ~ N(0, 0.6)``; we read 0.6 as the
  standard deviation (as the ``denoising`` study's σ = 0.6); its report does not mention clipping.
* the ``noise-robustness`` study's source tested with noise "sampled from N(0, σ)", σ ∈ {0.1, 0.3, 0.5, 1, 2}, and
  "sampled from U[0, 1)", and with "a portion of size 14 × 14 of the image, randomly
  chosen, set to zero". Its report does not say whether the noisy images were clipped;
  read literally the noise is added and not clipped: ``gaussian_noise(..., clip=False)``
  and :func:`uniform_noise` (additive, unclipped by default). :func:`occlude` zeroes one
  14 × 14 square per image at a uniformly random position lying wholly inside the image.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def gaussian_noise(key, x, sigma, clip: bool = True):
    """``x + sigma·ε``, ε ~ N(0, 1) per element, clipped to [0, 1] when ``clip``.

    ``sigma`` is the standard deviation (a float or traced scalar). Same shape and
    dtype as ``x``.
    """
    x = jnp.asarray(x)
    noisy = x + jnp.asarray(sigma, x.dtype) * jax.random.normal(key, x.shape, x.dtype)
    return jnp.clip(noisy, 0.0, 1.0) if clip else noisy


def uniform_noise(key, x, low: float = 0.0, high: float = 1.0, clip: bool = False):
    """``x + u``, u ~ U[low, high) per element (``noise-robustness``: U[0, 1), added, not clipped).

    With ``clip`` the result is clipped to [0, 1]. Same shape and dtype as ``x``.
    """
    x = jnp.asarray(x)
    noise = jax.random.uniform(key, x.shape, x.dtype, minval=low, maxval=high)
    noisy = x + noise
    return jnp.clip(noisy, 0.0, 1.0) if clip else noisy


def _as_images(x):
    """View x as (N, H, W, C) and return it with a function that restores x's shape."""
    shape = x.shape
    if x.ndim == 4:
        return x, lambda y: y
    if x.ndim == 3:
        return x[..., None], lambda y: y[..., 0]
    if x.ndim == 2:
        side = math.isqrt(shape[1])
        if side * side != shape[1]:
            raise ValueError(
                f"occlude: flattened images of {shape[1]} pixels are not square; pass "
                "(N, H, W, C) or (N, H, W) images instead"
            )
        return x.reshape(shape[0], side, side, 1), lambda y: y.reshape(shape)
    raise ValueError(f"occlude: expected (N, H, W, C), (N, H, W) or (N, D) images, got {shape}")


def occlude(key, x, size: int = 14, value: float = 0.0):
    """Set one ``size``×``size`` square per image to ``value`` (``noise-robustness``: 14×14, zero).

    The square's top-left corner is uniform over the H−size+1 × W−size+1 positions where
    it fits inside the image, drawn independently per image. All channels are covered.
    Flattened (N, D) input is treated as √D × √D images. Same shape as ``x``.
    """
    x = jnp.asarray(x)
    images, restore = _as_images(x)
    n, height, width, _ = images.shape
    if not 0 < size <= min(height, width):
        raise ValueError(f"occlude: size={size} must be in 1..{min(height, width)} "
                         f"for {height}×{width} images")
    k_top, k_left = jax.random.split(key)
    top = jax.random.randint(k_top, (n, 1), 0, height - size + 1)
    left = jax.random.randint(k_left, (n, 1), 0, width - size + 1)
    rows, cols = jnp.arange(height)[None, :], jnp.arange(width)[None, :]
    in_rows = (rows >= top) & (rows < top + size)          # (N, H)
    in_cols = (cols >= left) & (cols < left + size)        # (N, W)
    mask = (in_rows[:, :, None] & in_cols[:, None, :])[..., None]  # (N, H, W, 1)
    return restore(jnp.where(mask, jnp.asarray(value, x.dtype), images))


def psnr(x, y, max_val: float = 1.0):
    """Peak signal-to-noise ratio per image in dB: ``10·log10(max_val² / MSE)``.

    ``x``, ``y``: the same batch-first shape (N, ...); the MSE is the mean over all
    non-batch axes. Returns shape (N,); +inf where the images are identical.
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.shape != y.shape or x.ndim < 2:
        raise ValueError(f"psnr: expected two batches of the same shape (N, ...), "
                         f"got {x.shape} and {y.shape}")
    mse = jnp.mean(jnp.square(x - y), axis=tuple(range(1, x.ndim)))
    return 10.0 * jnp.log10(jnp.asarray(max_val, mse.dtype) ** 2 / mse)
