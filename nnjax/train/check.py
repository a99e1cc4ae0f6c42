"""The gradient check ``fit`` runs before training, remembered once passed: :func:`verify_model`.

The check (float64, the model's manual backward against ``jax.grad`` on the exact
objective, :func:`nnjax.gradcheck.checks.verify_objective`) is a pure function of the
code of the model's layers and loss and of the numbers it is run at: one run's initial
``params``/``state`` and the first ``n`` training examples. A passed check is stored in a
user cache directory under a digest of all of that (:func:`digest`); a later identical
check — the same command run again — reads the stored result instead of recomputing it
(≈ 2 s of compiling and running a float64 program for the MNIST MLP), and says so:
``{"ok": True, ..., "cached": True}``. A failed check is never stored.

The digest covers, by content: every function of the model and the loss (its bytecode,
constants, defaults, closed-over values, and the functions, constants and modules it
reaches by global name, recursively; a non-library module by its source file), the
arrays it is checked at (bytes), the source of the checking code, and the versions of
nnjax, JAX, NumPy and Python. Any value it cannot describe stably makes :func:`digest`
return None: the check then runs, as it always did. ``NNJAX_GRADCHECK_CACHE`` names the
directory (``off``/``0``/``false``/``no`` turns it off); default
``$XDG_CACHE_HOME/nnjax-gradcheck`` (``~/.cache/nnjax-gradcheck``).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sys
import types
from pathlib import Path
from typing import Optional

import jax
import numpy as np

ENV = "NNJAX_GRADCHECK_CACHE"
# objects of these packages are named, not described: their versions are in the digest
LIBRARIES = ("jax", "jaxlib", "numpy", "optax", "builtins", "math", "functools", "operator",
             "typing", "collections", "ml_dtypes", "scipy", "_operator", "_functools")


class GradientCheckError(RuntimeError):
    """The manual backward of the model being trained disagrees with ``jax.grad``."""


def verify_model(model, config, params, state, x, y, n: int = 8) -> dict:
    """Gradient-check the objective trained, at one run's ``params``/``state``, on the
    first ``n`` training examples, in float64 (manual backward against ``jax.grad``).

    ``params``/``state`` are one run's (unstacked) pytrees. Returns ``{"ok": True,
    "max_rel_error", "worst"}`` (plus ``"cached": True`` when an identical check passed
    before, see the module docstring). Raises :class:`GradientCheckError` (naming the
    layer at fault) on a mismatch.
    """
    from nnjax.gradcheck import checks as gradcheck
    xb = np.asarray(x[:n])
    target = xb if config.target == "input" else np.asarray(y[:n])
    params, state = _float64(params), _float64(state)
    xb64, target64 = _float64(xb), _float64(target)
    key = digest((model, config.loss, params, state, xb64, target64))
    found = _load(key)
    if found is not None:
        return {**found, "cached": True}
    check = gradcheck.verify_objective(model, config.loss, params, state, xb64, target64,
                                       key=jax.random.key(0))
    if not check.ok:
        raise GradientCheckError(
            f"{check.explain()}\nTraining was not started. Fix that layer's backward, or pass"
            f" verify=False (or TrainConfig(grad='autodiff')) to train anyway.")
    out = {"ok": True, "max_rel_error": float(check.max_rel_error), "worst": check.worst}
    _store(key, out)
    return out


def first_run(tree):
    """Run 0 of a stacked pytree, on the host (one transfer; no per-leaf slicing program)."""
    return jax.tree.map(lambda a: np.asarray(a)[0], jax.device_get(tree))


def _float64(tree):
    """Floating leaves as float64 NumPy arrays (the check's precision); others unchanged."""
    def cast(v):
        a = np.asarray(v) if isinstance(v, (np.ndarray, jax.Array)) else None
        if a is not None and np.issubdtype(a.dtype, np.floating):
            return a.astype(np.float64)
        return v
    return jax.tree.map(cast, tree)


def cache_dir() -> Optional[Path]:
    """Where passed checks are stored, or None when turned off."""
    from nnjax.train.compile_cache import user_cache_dir
    return user_cache_dir(ENV, "nnjax-gradcheck")


def _load(key: Optional[str]) -> Optional[dict]:
    d = cache_dir()
    if key is None or d is None:
        return None
    try:
        got = json.loads((d / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return got if isinstance(got, dict) and got.get("ok") is True else None


def _store(key: Optional[str], result: dict) -> None:
    d = cache_dir()
    if key is None or d is None:
        return
    from nnjax.results import write_bytes_atomic
    try:
        write_bytes_atomic(d / f"{key}.json", json.dumps(result).encode())
    except OSError:          # an unwritable cache: the check simply runs next time too
        pass


class _Undescribable(Exception):
    pass


def digest(obj) -> Optional[str]:
    """A SHA-256 hex digest of ``obj`` by content, stable across processes (see the
    module docstring), or None when some part of it cannot be described stably."""
    h = hashlib.sha256()
    h.update(_environment())
    try:
        _walk(obj, h, {})
    except (_Undescribable, RecursionError):
        return None
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _environment() -> bytes:
    """Versions, and the source of the code that checks (not reached from the model)."""
    import importlib
    import nnjax
    parts = [nnjax.__version__, jax.__version__, np.__version__, sys.version,
             str(jax.config.jax_enable_x64)]
    parts += [_file_hash(importlib.import_module(m).__file__)
              for m in (__name__, "nnjax.backprop", "nnjax.gradcheck.checks", "nnjax.layer")]
    return "\n".join(parts).encode()


@functools.lru_cache(maxsize=256)
def _file_hash(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise _Undescribable(path) from e


def _library(obj) -> bool:
    mod = getattr(obj, "__module__", None) or ""
    return isinstance(mod, str) and mod.split(".")[0] in LIBRARIES


def _walk(obj, h, seen) -> None:
    put = h.update
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        put(f"{type(obj).__name__}:{obj!r};".encode())
        return
    if isinstance(obj, (np.ndarray, np.generic, jax.Array)):
        a = np.asarray(obj)
        if a.dtype == object:
            raise _Undescribable("object array")
        put(f"array:{a.shape}:{a.dtype};".encode())
        put(np.ascontiguousarray(a).tobytes())
        return
    if id(obj) in seen:          # a cycle or a shared object: described once, then named
        put(f"seen:{seen[id(obj)][0]};".encode())
        return
    seen[id(obj)] = (len(seen), obj)          # (keeps obj alive: ids stay unique)
    if isinstance(obj, types.FunctionType) and not _library(obj):
        put(b"fn;")
        _code(obj.__code__, h)
        _walk(obj.__defaults__, h, seen)
        _walk(obj.__kwdefaults__, h, seen)
        for cell in obj.__closure__ or ():
            try:
                _walk(cell.cell_contents, h, seen)
            except ValueError:
                put(b"empty;")
        for name in sorted(_global_names(obj.__code__)):
            if name in obj.__globals__:
                put(f"global:{name};".encode())
                _walk(obj.__globals__[name], h, seen)
        return
    if isinstance(obj, types.ModuleType):
        put(f"module:{obj.__name__};".encode())
        f = getattr(obj, "__file__", None)
        if obj.__name__.split(".")[0] not in LIBRARIES and f:
            put(_file_hash(f).encode())
        return
    if isinstance(obj, functools.partial):
        put(b"partial;")
        for part in (obj.func, obj.args, obj.keywords):
            _walk(part, h, seen)
        return
    if isinstance(obj, (tuple, list)):
        put(f"{type(obj).__module__}.{type(obj).__qualname__}:{len(obj)}(".encode())
        for v in obj:
            _walk(v, h, seen)
        put(b");")
        return
    if isinstance(obj, dict):
        put(f"dict:{len(obj)}(".encode())
        for k in sorted(obj, key=repr):
            _walk(k, h, seen)
            _walk(obj[k], h, seen)
        put(b");")
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        put(f"dc:{type(obj).__module__}.{type(obj).__qualname__}(".encode())
        for f in dataclasses.fields(obj):
            _walk(getattr(obj, f.name), h, seen)
        put(b");")
        return
    if isinstance(obj, type) or _library(obj):
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        mod = getattr(obj, "__module__", None)
        if not (isinstance(name, str) and isinstance(mod, str)):
            raise _Undescribable(repr(type(obj)))
        put(f"named:{mod}.{name};".encode())
        if isinstance(obj, type) and mod.split(".")[0] not in LIBRARIES:
            m = sys.modules.get(mod)
            if m is None or not getattr(m, "__file__", None):
                raise _Undescribable(mod)
            put(_file_hash(m.__file__).encode())
        return
    raise _Undescribable(type(obj).__qualname__)


def _code(code: types.CodeType, h) -> None:
    h.update(f"code:{code.co_qualname if hasattr(code, 'co_qualname') else code.co_name}:"
             f"{code.co_argcount}:{code.co_kwonlyargcount}:{code.co_flags};".encode())
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for c in code.co_consts:
        _const(c, h)


def _const(c, h) -> None:
    if isinstance(c, types.CodeType):
        _code(c, h)
    elif isinstance(c, (tuple, frozenset)):       # a frozenset's repr order is per process
        items = list(c) if isinstance(c, tuple) else sorted(c, key=repr)
        h.update(f"{type(c).__name__}:{len(items)}(".encode())
        for v in items:
            _const(v, h)
        h.update(b");")
    else:
        h.update(f"{type(c).__name__}:{c!r};".encode())


def _global_names(code: types.CodeType) -> set:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names
