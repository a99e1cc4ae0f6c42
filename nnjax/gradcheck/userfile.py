"""The layers a user's Python file defines, for ``nnjax gradcheck FILE.py[:NAME]``.

A *layer factory* is a function of the file with no required argument that returns an
:class:`nnjax.Layer` (``def Swish() -> Layer``); a module-level ``Layer`` value counts
too. Without ``NAME`` every public one is checked; with ``NAME`` only that one. Any
problem with the file or the name raises :class:`UserFileError` with a one-line message.
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

from nnjax.layer import Layer


class UserFileError(ValueError):
    """The file cannot be imported, or defines no such layer."""


def split_target(target: str) -> tuple:
    """``"dir/f.py:Swish"`` → ``(Path("dir/f.py"), "Swish")``; no ``:NAME`` → name None."""
    path, sep, name = target.rpartition(":")
    if sep and path.endswith(".py") and name.isidentifier():
        return Path(path), name
    return Path(target), None


def import_file(path: Path):
    """Import ``path`` as a module (its folder first on ``sys.path`` while it runs)."""
    if not path.is_file():
        raise UserFileError(f"{path}: no such file. Give a Python file that defines a layer,"
                            f" e.g. nnjax gradcheck my_layers.py:Swish")
    if path.suffix != ".py":
        raise UserFileError(f"{path}: not a .py file. Give a Python file that defines a layer.")
    name = f"nnjax_user_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's code: report it in one line
        where = ""
        tb = err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(path.resolve()) or \
                    tb.tb_frame.f_code.co_filename == str(path):
                where = f" (line {tb.tb_lineno})"
            tb = tb.tb_next
        if isinstance(err, SyntaxError):
            where = f" (line {err.lineno})"
        raise UserFileError(f"{path}: importing it raised {type(err).__name__}{where}:"
                            f" {err}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _required_args(fn) -> list:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return ["?"]
    return [p.name for p in sig.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                   p.KEYWORD_ONLY)]


def _annotated_non_layer(fn) -> bool:
    ret = inspect.signature(fn).return_annotation
    if ret is inspect.Signature.empty:
        return False
    return ret is not Layer and not (isinstance(ret, str) and ret.split(".")[-1] == "Layer")


def _make(path, name, obj, explicit: bool):
    """``(name, layer)`` or None (not a factory) — or raise when ``explicit``."""
    if isinstance(obj, Layer):
        return name, obj
    if not inspect.isfunction(obj):
        if explicit:
            raise UserFileError(f"{path}:{name} is a {type(obj).__name__}, not a Layer or a"
                                f" function returning one.")
        return None
    required = _required_args(obj)
    if required:
        if explicit:
            raise UserFileError(f"{path}:{name} needs arguments ({', '.join(required)}); give"
                                f" them defaults, or add a no-argument function that calls it.")
        return None
    if not explicit and _annotated_non_layer(obj):
        return None
    try:
        layer = obj()
    except Exception as err:
        if explicit:
            raise UserFileError(f"{path}:{name}() raised {type(err).__name__}: {err}") from None
        return None
    if not isinstance(layer, Layer):
        if explicit:
            raise UserFileError(f"{path}:{name}() returned a {type(layer).__name__}, not an"
                                f" nnjax.Layer.")
        return None
    return name, layer


def load_layers(target: str) -> list:
    """``[(name, Layer)]`` for ``FILE.py`` (every factory defined there) or ``FILE.py:NAME``."""
    path, only = split_target(target)
    module = import_file(path)
    if only is not None:
        if not hasattr(module, only):
            public = [n for n, v in vars(module).items() if _local(module, v)]
            raise UserFileError(f"{path}: defines no {only!r}; it defines: "
                                f"{', '.join(public) or 'nothing public'}.")
        return [_make(path, only, getattr(module, only), True)]
    found = [_make(path, n, v, False) for n, v in vars(module).items()
             if not n.startswith("_") and _local(module, v)]
    found = [f for f in found if f is not None]
    if not found:
        raise UserFileError(f"{path}: defines no layer (a function with no required argument"
                            f" returning nnjax.Layer, or a Layer value).")
    return found


def _local(module, value) -> bool:
    """Defined in the file itself (not imported into it)."""
    if isinstance(value, Layer):
        return True
    return inspect.isfunction(value) and value.__module__ == module.__name__


__all__ = ["load_layers", "UserFileError", "split_target"]
