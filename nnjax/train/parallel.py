"""How the run axis is executed: ``vmap``, chunks (``lax.map``), devices (``shard_map``).

A :class:`RunMapper` turns ``f(run, shared)`` — one run's pytree and the pytree every
run shares (the data) — into ``g(runs, shared)`` over stacked runs (leading axis R):

* default: ``vmap(f, in_axes=(0, None))``, all runs at once;
* ``chunk_size=c``: ``lax.map(..., batch_size=c)``, c runs at a time (memory);
* ``mesh``: ``jax.shard_map`` over a 1-D mesh with axis ``"runs"``: each device takes
  R/D runs (vmapped or chunked) and the shared pytree is replicated.

R must be a multiple of :meth:`RunMapper.multiple`; :func:`pad_runs` pads by repeating
the last run and the caller drops the padding. Each run's keys come from its seed before
any of this, so results do not depend on the device count or the chunking.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from nnjax import distributed

AXIS = "runs"


def make_mesh(devices: Optional[Sequence] = None, runs: Optional[int] = None) -> Optional[Mesh]:
    """A 1-D mesh named ``"runs"`` over ``devices`` (default ``jax.devices()``: with
    :mod:`nnjax.distributed` started, the devices of every process; in one process, at most
    ``runs`` of them, so that fewer runs than devices are not padded); None for one."""
    if devices is None:
        devices = jax.devices()
        if runs is not None and jax.process_count() == 1:
            devices = devices[:max(1, runs)]
    devices = list(devices)
    if len(devices) <= 1:
        return None
    return Mesh(np.asarray(devices), (AXIS,))


@dataclass(frozen=True)
class RunMapper:
    """Map a per-run function over stacked runs; see the module docstring."""

    chunk_size: Optional[int] = None
    mesh: Optional[Mesh] = None

    def __post_init__(self):
        c = self.chunk_size
        if c is not None and (not isinstance(c, int) or c < 1):
            raise ValueError(f"chunk_size must be a positive int or None, got {self.chunk_size!r}.")

    @property
    def n_devices(self) -> int:
        return 1 if self.mesh is None else self.mesh.devices.size

    def multiple(self, r: int) -> int:
        """The padded run count: a multiple of the device count and, per device, of the chunk."""
        d = self.n_devices
        local = -(-r // d)
        if self.chunk_size is not None and self.chunk_size < local:
            local = -(-local // self.chunk_size) * self.chunk_size
        return local * d

    def __call__(self, f: Callable) -> Callable:
        chunk = self.chunk_size

        def local(runs, shared):
            r = jax.tree.leaves(runs)[0].shape[0]
            if r == 1 or chunk == 1:
                # one run at a time, unbatched: lax.map's batch_size=1 would still vmap f,
                # and XLA's CPU backend runs a vmapped convolution (a grouped conv over
                # per-run kernels) several times slower than the plain one
                return jax.lax.map(lambda run: f(run, shared), runs)
            if chunk is None or chunk >= r:
                return jax.vmap(f, in_axes=(0, None))(runs, shared)
            return jax.lax.map(lambda run: f(run, shared), runs, batch_size=chunk)

        if self.mesh is None:
            return local
        return jax.shard_map(local, mesh=self.mesh, in_specs=(P(AXIS), P()),
                             out_specs=P(AXIS), check_vma=False)

    def put_runs(self, tree):
        """Place stacked per-run arrays: split over the mesh (or leave them as they are)."""
        if self.mesh is None:
            return tree
        return distributed.put(tree, NamedSharding(self.mesh, P(AXIS)))

    def put_shared(self, tree):
        """Place shared arrays (the data): replicated on every device of the mesh (without
        one, on the default device). NumPy arrays go straight from the host to each
        device: on CPU a 64-byte aligned one (as :mod:`nnjax.data` returns) is used in
        place, without a copy (see :func:`host_input`)."""
        if self.mesh is None:
            return jax.device_put(tree)
        return distributed.put(tree, NamedSharding(self.mesh, P()))


def host_input(x):
    """``x`` (inputs: N on the first axis) in the dtype JAX computes it in, where it is:
    a JAX array stays one; anything else becomes a NumPy array (no copy when its dtype is
    already canonical, e.g. float32) that stays on the host until :meth:`RunMapper.put_shared`
    places it: ``jnp.asarray`` would copy it to one device first, and again to each other
    device of a mesh."""
    if isinstance(x, jax.Array):
        return x
    x = np.asarray(x)
    return x.astype(jax.dtypes.canonicalize_dtype(x.dtype), copy=False)


def pad_runs(tree, r_padded: int):
    """Pad every leaf's leading axis R to ``r_padded`` by repeating the last run.

    Returns ``(padded, R)``; slice results with ``[:R]``. One compiled program for the
    whole tree (eager, each leaf's slice, repeat and concatenation were programs of their
    own: some thirty for an MLP's parameters on sharded arrays).
    """
    r = jax.tree.leaves(tree)[0].shape[0]
    if r_padded == r:
        return tree, r
    return _padded(tree, r_padded), r


@functools.partial(jax.jit, static_argnums=1)
def _padded(tree, r_padded: int):
    def pad(a):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):     # copies of a key: its data
            return jax.random.wrap_key_data(pad(jax.random.key_data(a)),
                                            impl=jax.random.key_impl(a))
        extra = jnp.repeat(a[-1:], r_padded - a.shape[0], axis=0)
        return jnp.concatenate([a, extra], axis=0)
    return jax.tree.map(pad, tree)


def unpad(tree, r: int):
    """Drop the padding runs: every leaf ``[:r]`` (one compiled program for the tree;
    the tree as it is when no leaf is padded)."""
    if all(a.shape[0] == r for a in jax.tree.leaves(tree)):
        return tree
    return _unpadded(tree, r)


@functools.partial(jax.jit, static_argnums=1)
def _unpadded(tree, r: int):
    return jax.tree.map(lambda a: a[:r], tree)
