"""Inverted dropout."""
from __future__ import annotations

import jax

from nnjax.layer import Layer


def Dropout(rate: float, *, name: str = "Dropout") -> Layer:
    """Inverted dropout with drop probability ``rate`` (as ``torch.nn.Dropout(p=rate)``).

    Train: ``y = x ⊙ m / (1 − rate)`` with ``m ~ Bernoulli(1 − rate)`` drawn from ``key``;
    ``dx = dy ⊙ m / (1 − rate)``. Eval (``train=False``): identity, ``dx = dy``.
    Shapes: any (N, ...) → same.
    """
    if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ValueError(f"{name}: rate is the drop probability and must lie in [0, 1), got {rate!r}.")
    rate = float(rate)
    label = f"{name}({rate:g})"

    def init(key, in_shape):
        return (), (), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        if not train or rate == 0.0:
            return x, state, ()
        if key is None:
            raise ValueError(
                f"{label}: train=True needs a PRNG key for the dropout mask; call"
                f" forward(..., key=jax.random.key(seed), train=True), or train=False to evaluate."
            )
        keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
        scale = keep.astype(x.dtype) / (1.0 - rate)
        return x * scale, state, scale

    def backward(params, scale, dy):
        if isinstance(scale, tuple):  # eval mode: identity
            return (), dy
        return (), dy * scale

    return Layer(init, forward, backward, name=label)
