"""IDX files (the MNIST format), read and written without dependencies.

Layout (all integers big-endian)::

    bytes 0-1   0x00 0x00
    byte  2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     rank (number of dimensions) n ≥ 1
    4·n bytes   the dimensions, one unsigned 32-bit integer each
    the data    prod(dims) items of that dtype, row-major

A file may be gzipped as a whole; it is recognised by the gzip magic ``1f 8b``, not
by its name. Every error names the file and says what was wrong.

Example::

    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x-idx3-ubyte.gz"
    >>> write_idx(p, np.arange(24, dtype=np.uint8).reshape(2, 3, 4), gzip=True)
    >>> read_idx(p).shape
    (2, 3, 4)
"""
from __future__ import annotations

import gzip as _gzip
import os
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"

#: IDX dtype code -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}


class IdxError(ValueError):
    """A file is not a well-formed IDX file (the message names the file)."""


def read_bytes(path) -> bytes:
    """The content of ``path``, gunzipped when it starts with the gzip magic ``1f 8b``.

    Raises :class:`IdxError` naming the file when the gzip stream is truncated or corrupt.
    """
    raw = Path(path).read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return _gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise IdxError(f"{path}: the gzip data is truncated or corrupt ({err}).") from None


def parse_idx(data: bytes, *, source: str = "<bytes>", rank: Optional[int] = None) -> np.ndarray:
    """Parse decompressed IDX bytes into a native-endian array of shape ``dims``.

    ``source`` names the file in error messages; ``rank``, when given, is the number of
    dimensions the caller expects. The array is a read-only view when the dtype is one
    byte wide (no copy), else a native-endian copy.
    """
    if len(data) < 4:
        raise IdxError(f"{source}: {len(data)} bytes is too short for an IDX header (4 bytes).")
    if data[0] != 0 or data[1] != 0:
        raise IdxError(
            f"{source}: not an IDX file: the magic number starts with {data[:2].hex(' ')}, "
            "expected 00 00 (a gzipped file would start with 1f 8b)."
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IdxError(f"{source}: unknown IDX dtype code 0x{code:02X} (known: {known}).")
    if ndim == 0:
        raise IdxError(f"{source}: the IDX header gives rank 0; expected at least 1.")
    if rank is not None and ndim != rank:
        raise IdxError(f"{source}: the IDX file has rank {ndim}, expected {rank}.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(
            f"{source}: truncated header: {len(data)} bytes, a rank-{ndim} header needs {header}."
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise IdxError(
            f"{source}: file {what}: {len(data)} bytes, but the header {dims} of {dtype.name} "
            f"needs exactly {expected}. Delete it and fetch it again (`nnjax data fetch`)."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def read_idx(path, *, rank: Optional[int] = None) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a numpy array; see :func:`parse_idx`."""
    return parse_idx(read_bytes(path), source=str(path), rank=rank)


def to_idx_bytes(array) -> bytes:
    """Encode ``array`` (uint8, int8, int16, int32, float32 or float64) as IDX bytes."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise IdxError(
            f"cannot write dtype {array.dtype} as IDX; use one of "
            "uint8, int8, int16, int32, float32, float64."
        )
    if array.ndim == 0 or array.ndim > 255:
        raise IdxError(f"cannot write a rank-{array.ndim} array as IDX (rank 1..255).")
    code = _CODES[native]
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return head + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path, array, gzip: bool = False) -> Path:
    """Write ``array`` to ``path`` as IDX, gzipped when ``gzip`` (deterministic: mtime 0).

    The write is atomic (a temporary file renamed into place). Returns the path.
    """
    path = Path(path)
    data = to_idx_bytes(array)
    if gzip:
        data = _gzip.compress(data, mtime=0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
