"""Robust summaries of multi-seed results: IQM, quartiles, stratified bootstrap CIs.

Pure NumPy. The interquartile mean (IQM) is the 25% trimmed mean with
``scipy.stats.trim_mean(x, 0.25)`` semantics: with ``n`` values sorted, ``k = ⌊n/4⌋``
are cut from each end and the middle ``n − 2k`` are averaged (15 values → the middle 9).
Confidence intervals follow rliable (Agarwal et al., 2021): runs are resampled with
replacement within each task (stratum) independently, and the interval is the percentile
interval of the statistic over the bootstrap replicates.

Non-finite values (NaN from a diverged run, ±inf) are never averaged in silence:
``summary`` excludes them and counts them (``n_excluded``); ``iqm``/``quartiles`` either
propagate NaN (default, like ``np.mean``) or omit them per slice (``nan_policy="omit"``).

Example::

    >>> import numpy as np
    >>> from nnjax import stats
    >>> acc = np.array([.970, .971, .969, np.nan, .972])
    >>> s = stats.summary(acc, n_boot=1000)
    >>> s["n"], s["n_excluded"]
    (4, 1)
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Optional, Sequence, Union

import numpy as np

ArrayLike = Union[np.ndarray, Sequence[float]]
_POLICIES = ("propagate", "omit")

#: Fewer finite runs than this and a bootstrap CI says little (with 2 runs it is just
#: their range): :func:`summary` leaves the CI out and :func:`spread_text` lists every value.
MIN_RUNS_FOR_CI = 5


def _check_policy(nan_policy: str) -> None:
    if nan_policy not in _POLICIES:
        raise ValueError(f"nan_policy must be one of {_POLICIES}, got {nan_policy!r}")


def _as_float(values: ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def iqm(values: ArrayLike, *, axis: Optional[int] = None,
        nan_policy: str = "propagate") -> Union[float, np.ndarray]:
    """Interquartile mean: mean of the values left after cutting ``⌊n/4⌋`` from each end.

    Args:
      values: any shape, e.g. ``(runs,)`` or ``(runs, epochs)``.
      axis: ``None`` pools all values (returns a float); an int reduces that axis only
        (``iqm(curves, axis=0)`` gives an IQM curve over seeds, shape ``(epochs,)``).
      nan_policy: ``"propagate"`` returns NaN for a slice holding a NaN (±inf are ordinary
        values there and may be trimmed); ``"omit"`` drops NaN and ±inf from each slice
        before trimming (a slice with nothing finite gives NaN).
    """
    _check_policy(nan_policy)
    x = _as_float(values)
    if axis is None:
        x, axis = x.reshape(-1), 0
    x = np.moveaxis(x, axis, 0)
    if x.shape[0] == 0:
        raise ValueError("iqm of an empty array")
    if nan_policy == "omit":
        x = np.where(np.isfinite(x), x, np.nan)
    bad = np.isnan(x)
    n = (~bad).sum(axis=0)                        # valid values per slice
    s = np.sort(x, axis=0)                        # NaN sorts last
    k = n // 4                                    # cut from each end (trim_mean's int(0.25 n))
    rank = np.arange(x.shape[0]).reshape((-1,) + (1,) * (x.ndim - 1))
    keep = (rank >= k) & (rank < n - k)
    count = keep.sum(axis=0)
    total = np.where(keep, s, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / count                       # inf − inf or 0/0 → NaN
    if nan_policy == "propagate":
        out = np.where(bad.any(axis=0), np.nan, out)
    return float(out) if np.ndim(out) == 0 else out


def quartiles(values: ArrayLike, *, axis: Optional[int] = None, nan_policy: str = "propagate"):
    """``(q1, median, q3)``: the 25th, 50th and 75th percentiles (linear interpolation).

    ``axis`` and ``nan_policy`` as in :func:`iqm` (``"omit"`` ignores non-finite values;
    an all-non-finite slice gives NaN).
    """
    _check_policy(nan_policy)
    x = _as_float(values)
    if x.size == 0:
        raise ValueError("quartiles of an empty array")
    if nan_policy == "omit":
        x = np.where(np.isfinite(x), x, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN slices → NaN
            q = np.nanpercentile(x, [25, 50, 75], axis=axis)
    else:
        q = np.percentile(x, [25, 50, 75], axis=axis)
    if np.ndim(q) == 1:
        return tuple(float(v) for v in q)
    return q[0], q[1], q[2]


def _strata(values_per_task) -> list:
    """Split the input into a list of 1-D finite strata (see :func:`bootstrap_ci`)."""
    if isinstance(values_per_task, (list, tuple)) and values_per_task and \
            all(isinstance(c, np.ndarray) for c in values_per_task):
        cols = [_as_float(c).reshape(-1) for c in values_per_task]   # one array per task
    else:
        x = _as_float(values_per_task)
        if x.ndim == 1:
            cols = [x]
        elif x.ndim == 2:
            cols = [x[:, j] for j in range(x.shape[1])]
        else:
            raise ValueError(f"bootstrap_ci expects (runs,) or (runs, tasks), got {x.shape}")
    out = []
    for j, c in enumerate(cols):
        c = c[np.isfinite(c)]
        if c.size == 0:
            raise ValueError(f"stratum {j} has no finite values; nothing to bootstrap")
        out.append(c)
    return out


def bootstrap_replicates(values_per_task, statistic: Callable = iqm, *, n_boot: int = 2000,
                         seed: int = 0) -> np.ndarray:
    """Statistic of ``n_boot`` stratified resamples, shape ``(n_boot,)``.

    Each stratum (task) of ``n_j`` finite runs is resampled with replacement to ``n_j``
    runs, independently of the others; ``statistic`` then receives all resampled runs
    pooled into one 1-D array (rliable's aggregate scores). Non-finite runs are dropped.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be ≥ 1, got {n_boot}")
    strata = _strata(values_per_task)
    rng = np.random.default_rng(seed)
    parts = [c[rng.integers(0, c.size, size=(n_boot, c.size))] for c in strata]
    samples = np.concatenate(parts, axis=1)                      # (n_boot, total runs)
    if statistic is iqm:
        return iqm(samples, axis=1)
    if statistic in (np.mean, np.median):
        return statistic(samples, axis=1)
    return np.array([float(statistic(row)) for row in samples])


def bootstrap_ci(values_per_task, statistic: Callable = iqm, *, n_boot: int = 2000,
                 confidence: float = 0.95, seed: int = 0) -> tuple:
    """Percentile ``confidence`` interval of ``statistic`` by stratified bootstrap.

    Args:
      values_per_task: ``(runs,)`` (one stratum), ``(runs, tasks)`` (each column a
        stratum), or a list of NumPy arrays, one per stratum (sizes may differ; nested
        Python lists are read as an array instead). Non-finite runs
        are dropped first; a stratum with none left raises ``ValueError``.
      statistic: maps a 1-D array of pooled runs to a float (default :func:`iqm`).
      n_boot: number of bootstrap replicates. seed: makes the result deterministic.
    Returns:
      ``(low, high)`` as floats.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    reps = bootstrap_replicates(values_per_task, statistic, n_boot=n_boot, seed=seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(reps, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def _num(v) -> Optional[float]:
    v = float(v)
    return v if math.isfinite(v) else None


def summary(values: ArrayLike, *, n_boot: int = 2000, seed: int = 0,
            confidence: float = 0.95) -> dict:
    """JSON-ready summary of per-run values (any shape, flattened in C order).

    Non-finite values are excluded visibly: ``n`` counts finite runs, ``n_excluded`` the
    others and ``excluded_index`` says which; ``values`` keeps every run in order with
    ``None`` for an excluded one. Statistics that cannot be computed are ``None`` (all of
    them when every run diverged; ``std`` needs ≥ 2 runs, the CI ≥ :data:`MIN_RUNS_FOR_CI`).
    ``std`` uses ``ddof=1``; ``ci_low``/``ci_high`` is the bootstrap ``confidence`` interval
    of the IQM.
    """
    x = _as_float(values).reshape(-1)
    finite = np.isfinite(x)
    v = x[finite]
    n = int(v.size)
    out = {"n": n, "n_excluded": int(x.size - n),
           "excluded_index": [int(i) for i in np.flatnonzero(~finite)]}
    keys = ("iqm", "mean", "std", "median", "q1", "q3", "min", "max", "ci_low", "ci_high")
    out.update({k: None for k in keys})
    if n:
        q1, med, q3 = quartiles(v)
        out.update(iqm=_num(iqm(v)), mean=_num(v.mean()), median=_num(med), q1=_num(q1),
                   q3=_num(q3), min=_num(v.min()), max=_num(v.max()))
    if n >= 2:
        out["std"] = _num(v.std(ddof=1))
    if n >= MIN_RUNS_FOR_CI:
        lo, hi = bootstrap_ci(v, iqm, n_boot=n_boot, confidence=confidence, seed=seed)
        out.update(ci_low=_num(lo), ci_high=_num(hi))
    out["confidence"] = confidence
    out["values"] = [float(a) if ok else None for a, ok in zip(x, finite)]
    return out


def spread_text(summ: dict, fmt: str = ".4f", sep: str = "–") -> str:
    """How sure the IQM of a :func:`summary` is, as text: ``"lo–hi"`` (its CI) when it has
    ≥ :data:`MIN_RUNS_FOR_CI` finite runs, else ``"n=2: a, b"`` (every finite value), since
    a bootstrap over a handful of runs is no interval. Older summaries that stored a CI for
    fewer runs are shown the same way; ``"—"`` when there is nothing to show."""
    n = summ.get("n") or 0
    if n >= MIN_RUNS_FOR_CI and summ.get("ci_low") is not None:
        return f"{format(summ['ci_low'], fmt)}{sep}{format(summ['ci_high'], fmt)}"
    values = [v for v in summ.get("values") or () if v is not None]
    if not values:
        return "—"
    return f"n={n}: " + ", ".join(format(v, fmt) for v in values)
