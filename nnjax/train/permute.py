"""A per-run shuffle without a sort: a keyed bijection of ``range(n)``.

``jax.random.permutation`` sorts n random keys (O(n log n), and per run under ``vmap``:
15 full sorts of 60 000 keys per epoch were 14% of the per-run epoch's op time). Here
position ``i`` of the epoch takes example ``π(i)``, with π a Feistel network of
``ROUNDS`` rounds on ``[0, 4^h)`` (``h = ⌈log₂(n)/2⌉`` bits per half, so ``4^h < 4n``)
whose round function is a 32-bit integer hash of the half and a round key drawn from
``key``; values ≥ n are *cycle-walked* (π applied again until < n), which keeps a
bijection of the larger domain a bijection of ``range(n)``. Every step is elementwise
(O(n), no sort); the walk needs ``4^h / n`` rounds on average (≤ 4, 1.09 for n = 60 000).

The order is pseudo-random, not uniform over all n! permutations; for minibatch SGD
what matters is that every example comes once per epoch in a key-dependent order.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

ROUNDS = 6


def _mix(x):
    """MurmurHash3's 32-bit finaliser (a bijection of uint32 with good avalanche)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def feistel_permutation(key, n: int):
    """(n,) int32: a permutation of ``range(n)`` chosen by ``key`` (see the module docstring)."""
    if n <= 1:
        return jnp.arange(n, dtype=jnp.int32)
    h = max(1, math.ceil(math.log2(n) / 2))
    mask = jnp.uint32((1 << h) - 1)
    round_keys = jax.random.bits(key, (ROUNDS,), jnp.uint32)

    def encrypt(v):
        left, right = v >> h, v & mask
        for i in range(ROUNDS):
            left, right = right, left ^ (_mix(right ^ round_keys[i]) & mask)
        return (left << h) | right

    y = encrypt(jnp.arange(n, dtype=jnp.uint32))
    y = jax.lax.while_loop(lambda y: jnp.any(y >= n),
                           lambda y: jnp.where(y >= n, encrypt(y), y), y)
    return y.astype(jnp.int32)
