"""Shared by the source's studies (``fmnist-ae``, ``fmnist-ffnn``): data split, run
selection for display, and a grid of images with one caption per image.

The source trains on all 60 000 Fashion-MNIST training images and reports the test set;
it has no validation set. We do the same: ``concatenate(train, val)`` of the loader's
split (val = the last 10 000 training images) restores the original 60 000 in file
order. The test set is passed to ``fit`` as its monitoring set, so the per-epoch test
curves exist; nothing is selected on it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np



class Data(NamedTuple):
    """Flat images: ``x`` (N, D) float32 in [0, 1], ``y`` (N,) int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    name: str


def load(ctx) -> Data:
    """Fashion-MNIST 60 000 / 10 000 (the source's split), flattened; the 8×8 digits
    (train + val / test) when ``ctx.tiny``."""
    ds = ctx.dataset("fashion-mnist", flatten=True)
    parts = [ds.train] + ([ds.val] if ds.val is not None else [])
    x = np.concatenate([p.x for p in parts])
    y = np.concatenate([p.y for p in parts])
    return Data(x, y, ds.test.x, ds.test.y, tuple(ds.class_names), ds.name)
