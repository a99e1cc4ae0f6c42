"""Try the sources in order, verify every file, fill the cache.

:func:`resolve` is the one loop both :func:`fetch` (all sources, copies remote files into
the cache) and :func:`locate` (local sources only, used by ``load``) run: for each file
still missing it asks the next source, checks the SHA-256 of the decompressed bytes,
and takes the first good copy. A bad copy is never used: it is reported (stderr, and in
the final error if nothing better turns up) and the next source is tried.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import Callable, NamedTuple, Optional

from .idx import GZIP_MAGIC
from .registry import KEYS, DatasetSpec, FileSpec, IntegrityError, get_spec, verified_bytes
from .sources import SourceError, cache_dir, default_sources


class DataNotFoundError(FileNotFoundError):
    """No source had a verified copy of some file (the message says how to get it)."""


class Found(NamedTuple):
    """A verified file: where it is, which source gave it, its decompressed bytes."""

    path: Path
    source: str
    data: Optional[bytes]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def install(path: Path, folder: Path, spec: FileSpec) -> Path:
    """Copy ``path`` into ``folder`` atomically under a name ``spec`` knows (kept gz or
    raw as it came) and remove other copies of the same file there. Returns the copy."""
    folder.mkdir(parents=True, exist_ok=True)
    name = path.name
    if name not in spec.names():
        with open(path, "rb") as fh:
            name = spec.stem + (".gz" if fh.read(2) == GZIP_MAGIC else "")
    dest = folder / name
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    shutil.copyfile(path, tmp)
    os.replace(tmp, dest)
    for other in spec.names():
        if other != name and (folder / other).is_file():
            (folder / other).unlink()
    return dest


def resolve(spec: DatasetSpec, sources, *, keep_data: bool = True,
            log: Callable[[str], None] = _stderr):
    """Ask ``sources`` in order for each file of ``spec`` not yet found.

    Returns ``(found, problems)``: ``{key: Found}`` for the verified files and a list of
    messages (failed sources, files that failed verification). Files from a remote
    source are copied into the cache folder of ``spec``.
    """
    found, problems = {}, []
    for source in sources:
        needed = tuple(k for k in KEYS if k not in found)
        if not needed:
            break
        with tempfile.TemporaryDirectory(prefix="nnjax-data-") as work:
            try:
                offered = source.provide(spec, needed, Path(work)) or {}
            except (SourceError, OSError, subprocess.SubprocessError, tarfile.TarError) as err:
                problems.append(f"{source.label}: {err}")
                if source.remote:
                    log(f"  {source.label}: {str(err).splitlines()[0]}")
                continue
            for key in needed:
                paths = offered.get(key) or []
                for path in [paths] if isinstance(paths, (str, Path)) else paths:
                    path = Path(path)
                    try:
                        data = verified_bytes(path, spec.file(key), dataset=spec.name)
                    except IntegrityError as err:
                        problems.append(f"{source.label}: {err}")
                        log(f"  NOT USED: {err}")
                        continue
                    if source.remote:
                        path = install(path, cache_dir(spec.name), spec.file(key))
                    found[key] = Found(path, source.label, data if keep_data else None)
                    break
    return found, problems


def _missing_message(spec: DatasetSpec, missing, problems, *, hint: str) -> str:
    bad = sum("SHA-256" in p for p in problems)
    note = f" ({bad} bad cop{'y' if bad == 1 else 'ies'} found and not used)" if bad else ""
    lines = [f"{spec.name}: no verified copy of {', '.join(missing)}{note}."]
    if problems:
        lines.append("What was tried:")
        lines += [f"  - {p}" for p in problems]
    lines.append(hint)
    return "\n".join(lines)


def locate(name: str, data_dir=None, *, sources=None) -> dict:
    """The verified files of dataset ``name`` from local sources: ``{key: Found}``.

    Raises :class:`DataNotFoundError` naming ``nnjax data fetch NAME`` when a file is
    missing or every copy of it is bad. A bad copy skipped for a good later one gives
    a warning.
    """
    spec = get_spec(name)
    if sources is None:
        sources = default_sources(spec, data_dir, remote=False)
    found, problems = resolve(spec, sources, log=lambda msg: None)
    missing = [k for k in KEYS if k not in found]
    if missing:
        raise DataNotFoundError(_missing_message(
            spec, missing, problems,
            hint=f"Run `nnjax data fetch {name}` (or pass data_dir= / set NNJAX_DATA_DIR "
                 "to a folder holding the four IDX files).",
        ))
    for p in problems:
        warnings.warn(f"skipped a bad copy: {p}", stacklevel=3)
    return found


def fetch(name: str, data_dir=None, *, sources=None, log: Callable[[str], None] = _stderr) -> dict:
    """Make every file of ``name`` available and verified; returns ``{key: path}``.

    Tries all sources (local ones first; files from remote ones land in the cache) and
    prints progress. When some file cannot be had, raises :class:`DataNotFoundError`
    listing what was tried and every way to get the data by hand.
    """
    spec = get_spec(name)
    if sources is None:
        sources = default_sources(spec, data_dir, remote=True)
    log(f"{name}:")
    found, problems = resolve(spec, sources, keep_data=False, log=log)
    for key in KEYS:
        if key in found:
            log(f"  ok  {key:<13} sha256 {spec.file(key).sha256}…  {found[key].path}"
                f"  ({found[key].source})")
    missing = [k for k in KEYS if k not in found]
    if missing:
        manual = spec.manual.format(cache=cache_dir(name))
        raise DataNotFoundError(_missing_message(
            spec, missing, problems,
            hint=f"Ways to get {name} by hand:\n{manual}\nthen check with `nnjax data info`.",
        ))
    return {k: f.path for k, f in found.items()}
