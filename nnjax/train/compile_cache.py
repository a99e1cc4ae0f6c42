"""JAX's persistent compilation cache, on by default in a user cache directory.

A second ``nnjax run`` of the same study loads its compiled programs from disk instead of
compiling them again. :func:`enable` (called by ``fit``) points JAX at
``$NNJAX_COMPILATION_CACHE`` if set to a path, else ``$XDG_CACHE_HOME/nnjax-xla`` (default
``~/.cache/nnjax-xla``); ``NNJAX_COMPILATION_CACHE=off`` (or ``0``, ``false``, ``no``)
turns it off. A cache directory the user configured in JAX already is left alone, and so
is an unwritable one (then nothing is cached).

Every program is stored, however quick to compile: JAX's default keeps only those that
took ≥ 1 s (``jax_persistent_cache_min_compile_time_secs``), but a run compiles dozens of
small ones (initialisation, evaluation, one-op slices and casts) at 0.02–0.7 s each, which
together cost seconds per process and load from disk in milliseconds. A threshold the
user set (``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` or ``jax.config.update``) is
kept.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import jax

ENV = "NNJAX_COMPILATION_CACHE"
OFF = ("0", "off", "false", "no", "none")
MIN_COMPILE_SECONDS = 0.0      # store every program (JAX's default: 1 s)
_JAX_DEFAULT_MIN = 1.0


def user_cache_dir(env: str, name: str) -> Optional[Path]:
    """A cache folder of nnjax: ``$env`` if set to a path, None if set to one of ``OFF``,
    else ``$XDG_CACHE_HOME/name`` (``~/.cache/name``)."""
    v = os.environ.get(env, "").strip()
    if v.lower() in OFF and v:
        return None
    if v:
        return Path(v).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / name


def cache_dir() -> Optional[Path]:
    """Where programs are cached, or None when turned off."""
    return user_cache_dir(ENV, "nnjax-xla")


def enable() -> Optional[Path]:
    """Turn the cache on (idempotent); returns the directory in use or None."""
    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    path = cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            return None
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    if (jax.config.jax_persistent_cache_min_compile_time_secs == _JAX_DEFAULT_MIN
            and "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ):
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    try:  # JAX decides once, at the first compilation, whether the cache is used
        from jax._src import compilation_cache
        compilation_cache.reset_cache()
    except Exception:  # pragma: no cover - private API moved: the cache still works for
        pass           # processes that enable it before compiling
    return path
