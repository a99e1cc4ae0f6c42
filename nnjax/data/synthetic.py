"""Toy datasets (linear regression, two blobs, XOR) as pure JAX functions of a PRNG key.

Each function depends only on ``key`` (and the static ``n``), so
``jax.vmap(lambda k: blobs(k))(jax.random.split(key, 25))`` makes 25 datasets at once,
and the same key always gives the same data.

Distributions (as the ``linear-regression``, ``linear-classification`` and ``xor``
studies' source report describes them):

* :func:`linear_regression`: ``w ~ U(−5, 5)``, ``b ~ U(−10, 10)`` drawn once per key,
  ``x ~ U(0, 10)``, ``y = w·x + b + 0.5·ε`` with ``ε ~ N(0, 1)`` (noise variance 0.25:
  the MSE floor).
* :func:`blobs`: two isotropic unit-variance Gaussians, centres (−3, −3) → label 0 and
  (3, 3) → label 1. The source report gives neither centre; these are
  our choice, on the XOR set's scale, and make the set separable in practice (Bayes
  error Φ(−3√2) ≈ 1e-5, consistent with the published accuracy IQM 1.000).
* :func:`xor_blobs`: four unit-variance Gaussians at (±3, ±3); label 1 where the centre's
  coordinates differ in sign ((3, −3), (−3, 3)), 0 at (3, 3) and (−3, −3).

Classes are balanced exactly (point ``i`` comes from blob ``i mod k``, then the points
are shuffled), labels are int32 of shape (n,).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Line(NamedTuple):
    """The true parameters of :func:`linear_regression` (scalars)."""

    w: jax.Array
    b: jax.Array


def linear_regression(key, n: int = 400):
    """``(x, y, Line(w, b))`` with x, y of shape (n, 1) float32; see the module doc."""
    kw, kb, kx, ke = jax.random.split(key, 4)
    w = jax.random.uniform(kw, (), minval=-5.0, maxval=5.0)
    b = jax.random.uniform(kb, (), minval=-10.0, maxval=10.0)
    x = jax.random.uniform(kx, (n, 1), minval=0.0, maxval=10.0)
    y = w * x + b + 0.5 * jax.random.normal(ke, (n, 1))
    return x, y, Line(w, b)


def _mixture(key, n: int, centres, labels):
    """n points, point i from unit-variance blob i mod k, shuffled: (x (n,2), y (n,))."""
    centres = jnp.asarray(centres, dtype=jnp.float32)
    labels = jnp.asarray(labels, dtype=jnp.int32)
    k_noise, k_perm = jax.random.split(key)
    blob = jax.random.permutation(k_perm, jnp.arange(n) % len(centres))
    x = centres[blob] + jax.random.normal(k_noise, (n, 2))
    return x, labels[blob]


def blobs(key, n: int = 400):
    """Two unit-variance blobs at (−3, −3) (label 0) and (3, 3) (label 1), n/2 each.

    Returns ``(x, y)``: x (n, 2) float32, y (n,) int32.
    """
    return _mixture(key, n, [[-3.0, -3.0], [3.0, 3.0]], [0, 1])


def xor_blobs(key, n: int = 400):
    """Four unit-variance blobs at (±3, ±3), n/4 each, XOR labels (1 where signs differ).

    Returns ``(x, y)``: x (n, 2) float32, y (n,) int32.
    """
    centres = [[3.0, 3.0], [-3.0, -3.0], [3.0, -3.0], [-3.0, 3.0]]
    return _mixture(key, n, centres, [0, 0, 1, 1])
