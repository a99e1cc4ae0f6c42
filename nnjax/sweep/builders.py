"""The model builders a sweep file can name: ``model = "mlp"`` or ``"package.module:function"``.

A builder is a function of keyword arguments returning a Layer. The built-in ones are
those of :mod:`nnjax.models`, each with what the file does not have to say: the task
(``"classify"``: cross-entropy on labels; ``"reconstruct"``: MSE against the input) and
the arguments filled from the data (``mlp``'s ``n_out`` = the number of classes; each
such function takes a :class:`nnjax.sweep.file.DataInfo`).

    >>> resolve("mlp").task
    'classify'
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys
from typing import Callable, Mapping, NamedTuple, Sequence

from nnjax import models


class Builder(NamedTuple):
    """``fn(**kwargs) -> Layer``; ``task``: ``"classify"`` or ``"reconstruct"`` (None: the
    file's ``[train] target`` decides); ``from_data``: ``{argument: DataInfo -> value}``."""

    name: str
    fn: Callable
    task: str = None
    from_data: Mapping = {}


BUILTIN = {
    "mlp": Builder("mlp", models.mlp, "classify",
                   {"n_out": lambda info: info.n_classes}),
    "dense_autoencoder": Builder("dense_autoencoder", models.dense_autoencoder, "reconstruct"),
    "conv_autoencoder": Builder("conv_autoencoder", models.conv_autoencoder, "reconstruct"),
}

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class BuilderError(ValueError):
    """A builder that cannot be found (the message says what is allowed)."""


def resolve(spec: str, search: Sequence = ()) -> Builder:
    """The builder named ``spec``: a built-in name or ``"package.module:function"``.

    ``search``: folders appended to ``sys.path`` (after the installed packages, so they
    never shadow them) before importing, e.g. the sweep file's folder and the current one.
    """
    if spec in BUILTIN:
        return BUILTIN[spec]
    allowed = f"a built-in builder ({', '.join(BUILTIN)}) or \"package.module:function\""
    if not _TARGET.match(spec):
        raise BuilderError(f"unknown builder {spec!r}; allowed: {allowed}")
    module_name, fn_name = spec.split(":")
    for folder in map(str, search):
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise BuilderError(f"cannot import {module_name!r} for builder {spec!r} ({e}); "
                           f"allowed: {allowed} importable from the sweep file's folder, the"
                           " current one or the installed packages") from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise BuilderError(f"{module_name!r} has no function {fn_name!r}; allowed: {allowed}")
    return Builder(spec, fn)


def parameters(builder: Builder):
    """``(names, accepts_any)``: the builder's keyword-argument names, and whether it
    takes ``**kwargs`` (then any name is accepted)."""
    sig = inspect.signature(builder.fn)
    names = [p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return names, any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
