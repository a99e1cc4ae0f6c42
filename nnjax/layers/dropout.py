"""Inverted dropout."""
from __future__ import annotations

import jax

from nnjax.layer import Layer
from nnjax.layers import hyperparam as hp


def Dropout(rate, *, name: str = "Dropout") -> Layer:
    """Inverted dropout with drop probability ``rate`` (as ``torch.nn.Dropout(p=rate)``).

    Train: ``y = x ⊙ m / (1 − rate)`` with ``m ~ Bernoulli(1 − rate)`` drawn from ``key``;
    ``dx = dy ⊙ m / (1 − rate)``. Eval (``train=False``): identity, ``dx = dy``.
    Shapes: any (N, ...) → same. ``rate`` may be ``L.hyper("dropout", 0.1)``: a per-run
    number kept in ``state`` (see :mod:`nnjax.layers.hyperparam`).
    """
    default, hname = hp.resolve(rate, f"{name}: rate")
    if not 0.0 <= default < 1.0:
        raise ValueError(f"{name}: rate is the drop probability and must lie in [0, 1), got {default!r}.")
    label = f"{name}({hp.label(default, hname)})"

    def init(key, in_shape):
        return (), hp.initial(default, hname), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        if not train or (hname is None and default == 0.0):
            return x, state, ()
        if key is None:
            raise ValueError(
                f"{label}: train=True needs a PRNG key for the dropout mask; call"
                f" forward(..., key=jax.random.key(seed), train=True), or train=False to evaluate."
            )
        # a traced rate draws its mask in float32 whatever the dtype (the same mask as the
        # constant rate in float32 training, and in the float64 gradient check)
        p = default if hname is None else state.value.astype(jax.numpy.float32)
        keep = jax.random.bernoulli(key, 1.0 - p, x.shape)
        scale = keep.astype(x.dtype) / (1.0 - p)
        return x * scale.astype(x.dtype), state, scale.astype(x.dtype)

    def backward(params, scale, dy):
        if isinstance(scale, tuple):  # eval mode: identity
            return (), dy
        return (), dy * scale

    return Layer(init, forward, backward, name=label, hypers=hp.declared(default, hname))
