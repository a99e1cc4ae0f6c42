"""Stopped runs stop costing: train only the live runs, in a smaller program.

In the masked program every run is computed until the slowest ends; a run that stopped
(early stopping, divergence) keeps its state (its carry is a fixed point, see
:func:`nnjax.train.early_stopping.update`) but still costs a full epoch. A
:class:`Compactor` holds the carry and specs of *all* runs and hands ``fit``'s loop a
gathered subset: the live runs, padded (by repeating the last live run) to a bucket size,
the smallest power of two ≥ the live count rounded up to the mapper's multiple (devices ×
chunk), so a sweep recompiles at most log₂ R times. It compacts only when the bucket
shrinks. Each run's arithmetic is the masked program's (runs are independent and their
keys come from their seeds), so results agree within float32 round-off (a vmap of another
width may round differently).

Example (inside ``fit``)::

    cp = Compactor(carry, specs, r, mapper, enabled=True)
    carry, h = program(cp.carry, cp.specs, shared)
    cp.advance(carry); cp.record(hist, h, epoch, k); cp.compact()
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from nnjax import distributed


# programs compiled in this process (id of fit's program, run count) and the longest
# compilation seen: what a compaction to an unseen size is expected to cost
_COMPILED: set = set()
_COMPILE = [0.0]


def bucket(n: int, mapper, cap: int) -> int:
    """The program size for ``n`` live runs: next power of two, to the mapper's multiple."""
    size = 1 << max(int(n) - 1, 0).bit_length()
    return min(mapper.multiple(size), cap)


def _take(tree, idx):
    idx = np.asarray(idx)          # host indices: the same on every process
    return jax.tree.map(lambda a: a if a is None else jnp.take(a, idx, axis=0), tree)


class Compactor:
    """The current subset of runs (``carry``, ``specs``) and the full carry behind it.

    ``r``: the real run count (the padded specs' first ``r`` rows); ``enabled=False``
    keeps the masked behaviour (the subset is always every run); ``True`` compacts when
    it pays (see :meth:`compact`), ``"always"`` at every smaller bucket.
    """

    def __init__(self, carry, specs, r: int, mapper, enabled: bool = True, program=None):
        self.program_id = id(program)
        self._full, self._specs = carry, specs
        self.r, self.mapper, self.enabled = r, mapper, enabled
        self.size = jax.tree.leaves(carry)[0].shape[0]
        self.idx = np.arange(self.size)          # full-run index of each subset row
        self.n_real = r                          # rows of the subset that are real runs
        self.carry, self.specs = carry, specs
        self.compactions = []                     # (epoch, new size)

    def advance(self, carry) -> None:
        """Take the program's new carry of the current subset."""
        self.carry = carry

    def record(self, hist: dict, h: dict, epoch: int, k: int) -> None:
        """Write the subset's metrics (k, size) into the full history (E, r)."""
        rows = self.idx[:self.n_real]
        for name in hist:
            hist[name][epoch:epoch + k, rows] = np.asarray(h[name])[:k, :self.n_real]

    def full(self):
        """The carry of every run (padded as ``fit`` built it)."""
        if self.idx.shape[0] == self._full_size() and np.array_equal(
                self.idx, np.arange(self.idx.shape[0])):
            return self.carry
        rows = np.asarray(self.idx[:self.n_real])
        part = _take(self.carry, np.arange(self.n_real))
        return jax.tree.map(lambda f, p: f.at[rows].set(p), self._full, part)

    def _full_size(self) -> int:
        return jax.tree.leaves(self._full)[0].shape[0]

    def active(self) -> np.ndarray:
        """(r,) bool: which real runs still train."""
        out = np.zeros(self.r, bool)
        live = distributed.to_host(self.carry.tracker.active)[:self.n_real]   # all processes
        rows = self.idx[:self.n_real]
        keep = rows < self.r
        out[rows[keep]] = live[keep]
        return out

    def compact(self, epoch: int = 0, times=(), epochs_left: Optional[int] = None) -> bool:
        """Shrink the subset to the live runs when their bucket is smaller and, given the
        host loop's ``times`` ``[(seconds, epochs), ...]`` of this subset's calls and the
        epochs left, when the time it can save (``epochs_left · t_epoch · (1 − new/old)``,
        an upper bound) exceeds a compilation (estimated as the first call's excess over a
        later call's). True if it compacted."""
        if not self.enabled:
            return False
        active = self.active()
        n = int(active.sum())
        if n == 0:
            return False
        size = bucket(n, self.mapper, self._full_size())
        current = self.idx.shape[0]
        if size >= current:
            return False
        if self.enabled != "always" and epochs_left is not None:
            if len(times) < 2:                 # no steady epoch time of this subset yet
                return False
            t_epoch = times[-1][0] / max(times[-1][1], 1)
            _COMPILE[0] = max(_COMPILE[0], times[0][0] - t_epoch * times[0][1])
            key = (self.program_id, size)
            t_compile = 0.0 if key in _COMPILED else _COMPILE[0]
            # timed per process: process 0's decision holds for all (or they would hang)
            if not distributed.agree(epochs_left * t_epoch * (1 - size / current) > t_compile):
                return False
        _COMPILED.add((self.program_id, size))
        self._full = self.full()
        live = np.flatnonzero(active)
        idx = np.concatenate([live, np.full(size - n, live[-1])])
        self.idx, self.n_real = idx, n
        self.carry = self.mapper.put_runs(_take(self._full, idx))
        self.specs = self.mapper.put_runs(_take(self._specs, idx))
        self.compactions.append((epoch, size))
        return True
