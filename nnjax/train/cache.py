"""Compiled programs cached by what they compute, not by object identity.

``functools.lru_cache`` on ``(model, config)`` hashes a model by the identity of its
closures: the same ``Sequential(Linear(64), ReLU(), Linear(10))`` built twice compiled
twice, and two configs that differ only in a per-run default (a learning rate, which the
program reads from its run arguments) did too. :func:`structure` describes an object by
its content — a function by its code, defaults and closed-over values (recursively), an
array by shape, dtype and bytes, a NamedTuple/dataclass by its fields — and
:func:`by_structure` caches a builder on that description. Objects it cannot describe
(modules, classes, other hashables) stand for themselves; unhashable ones by identity.

:func:`program_config` drops from a TrainConfig the numbers that reach the program as
traced per-run values (the defaults of :func:`nnjax.train.hyperparams.run_hyper` and the
schedule's arguments, which live in a data table), so they do not cause a recompile.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import types

import numpy as np

_ATOMS = (type(None), bool, int, float, complex, str, bytes)


def structure(obj, _seen=None):
    """A hashable description of ``obj`` by content (see the module docstring)."""
    seen = set() if _seen is None else _seen
    if isinstance(obj, _ATOMS):
        return (type(obj).__name__, obj)
    if id(obj) in seen:                      # a cycle: refer to it by position
        return ("cycle",)
    seen = seen | {id(obj)}
    rec = functools.partial(structure, _seen=seen)
    if isinstance(obj, types.FunctionType):
        cells = tuple(rec(c.cell_contents) if _filled(c) else ("empty",)
                      for c in (obj.__closure__ or ()))
        return ("fn", obj.__code__, rec(obj.__defaults__), rec(obj.__kwdefaults__), cells)
    if isinstance(obj, functools.partial):
        return ("partial", rec(obj.func), rec(obj.args), rec(obj.keywords))
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj), tuple(rec(v) for v in obj))
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, tuple(rec(v) for v in obj))
    if isinstance(obj, dict):
        return ("dict", tuple(sorted((repr(k), rec(v)) for k, v in obj.items())))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj), tuple(rec(getattr(obj, f.name)) for f in dataclasses.fields(obj)))
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "__array__"):
        a = np.asarray(obj)
        return ("array", a.shape, str(a.dtype), hashlib.sha256(a.tobytes()).hexdigest())
    if hasattr(obj, "factory") and hasattr(obj, "kwargs"):   # Optimizer, Schedule
        return (type(obj), rec(obj.factory), rec(obj.kwargs))
    try:
        hash(obj)
        return ("obj", obj)
    except TypeError:
        return ("id", id(obj))


def _filled(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def program_config(config):
    """``config`` with the per-run numbers (traced, not compiled in) set to a fixed legal
    value (the program reads each run's own)."""
    from nnjax.train.hyperparams import CONFIG_PER_RUN
    from nnjax.train.optim import Optimizer, Schedule
    changes = {name: 0.0 for name in CONFIG_PER_RUN}
    lr = config.learning_rate
    changes["learning_rate"] = _blank_schedule(lr) if isinstance(lr, Schedule) else 1.0
    opt = config.optimizer
    if isinstance(opt, Optimizer):
        kw = {k: (0.0 if isinstance(v, float) else
                  _blank_schedule(v) if isinstance(v, Schedule) else v) for k, v in opt.kwargs}
        changes["optimizer"] = Optimizer(opt.factory, **kw)
    return config.replace(**changes)


def _blank_schedule(s):
    from nnjax.train.optim import Schedule
    return Schedule(s.factory, **{k: (0 if isinstance(v, (int, float))
                                      and not isinstance(v, bool) else v) for k, v in s.kwargs})


def by_structure(maxsize: int = 64):
    """Decorator: cache ``f(*args, **kwargs)`` on :func:`structure` of its arguments
    (least recently used dropped beyond ``maxsize``). ``f.cache_clear()`` empties it."""
    def wrap(f):
        cache: collections.OrderedDict = collections.OrderedDict()

        @functools.wraps(f)
        def cached(*args, **kwargs):
            key = structure((args, kwargs))
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
            out = cache[key] = f(*args, **kwargs)
            if len(cache) > maxsize:
                cache.popitem(last=False)
            return out

        cached.cache_clear = cache.clear
        cached.cache_size = lambda: len(cache)
        return cached
    return wrap
