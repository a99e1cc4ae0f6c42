"""Hyperparameters checked where they enter: TrainConfig, EarlyStopping, make_runs, kfold,
the sweep Grid and fit's own arguments.

Every refusal names the argument, the value found and the allowed range. One value has
an opt-out because research uses it on purpose: a negative momentum (Gidel et al. 2019,
"Negative momentum for improved game dynamics") is accepted with a
:class:`HyperparameterWarning`, which ``warnings.filterwarnings("ignore",
category=HyperparameterWarning)`` silences. Plain host-side Python; nothing is traced.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Callable, NamedTuple, Optional

import numpy as np


class HyperparameterWarning(UserWarning):
    """A legal but unusual hyperparameter (e.g. a negative momentum)."""


class Rule(NamedTuple):
    """``ok(v)`` on a finite float; ``allowed``: the range in words; ``fix``: what to do;
    ``warn(v)``: legal but unusual (a warning, not an error)."""

    ok: Callable[[float], bool]
    allowed: str
    fix: str = ""
    warn: Optional[Callable[[float], bool]] = None


RULES = {
    "learning_rate": Rule(lambda v: v > 0, "(0, ∞)",
                          "a step size is positive (to maximise f, minimise −f); typical"
                          " values are 1e-4 … 1e-1"),
    "weight_decay": Rule(lambda v: v >= 0, "[0, ∞)",
                         "use 0 for no decay; a negative decay grows the weights"),
    "momentum": Rule(lambda v: -1 < v < 1, "(−1, 1) (0.9 is usual; |μ| ≥ 1 never damps)",
                     "choose μ in [0, 1); negative μ is accepted with a warning",
                     warn=lambda v: v < 0),
    "noise_std": Rule(lambda v: v >= 0, "[0, ∞)", "σ is a standard deviation; 0 = no noise"),
    "l1": Rule(lambda v: v >= 0, "[0, ∞)", "λ is a penalty strength; 0 = no penalty"),
    "dropout": Rule(lambda v: 0 <= v < 1, "[0, 1)", "a drop probability; 0 = no dropout"),
    "b1": Rule(lambda v: 0 <= v < 1, "[0, 1)", "Adam's default is 0.9"),
    "b2": Rule(lambda v: 0 <= v < 1, "[0, 1)", "Adam's default is 0.999"),
    "eps": Rule(lambda v: v > 0, "(0, ∞)", "Adam's default is 1e-8"),
}
FLOAT32_MAX = float(np.finfo(np.float32).max)
SEED_LIMIT = 2 ** 32    # seeds become uint32 PRNG seeds: larger or negative ones would wrap


def is_int(v) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def real(owner: str, name: str, value) -> float:
    """``value`` as a finite float, else TypeError/ValueError naming ``owner.name``."""
    arr = None if isinstance(value, (str, bytes)) else np.asarray(value)   # NumPy/JAX scalars too
    if arr is None or arr.shape != () or arr.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}"
                        f" ({type(value).__name__}).")
    v = float(arr)
    if not math.isfinite(v):
        allowed = RULES[name].allowed if name in RULES else "finite values"
        raise ValueError(f"{owner}: {name}={value!r} is not finite; allowed: {allowed}."
                         " A NaN or infinite setting would only produce a diverged run.")
    if abs(v) > FLOAT32_MAX:
        raise ValueError(f"{owner}: {name}={value!r} overflows float32 (|v| ≤ {FLOAT32_MAX:.3g}),"
                         " the dtype runs carry it in: it would become ±inf.")
    return v


def number(owner: str, name: str, value) -> float:
    """Check one value of a known hyperparameter against :data:`RULES` (unknown names:
    finite only). Returns it as a float; warns for legal-but-unusual values."""
    v = real(owner, name, value)
    rule = RULES.get(name)
    if rule is None:
        return v
    if not rule.ok(v):
        raise ValueError(f"{owner}: {name}={value!r} is outside the allowed range {rule.allowed}."
                         + (f" Fix: {rule.fix}." if rule.fix else ""))
    if rule.warn is not None and rule.warn(v):
        warnings.warn(f"{owner}: {name}={value!r} is unusual (allowed, as in research on"
                      f" negative momentum); the usual range is [0, 1). Silence with"
                      " warnings.filterwarnings('ignore', category=HyperparameterWarning).",
                      HyperparameterWarning, stacklevel=4)
    return v


PLAIN = (str, bytes, bool, np.bool_, list, tuple, dict, set, type(None))


def _number_like(value) -> bool:
    """A Python/NumPy/JAX real scalar (not a bool)."""
    if isinstance(value, PLAIN):
        return False
    try:
        arr = np.asarray(value)
    except Exception:                                 # noqa: BLE001 - any object that is no array
        return False
    return arr.shape == () and arr.dtype.kind in "iuf"


def positive_int(owner: str, name: str, value, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not is_int(value) or value < 1:
        raise (ValueError if is_int(value) else TypeError)(
            f"{owner}: {name} must be a positive int{' or None' if optional else ''},"
            f" got {value!r}.")


def integer(owner: str, name: str, value) -> None:
    if not is_int(value):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r} ({type(value).__name__}).")


# --- where hyperparameters enter ------------------------------------------------------------
def config(cfg) -> None:
    """TrainConfig's numbers (its choices and ints are checked by TrainConfig itself)."""
    for name in ("epochs", "batch_size", "eval_batch_size", "epochs_per_call"):
        if isinstance(getattr(cfg, name), (bool, np.bool_)):
            raise TypeError(f"TrainConfig.{name} must be a positive int, got"
                            f" {getattr(cfg, name)!r}.")
    for name in ("learning_rate", "momentum", "weight_decay", "noise_std", "b1", "b2", "eps"):
        value = getattr(cfg, name, None)
        if value is None and name != "learning_rate":
            continue                                  # an optional number left unset
        if not _number_like(value) and not isinstance(value, PLAIN):
            continue               # a schedule or another object: its own class checks it
        number("TrainConfig", name, value)
    integer("TrainConfig", "shuffle_seed", cfg.shuffle_seed)


def early_stopping(es) -> None:
    """EarlyStopping's fields (mode, ranges of patience/window/min_delta: in the class)."""
    if not isinstance(es.monitor, str):
        raise TypeError(f"EarlyStopping.monitor must be a metric name (str), got {es.monitor!r}.")
    for name in ("patience", "window"):
        positive_int("EarlyStopping", name, getattr(es, name), optional=True)
    real("EarlyStopping", "min_delta", es.min_delta)
    if not isinstance(es.restore_best, (bool, np.bool_)):
        raise TypeError(f"EarlyStopping.restore_best must be True or False, got {es.restore_best!r}.")


def seeds(owner: str, value) -> None:
    """A count ≥ 1 or a list of distinct integer seeds in [0, 2³²)."""
    if is_int(value):
        if value < 1:
            raise ValueError(f"{owner}: seeds={value!r} must be a count ≥ 1 or a list of seeds.")
        return
    if isinstance(value, (str, bytes, bool, np.bool_)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{owner}: seeds must be a count (int) or a list of int seeds, got"
                        f" {value!r}.")
    values = list(np.asarray(value).ravel()) if hasattr(value, "dtype") else list(value)
    for s in values:
        if not is_int(s):
            raise TypeError(f"{owner}: seeds must be integers, got {s!r} ({type(s).__name__})"
                            f" in seeds={_short(values)}. Fix: pass ints, e.g. seeds=[0, 1, 2].")
        if not 0 <= s < SEED_LIMIT:
            raise ValueError(f"{owner}: seed {s} is outside [0, 2**32) in seeds={_short(values)};"
                             " PRNG seeds are uint32 (a negative seed would alias a large one).")
    counts = {}
    for s in values:
        counts[int(s)] = counts.get(int(s), 0) + 1
    repeated = sorted(s for s, c in counts.items() if c > 1)
    if repeated:
        raise ValueError(f"{owner}: seeds repeat {repeated} in seeds={_short(values)}; runs with"
                         " the same seed and settings are the same run and would count twice in"
                         " the statistics. Fix: give distinct seeds, e.g. seeds=len(...) or"
                         " range(n).")


def folds(owner: str, value) -> None:
    if value is None:
        return
    if not is_int(value):
        raise TypeError(f"{owner}: folds must be an int ≥ 2 or None, got {value!r}.")
    if value < 2:
        raise ValueError(f"{owner}: folds={value} must be ≥ 2 (k-fold needs two folds at"
                         " least) or None for no cross-validation.")


def runs_args(seed_arg, n_folds, fold_seed, hyper: dict) -> None:
    """:func:`~nnjax.train.runs.make_runs`' arguments."""
    seeds("make_runs", seed_arg)
    folds("make_runs", n_folds)
    integer("make_runs", "fold_seed", fold_seed)
    for name, values in hyper.items():            # known names: their range; others: finite
        if isinstance(values, (str, bytes)):
            raise TypeError(f"make_runs: {name}={values!r} must be numbers, not a string.")
        vals = list(np.ravel(np.asarray(values, dtype=object)))
        if not vals:
            raise ValueError(f"make_runs: {name}=[] has no values; give at least one, or leave"
                             f" {name} out to use the TrainConfig default.")
        for v in vals:
            number("make_runs", name, v)


def runs(owner: str, r) -> None:
    """A :class:`~nnjax.train.runs.Runs` built by hand (not through make_runs)."""
    if not hasattr(r, "seed") or not hasattr(r, "hyper"):
        raise TypeError(f"{owner}: runs must be a seed count, a list of seeds or"
                        f" make_runs(...), got {type(r).__name__}.")
    s = np.asarray(r.seed)
    if s.ndim != 1 or s.size == 0 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"{owner}: runs.seed must be a non-empty 1-D int array, got {s!r}.")
    if s.min() < 0 or s.max() >= SEED_LIMIT:
        raise ValueError(f"{owner}: runs.seed holds {int(s.min())}…{int(s.max())}; seeds must lie"
                         " in [0, 2**32).")
    for name, v in r.hyper.items():
        v = np.asarray(v, np.float64)
        bad = ~np.isfinite(v)
        if name in RULES:
            bad |= ~np.vectorize(RULES[name].ok, otypes=[bool])(v)
        bad = np.flatnonzero(bad)
        if bad.size:
            number(owner, name, v[bad[0]].item())          # raises with the message


def kfold_args(n, k, seed) -> None:
    integer("kfold", "n", n)
    integer("kfold", "k", k)
    integer("kfold", "seed", seed)


def grid(g) -> None:
    """A sweep :class:`~nnjax.sweep.core.Grid`: every axis a non-empty list of values."""
    for kind in ("static", "vmapped"):
        axes = getattr(g, kind)
        if not hasattr(axes, "items"):
            raise TypeError(f"Grid.{kind} must be a mapping {{name: [values]}}, got {axes!r}.")
        for name, values in axes.items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                raise TypeError(f"Grid.{kind}[{name!r}]={values!r} must be a list of values;"
                                f" for a single value write [{values!r}].")
            if len(values) == 0:
                raise ValueError(f"Grid.{kind}[{name!r}] is empty: the sweep would train"
                                 " nothing. Give at least one value or drop the axis.")
    g.runs()                 # make_runs checks seeds, folds and every vmapped value


def _short(values, n: int = 8) -> str:
    return str(list(values)) if len(values) <= n else f"[{', '.join(map(str, values[:n]))}, …]"
