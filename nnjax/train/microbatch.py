"""One training step's gradient computed in chunks of the batch (``TrainConfig.microbatch``).

``wrap(vg, m)`` turns a value-and-grad function (:mod:`nnjax.backprop`: ``vg(params,
state, x, target, key) -> ((value, Aux(state, output)), grads)``) into one that splits a
batch of B examples into c = B / m chunks of m and runs forward, loss and backward on
each chunk in turn (a ``lax.scan``), then averages::

    value = (1/c) Σ_j value_j,   grads = (1/c) Σ_j grads_j,   output = concat_j output_j

Every loss of :mod:`nnjax.losses` is a mean over the batch (or its elements), so with
equal chunks the mean of the chunk means is the batch mean and the mean of the chunk
gradients the batch gradient: for layers that treat examples independently the step is
the unchunked one up to float round-off (``tests/test_microbatch.py``). Why: on CPU a
batch of 1000 28×28 images through small convolutions streams every activation through
main memory several times per op; a chunk's activations, patches and gradients stay in
the caches (measured on the conv autoencoder, benchmarks/TRIED.md).

Layers that couple the examples of a batch see chunks instead: BatchNorm normalises
each chunk by its own statistics (its running statistics are updated chunk after chunk,
the state threads through the scan), and a layer drawing randomness (dropout) gets the
key ``fold_in(key, j)`` for chunk j. ``TrainConfig`` refuses an m that does not divide
its batch size; a batch that m does not divide (the last partial batch without
``drop_last``) runs unchunked.
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from nnjax.backprop import Aux


def chunks(batch: int, m: Optional[int]) -> int:
    """How many chunks a batch of ``batch`` examples runs as: ``batch // m`` when m
    divides it into two or more, else 1 (unchunked)."""
    if m is None or m >= batch or batch % m:
        return 1
    return batch // m


def wrap(vg: Callable, m: Optional[int]) -> Callable:
    """``vg`` computed in chunks of ``m`` examples (see the module docstring); ``vg``
    itself when ``m`` is None."""
    if m is None:
        return vg

    def chunked(params, state, x, target, key=None):
        c = chunks(x.shape[0], m)
        if c == 1:
            return vg(params, state, x, target, key)
        split = lambda a: a.reshape((c, a.shape[0] // c) + a.shape[1:])  # noqa: E731

        def body(carry, inputs):
            state, total, grads = carry
            j, xj, tj = inputs
            kj = None if key is None else jax.random.fold_in(key, j)
            (value, aux), g = vg(params, state, xj, tj, kj)
            return (aux.state, total + value, jax.tree.map(jnp.add, grads, g)), aux.output

        (value_shape, _), grads_shape = jax.eval_shape(
            vg, params, state, split(x)[0], split(target)[0], key)
        zero = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), (value_shape, grads_shape))
        (state, total, grads), outputs = jax.lax.scan(
            body, (state,) + zero,
            (jnp.arange(c), split(x), split(target)))
        output = outputs.reshape((x.shape[0],) + outputs.shape[2:])
        return (total / c, Aux(state, output)), jax.tree.map(lambda g: g / c, grads)

    return chunked
