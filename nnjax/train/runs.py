"""Which runs one compiled program trains: seeds × numeric hyperparameters × folds.

Everything here is host-side NumPy. :func:`make_runs` expands a grid into flat per-run
arrays (the vmapped axis); :func:`kfold` gives randomised k-fold index sets; :func:`keys`
derives each run's PRNG keys from its seed only (never from its position), so results
do not depend on how runs are batched, chunked or sharded.

Example (a grid: 3 learning rates × 3 weight decays × 3 folds, one seed)::

    >>> runs = make_runs(seeds=[0], folds=3, learning_rate=[1e-2, 1e-3, 1e-4],
    ...                  weight_decay=[1e-3, 1e-4, 1e-5])
    >>> runs.size, runs.labels()[0]
    (27, {'learning_rate': 0.01, 'weight_decay': 0.001, 'fold': 0, 'seed': 0})
"""
from __future__ import annotations

import functools
import itertools
from typing import Mapping, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

RESERVED = ("seed", "fold")   # make_runs' own axes: not hyperparameter names



class Runs(NamedTuple):
    """Per-run settings, each an array of shape (R,).

    ``seed``: int; ``hyper``: ``{name: float array}`` for the names swept (others take
    the TrainConfig default); ``fold``: int fold index or None; ``n_folds``/``fold_seed``
    describe the fold split (the same split for every run).
    """

    seed: np.ndarray
    hyper: Mapping[str, np.ndarray]
    fold: Optional[np.ndarray] = None
    n_folds: Optional[int] = None
    fold_seed: int = 0

    @property
    def size(self) -> int:
        return int(self.seed.shape[0])

    def labels(self) -> list:
        """One dict per run: its swept values, fold and seed (JSON-able)."""
        out = []
        for i in range(self.size):
            d = {k: float(v[i]) for k, v in self.hyper.items()}
            if self.fold is not None:
                d["fold"] = int(self.fold[i])
            d["seed"] = int(self.seed[i])
            out.append(d)
        return out


def make_runs(seeds: Union[int, Sequence[int]] = 1, *, folds: Optional[int] = None,
              fold_seed: int = 0, **hyper: Sequence[float]) -> Runs:
    """Cartesian product of the hyperparameter values (in the order given) × folds × seeds.

    The seed varies fastest, then the fold, then the last hyperparameter. ``seeds`` is a
    count (seeds 0..n−1) or a list. ``hyper`` names are per-run numbers of the model and
    config trained (:func:`nnjax.train.hyperparams.sweepable` lists them; ``fit`` checks).
    """
    from nnjax.train.validate import hyper as check       # refuse bad arguments first
    check.runs_args(seeds, folds, fold_seed, hyper)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("make_runs: give at least one seed.")
    reserved = sorted(set(hyper) & set(RESERVED))
    if reserved:
        raise ValueError(f"make_runs: {reserved} are not hyperparameters; pass seeds=... and"
                         " folds=... instead.")
    names = list(hyper)
    values = [list(np.atleast_1d(np.asarray(hyper[n], np.float64))) for n in names]
    fold_list = list(range(folds)) if folds else [None]
    if folds is not None and folds < 2:
        raise ValueError(f"make_runs: folds must be ≥ 2 (or None), got {folds}.")
    rows = list(itertools.product(*values, fold_list, seed_list))
    cols = list(zip(*rows))
    hyper_arrays = {n: np.asarray(cols[i], np.float64) for i, n in enumerate(names)}
    fold = np.asarray(cols[len(names)], np.int32) if folds else None
    return Runs(np.asarray(cols[-1], np.int64), hyper_arrays, fold, folds, int(fold_seed))


def as_runs(runs) -> Runs:
    """Accept a Runs, a seed count or a list of seeds."""
    return runs if isinstance(runs, Runs) else make_runs(runs)


def select(runs: Runs, index) -> Runs:
    """The runs at ``index`` (an int array, slice or bool mask)."""
    return runs._replace(seed=runs.seed[index],
                         hyper={k: v[index] for k, v in runs.hyper.items()},
                         fold=None if runs.fold is None else runs.fold[index])


class RunKeys(NamedTuple):
    """A run's four independent keys, all derived from its seed."""

    init: jax.Array    # parameter initialisation
    order: jax.Array   # minibatch order (per_run shuffle)
    step: jax.Array    # per-step randomness: dropout masks, input noise
    eval: jax.Array    # validation noise (val_noise)


def keys(seeds: np.ndarray) -> RunKeys:
    """Stacked (R,) typed keys: ``split(key(seed), 4)`` for each run."""
    return _keys(jnp.asarray(np.asarray(seeds, np.uint32)))


@functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})
def _keys(seeds):
    k = jax.vmap(lambda s: jax.random.split(jax.random.key(s), 4))(seeds)
    return RunKeys(k[:, 0], k[:, 1], k[:, 2], k[:, 3])


def kfold(n: int, k: int, seed: int = 0) -> tuple:
    """Randomised k-fold split of ``range(n)`` (one permutation from ``seed``).

    Returns ``(train, val)`` int32 arrays of shapes (k, n − n//k) and (k, n//k): fold f
    validates on ``perm[f·m:(f+1)·m]`` with ``m = n//k`` and trains on the rest. The
    ``n mod k`` leftover examples are always in the training part (equal shapes keep
    the folds one vmapped axis).
    """
    from nnjax.train.validate import hyper as check
    check.kfold_args(n, k, seed)
    if k < 2 or n < k:
        raise ValueError(f"kfold: need 2 ≤ k ≤ n, got k={k}, n={n}.")
    perm = np.random.default_rng(seed).permutation(n).astype(np.int32)
    m = n // k
    val = np.stack([perm[f * m:(f + 1) * m] for f in range(k)])
    train = np.stack([np.concatenate([perm[:f * m], perm[(f + 1) * m:]]) for f in range(k)])
    return train, val
