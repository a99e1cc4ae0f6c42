"""Datasets for nnjax: MNIST / Fashion-MNIST with verified checksums, 8×8 digits,
synthetic toy sets and the corruptions (noise, occlusion) the studies use.

Real data (numpy arrays, float32 pixels in [0, 1], int32 labels)::

    load(name, *, data_dir=None, n_val=10_000, flatten=False) -> Dataset
    digits(*, n_val=300, n_test=300, flatten=False, seed=0)   -> Dataset
    fetch(name, data_dir=None, *, sources=None)                -> {file key: path}

``load`` only reads local, verified files; ``fetch`` (``nnjax data fetch``) gets them.
Synthetic sets and corruptions are pure JAX functions of a key (vmappable over keys)::

    linear_regression(key, n=400) -> (x, y, Line(w, b))
    blobs(key, n=400), xor_blobs(key, n=400) -> (x, y)
    gaussian_noise(key, x, sigma, clip=True), uniform_noise(key, x),
    occlude(key, x, size=14), psnr(x, y, max_val=1.0)

IDX files: ``read_idx(path)``, ``write_idx(path, array, gzip=False)``.
"""
from .corrupt import gaussian_noise, occlude, psnr, uniform_noise
from .datasets import Dataset, Split, digits, load
from .resolve import DataNotFoundError, fetch, locate
from .idx import IdxError, parse_idx, read_idx, write_idx
from .registry import DATASETS, IntegrityError
from .sources import Source, SourceError, cache_root, default_sources
from .synthetic import Line, blobs, linear_regression, xor_blobs

__all__ = [
    "Dataset", "Split", "load", "digits", "fetch", "locate", "DATASETS",
    "DataNotFoundError", "IntegrityError", "IdxError", "SourceError",
    "read_idx", "parse_idx", "write_idx", "Source", "default_sources", "cache_root",
    "linear_regression", "blobs", "xor_blobs", "Line",
    "gaussian_noise", "uniform_noise", "occlude", "psnr",
]
