"""Per-run hyperparameters as traced values, and the Optax optimizers built from them.

Every run carries a :class:`Hyper` of scalars. The optimizer is
``optax.inject_hyperparams(factory)(learning_rate=h.learning_rate, ...)``: the numbers
live in the optimizer *state*, so under ``vmap`` each run updates with its own learning
rate, momentum and weight decay inside one compiled program (a Python float would be
baked into the program and a sweep would recompile).

Optimizers (PyTorch semantics, so the seeds' settings carry over):

* ``sgd``:      ``θ ← θ − lr·(g + wd·θ)``
* ``momentum``: ``v ← μ·v + (g + wd·θ)``, ``θ ← θ − lr·v`` (``SGD(momentum=μ)``)
* ``adam``:     Adam on ``g + wd·θ`` (``torch.optim.Adam(weight_decay=wd)``, coupled L2)
* ``adamw``:    ``optax.adamw`` (decoupled: ``θ ← θ − lr·(adam_step + wd·θ)``)

Any other Optax optimizer is an :class:`Optimizer` (a factory and its arguments: every
float argument is a per-run sweep axis named like the argument), and any Optax schedule
of the learning rate a :class:`Schedule` (tabulated on the host per distinct setting,
indexed by the step count in the program; its numeric arguments are sweep axes)::

    >>> import optax
    >>> opt = Optimizer(optax.adamw, b1=0.9, weight_decay=1e-4)
    >>> lr = Schedule(optax.warmup_cosine_decay_schedule, init_value=0.0, peak_value=1e-3,
    ...               warmup_steps=100, decay_steps=1000)
"""
from __future__ import annotations

import inspect
from typing import Callable, Mapping, NamedTuple

import jax
import numpy as np
import optax

HYPER_NAMES = ("learning_rate", "momentum", "weight_decay", "noise_std", "l1")


class Hyper(NamedTuple):
    """One run's numeric hyperparameters (float32 scalars; stacked (R,) over runs).

    The optimizer reads ``learning_rate``, ``momentum`` and ``weight_decay``; the training
    engine passes a mapping of every per-run number instead
    (:func:`nnjax.train.hyperparams.run_hyper`), where ``l1`` sets λ of the constant
    ``ActivityL1`` layers (a layer hyperparameter, :mod:`nnjax.layers.hyperparam`).
    """

    learning_rate: jax.Array
    momentum: jax.Array
    weight_decay: jax.Array
    noise_std: jax.Array
    l1: jax.Array


def _factory(name: str, b1: float, b2: float, eps: float):
    if name == "sgd":
        def make(learning_rate, momentum, weight_decay):
            return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate))
    elif name == "momentum":
        def make(learning_rate, momentum, weight_decay):
            return optax.chain(optax.add_decayed_weights(weight_decay),
                               optax.sgd(learning_rate, momentum=momentum))
    elif name == "adam":
        def make(learning_rate, momentum, weight_decay):
            return optax.chain(optax.add_decayed_weights(weight_decay),
                               optax.adam(learning_rate, b1=b1, b2=b2, eps=eps))
    elif name == "adamw":
        def make(learning_rate, momentum, weight_decay):
            return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {name!r}; choose sgd, momentum, adam or adamw.")
    return make


def _items(kwargs):
    return tuple(sorted(kwargs.items()))


def _qualname(f) -> str:
    name = getattr(f, "__name__", None)
    if name is not None and getattr(optax, name, None) is f:
        return f"optax.{name}"
    return f"{getattr(f, '__module__', '') or ''}.{getattr(f, '__qualname__', repr(f))}".lstrip(".")


class _Spec:
    """A factory and its keyword arguments; equal (and hashed) by both."""

    __slots__ = ("factory", "kwargs")
    what = "factory"

    def __init__(self, factory: Callable, **kwargs):
        if not callable(factory):
            raise TypeError(f"{type(self).__name__}: the first argument must be an Optax"
                            f" {self.what} (e.g. optax.adamw), got {factory!r}.")
        object.__setattr__(self, "factory", factory)
        object.__setattr__(self, "kwargs", _items(kwargs))

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other):
        return (type(other) is type(self) and other.factory is self.factory
                and other.kwargs == self.kwargs)

    def __hash__(self):
        return hash((type(self).__name__, id(self.factory), repr(self.kwargs)))

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs)
        return f"{type(self).__name__}({_qualname(self.factory)}{args})"


def _is_float(v) -> bool:
    return isinstance(v, float)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Schedule(_Spec):
    """An Optax schedule of the learning rate: ``Schedule(optax.cosine_decay_schedule,
    init_value=1e-3, decay_steps=1000)``.

    Every numeric argument (int or float) is a per-run sweep axis of that name. The
    program reads the learning rate of step ``t`` from a table built on the host:
    ``factory(**args)(t)`` for ``t = 0 … T`` (T = the run's last step), one row per
    distinct setting of the arguments among the runs (steps past T keep the last value).
    """

    what = "schedule factory (e.g. optax.warmup_cosine_decay_schedule)"

    def numbers(self) -> dict:
        """``{name: default}`` of the numeric arguments (the sweep axes)."""
        return {k: v for k, v in self.kwargs if _is_number(v)}

    def table(self, values: Mapping[str, np.ndarray], n_runs: int, steps: int):
        """``(table (U, steps + 1) float32, index (n_runs,) int32)``: the rate at each step
        for each distinct setting, and which row each run reads. ``values``: per-run
        arrays of the swept arguments (others take their defaults)."""
        kw = dict(self.kwargs)
        names = list(self.numbers())
        cols = [np.asarray(values[n], np.float64) if n in values
                else np.full(n_runs, float(kw[n])) for n in names]
        settings = list(zip(*cols)) if names else [()] * n_runs
        unique = sorted(set(settings))
        rows = []
        count = np.arange(steps + 1)
        for setting in unique:
            args = dict(kw)
            for n, v in zip(names, setting):
                args[n] = int(round(v)) if isinstance(kw[n], int) else float(v)
            rows.append(_tabulate(self.factory(**args), count))
        index = np.asarray([unique.index(s) for s in settings], np.int32)
        return np.stack(rows), index


def _tabulate(schedule, count):
    """``schedule(t)`` for every t of ``count`` (vectorised when the schedule allows)."""
    try:
        row = np.asarray(schedule(count), np.float32)
    except Exception:  # a schedule written for scalar counts only
        row = None
    if row is None or row.shape not in ((), count.shape):
        row = np.asarray([schedule(int(t)) for t in count], np.float32)
    return np.broadcast_to(row, count.shape).copy()


class Optimizer(_Spec):
    """Any Optax optimizer: ``Optimizer(optax.adamw, b1=0.9, weight_decay=1e-4)``, or a
    function of your own returning a transformation (a chain).

    The factory is called inside ``optax.inject_hyperparams``: each float argument is
    a per-run sweep axis named like the argument (write ``1.0``, not ``1``, to sweep a
    number; ints, bools, strings and functions are fixed). When the factory takes a
    ``learning_rate`` and none is given here, it gets ``TrainConfig.learning_rate`` (a
    float, a sweep axis, or a :class:`Schedule`); a ``Schedule`` may also be passed here.
    """

    what = "optimizer factory (e.g. optax.adamw, optax.lion)"

    def __init__(self, factory: Callable, **kwargs):
        super().__init__(factory, **kwargs)
        for k, v in self.kwargs:
            if isinstance(v, Schedule) and k != "learning_rate":
                raise ValueError(f"Optimizer: only learning_rate may be a Schedule, got {k}={v!r}.")
        if not self.takes("learning_rate") and "learning_rate" in dict(self.kwargs):
            raise ValueError(f"Optimizer: {_qualname(factory)} takes no learning_rate.")

    def takes(self, name: str) -> bool:
        try:
            params = inspect.signature(self.factory).parameters
        except (TypeError, ValueError):
            return False
        return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def learning_rate_of(config):
    """The learning rate a config trains with: a float or a :class:`Schedule`, or None
    when its :class:`Optimizer` takes none."""
    opt = config.optimizer
    if isinstance(opt, Optimizer):
        kw = dict(opt.kwargs)
        if "learning_rate" in kw:
            return kw["learning_rate"]
        if not opt.takes("learning_rate"):
            return None
    return config.learning_rate


def optimizer_numbers(config) -> dict:
    """``{name: default}`` of the config's per-run optimizer numbers (not the schedule's)."""
    opt = config.optimizer
    lr = learning_rate_of(config)
    out = {} if isinstance(lr, Schedule) or lr is None else {"learning_rate": float(lr)}
    if isinstance(opt, Optimizer):
        out.update({k: float(v) for k, v in opt.kwargs if _is_float(v)})
    else:
        out.update(momentum=float(config.momentum), weight_decay=float(config.weight_decay))
    return out


def make_transform(config, hyper: Mapping, learning_rate=None):
    """The run's Optax transformation, its numbers injected from ``hyper`` (a mapping of
    traced scalars, see :func:`optimizer_numbers`); ``learning_rate``: a callable of the
    step count that replaces the injected learning rate (a tabulated :class:`Schedule`)."""
    opt = config.optimizer
    lr = hyper.get("learning_rate") if learning_rate is None else learning_rate
    if not isinstance(opt, Optimizer):
        factory = optax.inject_hyperparams(_factory(opt, config.b1, config.b2, config.eps))
        return factory(learning_rate=lr, momentum=hyper["momentum"],
                       weight_decay=hyper["weight_decay"])
    kw = dict(opt.kwargs)
    static = [k for k, v in kw.items() if not _is_float(v) and not isinstance(v, Schedule)
              and k in inspect.signature(opt.factory).parameters and not isinstance(v, bool)
              and (callable(v) or _is_number(v))]
    for k, v in kw.items():
        if _is_float(v):
            kw[k] = hyper[k]
    if learning_rate_of(config) is not None:
        kw["learning_rate"] = lr
    return optax.inject_hyperparams(opt.factory, static_args=static)(**kw)


def make_optimizer(name: str, hyper, *, b1=0.9, b2=0.999, eps=1e-8):
    """One of the four named optimizers, its numbers injected from ``hyper`` (traced).

    Its ``init`` stores ``learning_rate``, ``momentum``, ``weight_decay`` in the state;
    its ``update`` reads them back from the state, so the update of a state made by any
    ``make_optimizer(name, ·)`` uses that state's numbers.
    """
    h = hyper._asdict() if isinstance(hyper, Hyper) else hyper
    factory = optax.inject_hyperparams(_factory(name, b1, b2, eps))
    return factory(learning_rate=h["learning_rate"], momentum=h["momentum"],
                   weight_decay=h["weight_decay"])

