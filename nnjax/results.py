"""Result files that survive crashes: atomic JSON writes, a per-configuration store, resume.

Every file is written to a temporary file in the same directory, flushed, fsynced and
moved into place with ``os.replace``, so a reader sees either the old file or the whole
new one. A crash leaves at most a ``.<name>.<random>.tmp`` file, which is never read.

JSON encoding (:func:`to_jsonable`): NumPy scalars and arrays and JAX arrays become plain
numbers and nested lists, tuples become lists, NamedTuples and dataclasses become dicts,
paths become strings. Non-finite floats are written as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"``, so files are strict JSON and :func:`read_json` gives
back the exact floats (``math.isnan`` holds again). The price: a string equal to one of
those three tokens also reads back as a float. Arrays read back as lists
(``np.asarray(record["curve"])`` restores them).

Corrupt files: :meth:`ResultStore.load` raises :class:`CorruptResultError` naming the
file, and :func:`run_grid` checks every finished configuration before running anything
and stops there by default. Nothing is overwritten unless asked
(``on_corrupt="rerun"`` / ``save(..., overwrite=True)``), and a corrupt file is first
kept as ``<name>.json.corrupt``.

Example::

    >>> store = ResultStore("runs/mnist-mlp")
    >>> grid = [(f"lr={lr}", {"lr": lr}) for lr in (1e-2, 1e-3)]
    >>> records = run_grid(store, grid, lambda cfg: {"acc": train(cfg)})  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import secrets
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import numpy as np

from nnjax import distributed

FORMAT = "nnjax.result/1"
_TOKENS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
PathLike = Union[str, os.PathLike]


class CorruptResultError(ValueError):
    """A result or checkpoint file exists but cannot be read as one. ``.path`` names it."""

    def __init__(self, path: PathLike, reason: str):
        self.path = Path(path)
        super().__init__(
            f"{self.path}: not a readable result ({reason}). It was not used. Inspect it, "
            f"then delete it or move it aside (ResultStore.quarantine) to run it again.")


# --------------------------------------------------------------------------- JSON

def _float(x: float) -> Union[float, str]:
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def to_jsonable(obj: Any, _where: str = "value") -> Any:
    """Plain-Python copy of ``obj`` that ``json.dumps(..., allow_nan=False)`` accepts."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return _float(float(obj))
    jax = sys.modules.get("jax")                  # a jax.Array exists only if jax is loaded
    if isinstance(obj, np.generic) or (jax is not None and isinstance(obj, jax.Array)):
        try:
            obj = np.asarray(obj)
        except TypeError as e:                    # typed PRNG keys
            raise TypeError(f"{_where}: {e}") from None
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"{_where}: cannot store an array of dtype {obj.dtype} as JSON")
        return to_jsonable(obj.tolist(), _where)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    elif isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        obj = obj._asdict()
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            k = k.item() if isinstance(k, np.generic) else k
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"{_where}: dict key {k!r} of type {type(k).__name__} "
                                "cannot be a JSON key; use a str")
            name = k if isinstance(k, str) else str(k)
            if name in out:
                raise TypeError(f"{_where}: keys {k!r} and {name!r} would both be {name!r}")
            out[name] = to_jsonable(v, f"{_where}[{k!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, f"{_where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"{_where}: cannot store {type(obj).__name__} as JSON; "
                    "convert it to numbers, strings, lists or dicts first")


def from_jsonable(obj: Any) -> Any:
    """Undo the non-finite encoding of :func:`to_jsonable` (``"NaN"`` → ``nan`` …)."""
    if isinstance(obj, str):
        return _TOKENS.get(obj, obj)
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: from_jsonable(v) for k, v in obj.items()}
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON text of ``obj`` (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(obj), allow_nan=False, indent=1)


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, ``os.replace``); with
    several processes (:mod:`nnjax.distributed`), only process 0 writes."""
    path = Path(path)
    if not distributed.is_writer():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def json_digest(value: Any, length: int = 12, *, compact: bool = True) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``value`` as canonical JSON
    (:func:`to_jsonable`, sorted keys; ``compact``: no space after ``,`` and ``:``).

    It names resume stores (a study's settings folder, a sweep file's point keys), so the
    text hashed must not change: finished results would no longer be found."""
    seps = (",", ":") if compact else (", ", ": ")
    text = json.dumps(to_jsonable(value), sort_keys=True, separators=seps)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def write_json_atomic(path: PathLike, obj: Any) -> Path:
    """Encode ``obj`` (fails before touching the disk if it cannot) and write it atomically."""
    return write_bytes_atomic(path, (dumps(obj) + "\n").encode("utf-8"))


def read_json(path: PathLike) -> Any:
    """Read a file written by :func:`write_json_atomic`; :class:`CorruptResultError` if broken."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        return from_jsonable(json.loads(text))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptResultError(path, f"invalid JSON: {e}") from None


# --------------------------------------------------------------------------- store

def _backup(path: Path) -> Path:
    """Move ``path`` aside to ``<name>.corrupt`` (``.corrupt.1``, … if taken)."""
    dest, i = path.with_name(path.name + ".corrupt"), 0
    while dest.exists():
        i += 1
        dest = path.with_name(f"{path.name}.corrupt.{i}")
    os.replace(path, dest)
    return dest


class ResultStore:
    """One JSON file per finished configuration under ``root``.

    The file for ``key`` is ``root/<sanitised key>-<12 hex of sha256(key)>.json`` and holds
    ``{"format", "key", "record"}``; the hash keeps distinct keys apart even when they
    sanitise alike. ``has`` says a final file exists (corrupt or not); ``load`` checks it.
    """

    def __init__(self, root: PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not isinstance(key, str) or not key:
            raise TypeError(f"a result key must be a non-empty str, got {key!r}")
        stem = re.sub(r"[^A-Za-z0-9._=+-]+", "_", key).strip("._-")[:80] or "result"
        return self.root / f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def _read(self, path: Path) -> dict:
        doc = read_json(path)
        if not (isinstance(doc, dict) and doc.get("format") == FORMAT
                and isinstance(doc.get("key"), str) and "record" in doc):
            raise CorruptResultError(path, f"not an {FORMAT} file (format/key/record missing)")
        return doc

    def load(self, key: str) -> Any:
        """Record saved under ``key``: ``KeyError`` if none, ``CorruptResultError`` if broken."""
        path = self.path(key)
        if not path.is_file():
            raise KeyError(f"no result for {key!r} in {self.root} (expected {path.name})")
        doc = self._read(path)
        if doc["key"] != key:
            raise CorruptResultError(path, f"it holds key {doc['key']!r}, not {key!r}")
        return doc["record"]

    def save(self, key: str, record: Any, *, overwrite: bool = False) -> Path:
        """Store ``record`` atomically. An existing result is kept unless ``overwrite``;
        an existing corrupt file is then moved to ``.corrupt`` first, never lost."""
        path = self.path(key)
        text = dumps({"format": FORMAT, "key": key, "record": record}) + "\n"
        if path.exists() and distributed.is_writer():
            if not overwrite:
                raise FileExistsError(f"{path}: a result for {key!r} exists; "
                                      "pass overwrite=True to replace it")
            try:
                self._read(path)
            except CorruptResultError:
                _backup(path)
        return write_bytes_atomic(path, text.encode("utf-8"))

    def quarantine(self, key: str) -> Path:
        """Move the file of ``key`` aside to ``<name>.corrupt``; returns the new path."""
        return _backup(self.path(key))

    def _scan(self):
        good, bad = {}, []
        for path in sorted(self.root.glob("*.json")):     # temp files end in .tmp
            try:
                doc = self._read(path)
            except CorruptResultError:
                bad.append(path)
                continue
            good[doc["key"]] = doc["record"]
        if bad:
            warnings.warn(f"{len(bad)} corrupt result file(s) skipped: "
                          + ", ".join(str(p) for p in bad), stacklevel=3)
        return good, bad

    def keys(self) -> list:
        """Keys of all readable results (by file name); warns about corrupt files."""
        return list(self._scan()[0])

    def records(self) -> dict:
        """``{key: record}`` of all readable results (by file name); warns about corrupt files."""
        return self._scan()[0]

    def corrupt(self) -> list:
        """Paths of final files that cannot be read as results."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._scan()[1]


def run_grid(store: ResultStore, configs: Union[Mapping, Iterable], run_fn: Callable, *,
             on_skip: Optional[Callable] = None, on_corrupt: str = "raise") -> list:
    """Run every configuration not yet in ``store``; return all records in order.

    Args:
      configs: ``{key: config}`` or an iterable of ``(key, config)`` pairs (unique keys).
      run_fn: ``config -> record``; each new record is saved atomically as soon as it is
        returned, so an interruption loses at most the configuration in flight.
      on_skip: called as ``on_skip(key, record)`` for each configuration already stored.
      on_corrupt: ``"raise"`` (default) stops before running anything when a stored file
        is unreadable; ``"rerun"`` keeps it as ``.corrupt``, warns and runs it again.
    This is :func:`nnjax.sweep.claims.run_points` as one worker (each configuration under
    a claim, so another process sharing ``store`` never runs one twice).
    Returns:
      The records as read back from disk (fresh and resumed runs look the same).
    """
    if on_corrupt not in ("raise", "rerun"):
        raise ValueError(f"on_corrupt must be 'raise' or 'rerun', got {on_corrupt!r}")
    items = list(configs.items() if isinstance(configs, Mapping) else configs)
    if on_corrupt == "rerun":
        for key, _ in items:
            if store.has(key):
                try:
                    store.load(key)
                except CorruptResultError as e:
                    warnings.warn(f"{e.path}: corrupt, kept as {store.quarantine(key).name}; "
                                  f"running {key!r} again", stacklevel=2)
    from nnjax.sweep.claims import run_points    # the one loop: a single worker of it
    return run_points(store, items, run_fn, on_skip=on_skip)


# --------------------------------------------------------------------------- checkpoints

def _is_key(x) -> bool:
    import jax
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def save_checkpoint(path: PathLike, pytree: Any) -> Path:
    """Write a pytree (params, optimizer state, typed PRNG keys …) atomically with Flax msgpack."""
    import jax
    from flax import serialization
    plain = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, pytree)
    return write_bytes_atomic(path, serialization.to_bytes(plain))


def load_checkpoint(path: PathLike, template: Any) -> Any:
    """Read a checkpoint into the structure of ``template`` (same pytree, e.g. a fresh state)."""
    import jax
    from flax import serialization
    path = Path(path)
    plain = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, template)
    try:
        restored = serialization.from_bytes(plain, path.read_bytes())
    except (ValueError, TypeError, KeyError) as e:
        raise CorruptResultError(path, f"checkpoint does not match the template: {e}") from None
    except Exception as e:                        # msgpack's own errors on truncated data
        raise CorruptResultError(path, f"unreadable checkpoint: {type(e).__name__}: {e}") from None
    return jax.tree.map(
        lambda t, r: jax.random.wrap_key_data(r, impl=jax.random.key_impl(t)) if _is_key(t)
        else r, template, restored)
