"""Per-run hyperparameters as traced values, and the Optax optimizers built from them.

Every run carries a :class:`Hyper` of scalars. The optimizer is
``optax.inject_hyperparams(factory)(learning_rate=h.learning_rate, ...)``: the numbers
live in the optimizer *state*, so under ``vmap`` each run updates with its own learning
rate, momentum and weight decay inside one compiled program (a Python float would be
baked into the program and a sweep would recompile).

Optimizers (PyTorch semantics, so the seeds' settings carry over):

* ``sgd``:      ``θ ← θ − lr·(g + wd·θ)``
* ``momentum``: ``v ← μ·v + (g + wd·θ)``, ``θ ← θ − lr·v`` (``SGD(momentum=μ)``)
* ``adam``:     Adam on ``g + wd·θ`` (``torch.optim.Adam(weight_decay=wd)``, coupled L2)
* ``adamw``:    ``optax.adamw`` (decoupled: ``θ ← θ − lr·(adam_step + wd·θ)``)
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

HYPER_NAMES = ("learning_rate", "momentum", "weight_decay", "noise_std", "l1")


class Hyper(NamedTuple):
    """One run's numeric hyperparameters (float32 scalars; stacked (R,) over runs).

    ``l1`` is NaN when the run keeps the L1 strength its ``ActivityL1`` layers were built
    with; otherwise it replaces λ in every ``L1State`` of the model state.
    """

    learning_rate: jax.Array
    momentum: jax.Array
    weight_decay: jax.Array
    noise_std: jax.Array
    l1: jax.Array


def _factory(name: str, b1: float, b2: float, eps: float):
    if name == "sgd":
        def make(learning_rate, momentum, weight_decay):
            return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate))
    elif name == "momentum":
        def make(learning_rate, momentum, weight_decay):
            return optax.chain(optax.add_decayed_weights(weight_decay),
                               optax.sgd(learning_rate, momentum=momentum))
    elif name == "adam":
        def make(learning_rate, momentum, weight_decay):
            return optax.chain(optax.add_decayed_weights(weight_decay),
                               optax.adam(learning_rate, b1=b1, b2=b2, eps=eps))
    elif name == "adamw":
        def make(learning_rate, momentum, weight_decay):
            return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose sgd, momentum, adam or adamw.")
    return make


def make_optimizer(name: str, hyper: Hyper, *, b1=0.9, b2=0.999, eps=1e-8):
    """The run's Optax transformation, its numbers injected from ``hyper`` (traced).

    Its ``init`` stores ``learning_rate``, ``momentum``, ``weight_decay`` in the state;
    its ``update`` reads them back from the state, so the update of a state made by any
    ``make_optimizer(name, ·)`` uses that state's numbers.
    """
    factory = optax.inject_hyperparams(_factory(name, b1, b2, eps))
    return factory(learning_rate=hyper.learning_rate, momentum=hyper.momentum,
                   weight_decay=hyper.weight_decay)


def set_l1(model_state, l1):
    """Replace the strength of every ``L1State`` in ``model_state`` by ``l1`` unless NaN."""
    from nnjax.layers.regularizers import L1State

    def fix(s):
        if isinstance(s, L1State):
            return L1State(jnp.where(jnp.isnan(l1), s.strength, l1).astype(s.strength.dtype))
        return s

    return jax.tree.map(fix, model_state, is_leaf=lambda s: isinstance(s, L1State))
