"""Where a result came from: package versions, git commit, backend, devices, XLA flags,
command line and time. Every ``results.json`` and sweep record carries one.

    >>> from nnjax.provenance import provenance
    >>> sorted(provenance(wall_seconds=1.0))[:3]
    ['argv', 'backend', 'cpu_seconds']
"""
from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

PACKAGES = ("jax", "jaxlib", "optax", "flax", "numpy")


def _version(name: str) -> Optional[str]:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=None)
def git_commit(where: Optional[str] = None) -> Optional[str]:
    """The commit of the git checkout holding ``where`` (default: this package), with
    ``+dirty`` when the tracked files differ from it; None outside a checkout."""
    where = where or str(Path(__file__).resolve().parent)
    try:
        run = functools.partial(subprocess.run, cwd=where, capture_output=True, text=True,
                                timeout=10, check=True)
        head = run(["git", "rev-parse", "HEAD"]).stdout.strip()
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def provenance(*, wall_seconds: Optional[float] = None,
               cpu_seconds: Optional[float] = None) -> dict:
    """A JSON-able record of the software and machine a result was made with.

    ``wall_seconds`` / ``cpu_seconds``: the cost of the work recorded (default: CPU
    seconds of this process so far).
    """
    import jax

    import nnjax
    return {
        "versions": {"nnjax": nnjax.__version__, **{name: _version(name) for name in PACKAGES}},
        "python": sys.version.split()[0],
        "git_commit": git_commit(),
        "backend": jax.default_backend(),
        "device_count": jax.device_count(),
        "process_count": jax.process_count(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "argv": portable_argv(sys.argv),
        "wall_seconds": wall_seconds,
        "cpu_seconds": time.process_time() if cpu_seconds is None else cpu_seconds,
    }


def portable_argv(argv) -> list:
    """The command line with this machine's absolute paths made portable: a path under the
    working directory relative to it, one under the home directory as ``~/...``; the
    program itself as its path inside the ``nnjax`` package (``nnjax/cli.py``) or its name."""
    cwd, home = Path.cwd(), Path.home()

    def portable(i, arg):
        if not os.path.isabs(arg):
            return arg
        p = Path(arg)
        if i == 0:
            return "/".join(p.parts[-2:]) if p.parent.name == "nnjax" else p.name
        for base, prefix in ((cwd, ""), (home, "~/")):
            try:
                return prefix + str(p.relative_to(base))
            except ValueError:
                pass
        return arg
    return [portable(i, a) for i, a in enumerate(argv)]
