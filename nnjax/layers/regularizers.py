"""Activity regularisers: identity layers that add a penalty to the objective."""
from __future__ import annotations

from nnjax.layer import Layer
from nnjax.layers import hyperparam as hp
from nnjax.losses import l1_penalty, l1_penalty_grad


def ActivityL1(strength=1e-4, *, name: str = "ActivityL1") -> Layer:
    """Identity ``y = x`` that adds ``λ·Σ|x|/N`` to the objective (a sparse autoencoder's
    code penalty, Keras' ``activity_regularizer=l1(λ)``).

    Backward: ``dx = dy + λ·sign(x)/N`` — the penalty's gradient is part of the manual
    backward. λ is a per-run number in ``state`` (a
    :class:`~nnjax.layers.hyperparam.HyperValue`), so sweeps trace and vmap it: a
    constant ``strength`` answers the sweep axis ``l1`` (``make_runs(l1=[…])`` sets it in
    every such layer; unswept, each keeps its own λ); ``strength=L.hyper("l1_code", 1e-4)``
    makes it its own sweep axis. Shapes: (N, ...) → same.
    """
    default, hname = hp.resolve(strength, f"{name}: strength")
    if not default >= 0:
        raise ValueError(f"{name}: strength must be ≥ 0, got {default!r}.")
    axis = "l1" if hname is None else hname

    def init(key, in_shape):
        return (), hp.initial(default, axis), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        return x, state, (x, state.value)

    def backward(params, res, dy):
        x, lam = res
        return (), dy + l1_penalty_grad(x, lam).astype(dy.dtype)

    def penalty(params, state, res):
        x, lam = res
        return l1_penalty(x, lam)

    return Layer(init, forward, backward, name=f"{name}({hp.label(default, hname)})",
                 penalty=penalty, hypers=hp.declared(default, hname))
