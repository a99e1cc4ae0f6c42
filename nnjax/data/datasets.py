"""MNIST, Fashion-MNIST and scikit-learn's 8×8 digits as numpy arrays.

Example::

    >>> from nnjax import data
    >>> ds = data.load("mnist")              # after `nnjax data fetch mnist`
    >>> ds.train.x.shape, ds.val.x.shape, ds.test.x.shape
    ((50000, 28, 28, 1), (10000, 28, 28, 1), (10000, 28, 28, 1))
"""
from __future__ import annotations

import sys
from typing import NamedTuple, Optional

import numpy as np

from .resolve import DataNotFoundError, fetch as fetch_files, locate
from .idx import parse_idx
from .registry import get_spec


class Split(NamedTuple):
    """``x``: float32 in [0, 1], (N, H, W, 1) or (N, H·W) when flattened; ``y``: int32 (N,)."""

    x: np.ndarray
    y: np.ndarray


class Dataset(NamedTuple):
    """A dataset split three ways. ``val`` is None when no validation set was asked for
    (``n_val=0``). ``class_names[i]`` names label ``i``."""

    name: str
    train: Split
    val: Optional[Split]
    test: Split
    class_names: tuple


def _images(found, key: str) -> np.ndarray:
    f = found[key]
    images = parse_idx(f.data, source=str(f.path), rank=3)
    if images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"{f.path}: expected uint8 images of 28×28, got {images.dtype} "
                         f"{images.shape[1:]}")
    return images


def _labels(found, key: str, n_images: int) -> np.ndarray:
    f = found[key]
    labels = parse_idx(f.data, source=str(f.path), rank=1)
    if labels.shape[0] != n_images or labels.max(initial=0) > 9:
        raise ValueError(f"{f.path}: {labels.shape[0]} labels (max {labels.max()}) for "
                         f"{n_images} images; expected one label in 0..9 per image")
    return labels.astype(np.int32)


def _split(x: np.ndarray, y: np.ndarray, n_val: int, what: str):
    if not 0 <= n_val < len(x):
        raise ValueError(f"n_val={n_val} must be in [0, {len(x)}) for {what}")
    if n_val == 0:
        return Split(x, y), None
    return Split(x[:-n_val], y[:-n_val]), Split(x[-n_val:], y[-n_val:])


def _scale(images: np.ndarray, flatten: bool, maximum: float) -> np.ndarray:
    """``images / maximum`` in float32 (each pixel cast to float32, then divided), in one
    pass into one new buffer, 64-byte aligned: JAX's CPU devices then use it in place
    (``jax.device_put`` makes no copy), where ``astype`` then ``/`` wrote two fresh
    buffers (each a first touch of every page) and JAX copied the result again."""
    x = np.divide(images, np.float32(maximum), out=aligned_empty(images.shape, np.float32),
                  dtype=np.float32)
    return x.reshape(len(x), -1) if flatten else x[..., None]


def aligned_empty(shape, dtype, align: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary
    (NumPy's allocator guarantees 16: XLA's CPU client aliases host memory only at 64)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def load(name: str, *, data_dir=None, n_val: int = 10_000, flatten: bool = False,
         sources=None, fetch: bool = False) -> Dataset:
    """Load ``"mnist"`` or ``"fashion-mnist"`` from verified local files.

    Pixels are divided by 255 (float32 in [0, 1], no standardising); ``x`` is
    (N, 28, 28, 1), or (N, 784) when ``flatten``; ``y`` is int32. Validation is the
    *last* ``n_val`` training images (the MNIST studies' protocol: 50 000 train / 10 000 val);
    ``n_val=0`` gives ``val=None``. Files are looked for in ``data_dir`` (else
    ``$NNJAX_DATA_DIR``), the cache and system copies, and each one's SHA-256 is checked
    on every load. With ``fetch=False`` nothing is downloaded: a missing or bad file
    raises :class:`~nnjax.data.DataNotFoundError` that names ``nnjax data fetch NAME``;
    with ``fetch=True`` missing files are fetched first, as ``nnjax data fetch`` does
    (saying so on stderr).
    """
    spec = get_spec(name)
    try:
        found = locate(name, data_dir, sources=sources)
    except DataNotFoundError:
        if not fetch:
            raise
        print(f"nnjax: {name} is not here yet; fetching it (as `nnjax data fetch {name}`)",
              file=sys.stderr, flush=True)
        fetch_files(name, data_dir)
        found = locate(name, data_dir, sources=sources)
    train_images = _images(found, "train-images")
    test_images = _images(found, "t10k-images")
    train_y = _labels(found, "train-labels", len(train_images))
    test_y = _labels(found, "t10k-labels", len(test_images))
    train, val = _split(_scale(train_images, flatten, 255), train_y, n_val, name)
    test = Split(_scale(test_images, flatten, 255), test_y)
    return Dataset(name, train, val, test, spec.class_names)


def digits(*, n_val: int = 300, n_test: int = 300, flatten: bool = False,
           seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1797 images), a small real set for tests.

    Pixels (0..16) are divided by 16: ``x`` float32 in [0, 1], (N, 8, 8, 1) or (N, 64)
    when ``flatten``; ``y`` int32 in 0..9. The split is a fixed permutation from
    ``numpy.random.default_rng(seed)``: the first ``n_test`` images are the test set,
    the next ``n_val`` validation (None when 0), the rest (1197 by default) training.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = bunch.images, bunch.target.astype(np.int32)
    if n_test < 1 or n_val < 0 or n_test + n_val >= len(images):
        raise ValueError(f"need n_test ≥ 1, n_val ≥ 0 and n_test + n_val < {len(images)}; "
                         f"got n_test={n_test}, n_val={n_val}")
    order = np.random.default_rng(seed).permutation(len(images))
    x, y = _scale(images[order], flatten, 16), labels[order]
    test = Split(x[:n_test], y[:n_test])
    rest_x, rest_y = x[n_test:], y[n_test:]
    val = Split(rest_x[:n_val], rest_y[:n_val]) if n_val else None
    train = Split(rest_x[n_val:], rest_y[n_val:])
    return Dataset("digits", train, val, test, tuple(str(d) for d in range(10)))
