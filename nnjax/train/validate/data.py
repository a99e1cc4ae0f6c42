"""Host-side checks of the data given to fit / evaluate / predict, before anything compiles.

Each split is read as a NumPy array (no copy for NumPy input or CPU-resident JAX
arrays). The model's output shape comes from ``jax.eval_shape`` of its ``init``, which
traces but compiles nothing (and raises the layers' own shape errors, e.g. image-shaped
input to a Linear). Checks, each refused with what was found, what is expected and
how to fix it:

* dtypes are real numbers (bool, int or float);
* inputs are finite (the error names the split, the count and the first example);
* cross-entropy: integer labels (N,) in [0, K) for an output of K ≥ 2 logits, or
  one-hot / probability rows (N, K) in [0, 1] that sum to 1;
* MSE and BCE: targets of the output's shape, finite; BCE targets in [0, 1];
* autoencoders (``target="input"``): the output has the input's shape.

Cost: one pass over each input array (a sum by a matrix-vector product; the exact count
only when it is not finite) and over the targets; measured by ``python -m
benchmarks.validate_cost``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

XENT, MSE, BCE = "softmax_cross_entropy", "mse", "binary_cross_entropy"


def split_xy(split):
    """``(x, y)`` from a Split-like object (``.x``, ``.y``), an ``(x, y)`` pair or a lone x."""
    if split is None:
        return None, None
    if hasattr(split, "x"):
        return split.x, getattr(split, "y", None)
    if isinstance(split, (tuple, list)):
        if len(split) != 2:
            raise ValueError(f"expected an (x, y) pair, got a {type(split).__name__} of"
                             f" {len(split)} items")
        return split[0], split[1]
    return split, None


def host_array(a, where: str) -> np.ndarray:
    """``a`` as a NumPy array of a real dtype (bool, int, float), else TypeError."""
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{where} could not be read as one array ({e}). Expected a rectangular"
                        " NumPy/JAX array of numbers.") from None
    dt = arr.dtype
    if not (dt == np.bool_ or jnp.issubdtype(dt, jnp.integer) or jnp.issubdtype(dt, jnp.floating)):
        raise TypeError(f"{where} has dtype {dt}, not a real number type; expected float or"
                        " integer (e.g. float32 inputs, int32 labels). Fix: convert it, e.g."
                        " np.asarray(a, np.float32) after parsing strings / splitting complex"
                        " values.")
    return arr


def _is_float(arr) -> bool:
    return jnp.issubdtype(arr.dtype, jnp.floating)


def _total_is_finite(arr: np.ndarray) -> bool:
    """One pass without a temporary of ``arr``'s size: the sum of all entries, by a BLAS
    matrix-vector product for float32/64 (NaN and ±inf propagate; an overflow of finite
    values gives a false alarm, which the exact count then clears)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.dtype in (np.float32, np.float64) and arr.ndim >= 1:
            rows = arr.reshape(arr.shape[0], -1)
            return bool(np.isfinite((rows @ np.ones(rows.shape[1], arr.dtype)).sum()))
        return bool(np.isfinite(arr.sum(dtype=np.float64)))


def check_finite(arr: np.ndarray, where: str) -> None:
    """Refuse NaN/±inf, naming the count and the first example (index along axis 0)."""
    if not _is_float(arr) or arr.size == 0:
        return
    if _total_is_finite(arr):
        return
    bad = ~np.isfinite(arr.reshape(arr.shape[0], -1) if arr.ndim else arr.reshape(1, 1))
    count = int(bad.sum())
    if count == 0:                                  # the sum overflowed; values are finite
        return
    first = int(np.flatnonzero(bad.any(axis=1))[0])
    value = arr.reshape(arr.shape[0], -1)[first][bad[first]][0] if arr.ndim else arr.item()
    raise ValueError(f"{where} holds {count} non-finite value{'s' * (count > 1)} (NaN or ±inf),"
                     f" first in example {first} ({value}); expected finite numbers. Fix: drop"
                     " those examples (keep = np.isfinite(x).reshape(len(x), -1).all(axis=1);"
                     " x, y = x[keep], y[keep]) or impute them (np.nan_to_num).")


def _range(arr, lo, hi, where, what, fix):
    """Refuse values outside [lo, hi] (``arr`` is finite)."""
    amin, amax = arr.min(), arr.max()
    if amin >= lo and amax <= hi:
        return
    bad = (arr < lo) | (arr > hi)
    flat = bad.reshape(bad.shape[0], -1).any(axis=1)
    first = int(np.flatnonzero(flat)[0])
    raise ValueError(f"{where} has {int(bad.sum())} {what} outside [{lo}, {hi}] (found values in"
                     f" [{amin}, {amax}], first in example {first}). {fix}")


def model_output_shape(model, in_shape: tuple, where: str):
    """``(out_shape, (params, state) as ShapeDtypeStructs)`` of ``model.init`` for inputs
    of ``in_shape``, traced by ``jax.eval_shape`` (nothing is compiled or run)."""
    box = {}

    def init():
        params, state, out = model.init(jax.random.key(0), tuple(in_shape))
        box["out"] = tuple(out)
        return params, state

    if not hasattr(model, "init"):
        raise TypeError(f"{where}: model must be a Layer (init, forward, backward), got"
                        f" {type(model).__name__}.")
    shapes = jax.eval_shape(init)
    return box["out"], shapes


def inputs(x, where: str) -> np.ndarray:
    """A batch-first input array: numeric, rank ≥ 2, at least one example, finite."""
    if x is None:
        raise ValueError(f"{where} is missing; pass an array of shape (N, *features).")
    arr = host_array(x, where)
    if arr.ndim < 2:
        raise ValueError(f"{where} has shape {arr.shape}; expected batch-first (N, *features)"
                         " of rank ≥ 2. Fix: x[:, None] for one feature per example, or"
                         " x[None] for one example.")
    if arr.shape[0] == 0:
        raise ValueError(f"{where} has no examples (shape {arr.shape}).")
    check_finite(arr, where)
    return arr


def targets(y, out_shape: tuple, loss_name: str, where: str, n: int) -> None:
    """Check training targets ``y`` against the model's per-example ``out_shape``."""
    arr = host_array(y, where)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(f"{where} has shape {arr.shape} for {n} inputs; expected one target per"
                         " input (the same first axis).")
    if loss_name == XENT:
        return _xent_targets(arr, out_shape, where)
    if loss_name in (MSE, BCE):
        if arr.shape[1:] != tuple(out_shape):
            hint = ""
            if arr.ndim == 1 and jnp.issubdtype(arr.dtype, jnp.integer) and len(out_shape) == 1 \
                    and out_shape[0] > 1:
                hint = (" These look like class labels: train with"
                        " loss='softmax_cross_entropy', or one-hot encode them.")
            elif arr.size == n * int(np.prod(out_shape)):
                hint = f" Fix: reshape, y.reshape({n}, {', '.join(map(str, out_shape))})."
            raise ValueError(f"{where} has per-example shape {arr.shape[1:]} but the model outputs"
                             f" {tuple(out_shape)}; {loss_name} compares them element by element,"
                             f" so they must be equal.{hint}")
        check_finite(arr, where)
        if loss_name == BCE:
            _range(arr, 0, 1, where, "targets", "Binary cross-entropy targets are probabilities;"
                   " fix: rescale them to [0, 1] (e.g. pixels / 255).")
        return None
    check_finite(arr, where)                        # a user's own loss: finite is all we know


def _xent_targets(arr, out_shape, where):
    if len(out_shape) != 1 or out_shape[0] < 2:
        raise ValueError(f"{where}: softmax cross-entropy needs a model output of K ≥ 2 logits"
                         f" per example, but the model outputs {tuple(out_shape)}. Fix: end the"
                         " model with Linear(K) for K classes (one output: use"
                         " loss='binary_cross_entropy').")
    k = out_shape[0]
    if arr.ndim == 1:
        if not jnp.issubdtype(arr.dtype, jnp.integer):
            kind = "bool" if arr.dtype == np.bool_ else str(arr.dtype)
            whole = arr.dtype == np.bool_ or bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
            first = "" if whole else f" (e.g. {arr[np.flatnonzero(arr != np.round(arr))[0]].item()!r})"
            raise TypeError(
                f"{where}: labels for softmax cross-entropy must be integer class indices in"
                f" [0, {k}); found dtype {kind}{first}. Fix: "
                + ("cast them, y.astype(np.int32)." if whole else
                   f"pass integer labels, or a ({arr.shape[0]}, {k}) array of class"
                   " probabilities (soft targets)."))
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= k:
            bad = (arr < 0) | (arr >= k)
            raise ValueError(
                f"{where}: {int(bad.sum())} labels lie outside [0, {k}) for a model with {k}"
                f" outputs (found labels in [{lo}, {hi}], first at index"
                f" {int(np.flatnonzero(bad)[0])}). Fix: map the labels to 0…{k - 1} (e.g."
                f" y - y.min()), or give the last layer {hi + 1} outputs.")
        return None
    if arr.shape[1:] != (k,):
        column = arr.shape[1:] == (1,) and jnp.issubdtype(arr.dtype, jnp.integer)
        raise ValueError(f"{where} has shape {arr.shape}; softmax cross-entropy with {k} outputs"
                         f" expects integer labels ({arr.shape[0]},) or probability rows"
                         f" ({arr.shape[0]}, {k})."
                         + (" Fix: a column of labels, y.reshape(-1)." if column else ""))
    check_finite(arr, where)
    _range(arr, 0, 1, where, "target probabilities", "One-hot / soft targets are probabilities.")
    sums = arr.sum(axis=1, dtype=np.float64)
    off = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
    if off.size:
        raise ValueError(f"{where}: {off.size} target rows do not sum to 1 (row {off[0]} sums to"
                         f" {sums[off[0]]:.4g}); cross-entropy targets are distributions over the"
                         f" {k} classes. Fix: normalise, y / y.sum(axis=1, keepdims=True).")
    return None
