"""Layer hyperparameters that a sweep can vary per run: :func:`hyper`.

A layer's float argument (dropout rate, LeakyReLU slope, ActivityL1 λ, noise σ) is
normally a Python constant baked into the compiled program. Written as
``hyper(name, default)`` it becomes a per-run number: the layer keeps it in its
``state`` as a :class:`HyperValue` (a scalar array tagged with ``name``), the training
engine sets it from the run's value of ``name`` (``make_runs(..., name=[...])``), and
every run of a sweep trains in one program. The gradient check sees the same state, so
it checks the traced form.

Example::

    >>> from nnjax import layers as L
    >>> model = L.Sequential(L.Linear(64), L.ReLU(), L.Dropout(L.hyper("dropout", 0.1)),
    ...                      L.Linear(10))
    >>> model.hypers
    (('dropout', 0.1),)
"""
from __future__ import annotations

import dataclasses
import numbers
from typing import NamedTuple, Optional, Union

import jax
import jax.numpy as jnp


class HyperParam(NamedTuple):
    """A named per-run float: ``name`` is the sweep axis, ``default`` its value when the
    sweep does not vary it."""

    name: str
    default: float


def hyper(name: str, default: float) -> HyperParam:
    """Mark a layer argument as the per-run hyperparameter ``name`` (default ``default``)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"hyper: the name must be a Python identifier (it is a keyword of"
                         f" make_runs), got {name!r}.")
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        raise TypeError(f"hyper({name!r}, ...): the default must be a number, got {default!r}.")
    return HyperParam(name, float(default))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class HyperValue:
    """A layer's per-run number in its ``state``: ``value`` (float32 scalar) tagged with the
    sweep axis ``name`` (static: part of the pytree structure, not traced)."""

    value: jax.Array
    name: str = dataclasses.field(metadata=dict(static=True))


def resolve(value: Union[float, HyperParam], what: str):
    """``(default, name)`` of a layer argument: ``name`` is None for a plain constant."""
    if isinstance(value, HyperParam):
        return value.default, value.name
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number or L.hyper(name, default), got {value!r}.")
    return float(value), None


def initial(default: float, name: Optional[str]):
    """The layer's state entry: a :class:`HyperValue` for a named hyperparameter, else ()."""
    return () if name is None else HyperValue(jnp.asarray(default, jnp.float32), name)


def declared(default: float, name: Optional[str]) -> tuple:
    """The ``Layer.hypers`` entry of a layer: ``((name, default),)`` or ``()``."""
    return () if name is None else ((name, default),)


def label(default: float, name: Optional[str]) -> str:
    """How the argument appears in a layer name: ``0.1`` or ``dropout=0.1``."""
    return f"{default:g}" if name is None else f"{name}={default:g}"


def set_values(state, values):
    """Replace every :class:`HyperValue` in ``state`` whose name is a key of ``values``
    (a mapping name → scalar) by that value; other leaves are untouched."""
    def fix(s):
        if isinstance(s, HyperValue) and s.name in values:
            return HyperValue(jnp.asarray(values[s.name], s.value.dtype), s.name)
        return s
    return jax.tree.map(fix, state, is_leaf=lambda s: isinstance(s, HyperValue))


def collect(layers) -> tuple:
    """Union of the children's ``hypers`` in order (a name declared twice keeps its first
    default; :func:`nnjax.train.hyperparams.sweepable` reports conflicting defaults)."""
    out = []
    for layer in layers:
        out.extend(getattr(layer, "hypers", ()))
    return tuple(out)
