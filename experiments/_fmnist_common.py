"""Shared by seed 002's studies (``fmnist-ae``, ``fmnist-ffnn``): data split, run
selection for display, and a grid of images with one caption per image.

Seed 002 trains on all 60 000 Fashion-MNIST training images and reports the test set;
it has no validation set. We do the same: ``concatenate(train, val)`` of the loader's
split (val = the last 10 000 training images) restores the original 60 000 in file
order. The test set is passed to ``fit`` as its monitoring set, so the per-epoch test
curves exist; nothing is selected on it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnjax.analysis import stats


class Data(NamedTuple):
    """Flat images: ``x`` (N, D) float32 in [0, 1], ``y`` (N,) int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    name: str


def load(ctx) -> Data:
    """Fashion-MNIST 60 000 / 10 000 (seed 002's split), flattened; the 8×8 digits
    (train + val / test) when ``ctx.tiny``."""
    ds = ctx.dataset("fashion-mnist", flatten=True)
    parts = [ds.train] + ([ds.val] if ds.val is not None else [])
    x = np.concatenate([p.x for p in parts])
    y = np.concatenate([p.y for p in parts])
    return Data(x, y, ds.test.x, ds.test.y, tuple(ds.class_names), ds.name)


def median_run(values) -> int:
    """Index of the run whose value is the median (lower middle for an even count);
    used only to choose which run's pictures to show, never to report a number."""
    v = np.asarray(values, np.float64)
    order = np.argsort(np.where(np.isfinite(v), v, np.inf), kind="stable")
    n_ok = int(np.isfinite(v).sum())
    return int(order[max(n_ok - 1, 0) // 2])


def summarize(values) -> dict:
    return stats.summary(np.asarray(values, np.float64))


def one_per_class(y, n_classes: int = 10) -> np.ndarray:
    """Index of the first example of each class (classes absent are skipped)."""
    return np.asarray([int(np.flatnonzero(y == c)[0]) for c in range(n_classes)
                       if np.any(y == c)])


