"""Where and how a hand-written backward is wrong.

:func:`diagnose_layer` (and :func:`diagnose_loss`) compare, in float64, the manual
gradient with ``jax.vjp`` of the forward and with central finite differences, for ``dx``
and every parameter, and return a :class:`Diagnosis`:

* per gradient (``dx``, ``dw``, ``db``, ``d[0].w`` …): its relative error, the worst
  entries (index, input or parameter value, manual, autodiff, finite difference,
  ``|manual − autodiff| / max|autodiff|``) and the mistakes :mod:`.mistakes` names;
* for an *elementwise* layer (its Jacobian is diagonal), the derivative at ``dy = 1`` on a
  grid of x over [−8, 8] (plus ±20, ±50, ±1000 for saturation and overflow), and what
  the error there is a function of (``manual − autodiff = x·σ(x)²``);
* the per-entry errors, for :mod:`.figures`.

``Diagnosis.explain()`` is the text ``nnjax gradcheck``, ``CheckResult.explain()`` and
``fit``'s :class:`GradientCheckError` print.
"""
from __future__ import annotations

import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from nnjax.gradcheck import mistakes
from nnjax.gradcheck.report import EXTREMES, GRID, Curve, Diagnosis, Entry, LeafReport
FD_EPS = 1e-6
FD_MAX_ENTRIES = 20_000
N_WORST = 3


def _leaf_names(tree, prefix="d"):
    paths, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [prefix + jax.tree_util.keystr(p).lstrip(".") for p, _ in paths]


def _np(v):
    return np.asarray(v, np.float64)


def leaf_report(name, m, a, fd=None, value=None, *, x=None, counts=(), tol=1e-10,
                elementwise=False) -> LeafReport:
    """Report on one gradient: relative error, worst entries, named mistakes."""
    m, a = _np(m), _np(a)
    note = mistakes.non_finite(m, a) if m.shape == a.shape else None
    if m.shape != a.shape:
        f = mistakes.shape_or_transpose(m, a)
        return LeafReport(name, math.inf, (), (f,) if f else (), None,
                          f"shape {m.shape}, expected {a.shape}")
    scale = float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0))
    diff = np.abs(m - a)
    diff = np.where(np.isnan(diff), np.inf, diff)
    worst_diff = float(np.max(diff, initial=0.0))
    rel = worst_diff / scale if scale > 0 else (0.0 if worst_diff == 0 else math.inf)
    per_entry = diff / scale if scale > 0 else np.where(diff > 0, np.inf, 0.0)
    order = np.argsort(-per_entry.ravel(), kind="stable")[:N_WORST] if m.size else []
    fd = np.full(m.shape, np.nan) if fd is None else _np(fd)
    value = np.full(m.shape, np.nan) if value is None else _np(value)
    worst = tuple(Entry(tuple(int(i) for i in np.unravel_index(k, m.shape)),
                        float(value.flat[k]), float(m.flat[k]), float(a.flat[k]),
                        float(fd.flat[k]), float(per_entry.flat[k]))
                  for k in order if per_entry.flat[k] > 0)
    findings = []
    if rel > tol:
        for f in (note, mistakes.shape_or_transpose(m, a), mistakes.all_zero(m, a),
                  mistakes.constant_factor(m, a, counts)):
            if f:
                findings.append(f)
                break
        if not findings and x is not None and not elementwise:
            f = mistakes.batch_constant(m, a) or mistakes.per_feature_affine(m, a, x)
            if f:
                findings.append(f)
    error = (m - a) / scale if scale > 0 else m - a
    return LeafReport(name, rel, worst, tuple(findings), error)


def finite_diff_grad(phi, tree, eps: float = FD_EPS):
    """Central differences of the scalar ``phi(tree)`` for every entry of ``tree`` (float64)."""
    flat, unravel = ravel_pytree(tree)
    if flat.size > FD_MAX_ENTRIES:
        return jax.tree.map(lambda v: jnp.full(jnp.shape(v), jnp.nan), tree)

    def one(i):
        step = jnp.zeros_like(flat).at[i].set(eps)
        return (phi(unravel(flat + step)) - phi(unravel(flat - step))) / (2 * eps)

    grads = jax.jit(lambda: jax.lax.map(one, jnp.arange(flat.size), batch_size=128))()
    return unravel(grads)


def _counts(x) -> dict:
    counts = {"batch size": x.shape[0], "values per example": int(np.prod(x.shape[1:])),
              "values in the batch": int(x.size)}
    if x.ndim > 2:
        counts["values per channel"] = int(x.size // x.shape[-1])
    return counts


def _forward_fn(layer, state, key, train):
    def f(p, xx):
        k = None if key is None else jax.random.clone(key)
        y, _, res = layer.forward(p, state, xx, key=k, train=train)
        return y, (None if layer.penalty is None else layer.penalty(p, state, res))
    return f


def is_elementwise(layer, params, state, x, key, train) -> bool:
    """``y`` has ``x``'s shape and ∂y/∂x (by autodiff, at ``x``) is diagonal."""
    f = _forward_fn(layer, state, key, train)
    out = jax.eval_shape(lambda xx: f(params, xx)[0], x)
    if out.shape != x.shape or x.size > 2000:
        return False
    jac = np.asarray(jax.jacobian(lambda xx: f(params, xx)[0])(x)).reshape(x.size, x.size)
    return bool(np.all(jac[~np.eye(x.size, dtype=bool)] == 0))


def derivative_curve(layer, params, state, in_shape, key, train) -> Curve:
    """Manual and autodiff derivative (dy = 1) of an elementwise layer over ``GRID`` ∪ extremes."""
    from nnjax.gradcheck.checks import _vjp_pair
    probe = np.concatenate([GRID, EXTREMES])
    per = int(np.prod(in_shape))
    rows = -(-probe.size // per)
    flat = np.concatenate([probe, np.zeros(rows * per - probe.size)])
    xg = jnp.asarray(flat.reshape((rows, *in_shape)), jnp.float64)
    y = _forward_fn(layer, state, key, train)(params, xg)[0]
    k = None if key is None else jax.random.clone(key)
    manual, ref = _vjp_pair(layer, params, state, xg, jnp.ones_like(y), k, train)
    dm = _np(manual[1]).ravel()[:probe.size]
    da = _np(ref[1]).ravel()[:probe.size]
    yv = _np(y).ravel()[:probe.size]
    return Curve(probe, dm, da, curve_findings(probe, dm, da, yv))


def curve_findings(x, dm, da, y=None) -> tuple:
    """Named mistakes of an elementwise derivative sampled at points ``x``."""
    f = mistakes.non_finite(dm, da)
    if f:
        bad = ~np.isfinite(dm) | ~np.isfinite(da)
        return tuple(filter(None, (f, mistakes.region(bad, x))))
    factor = mistakes.constant_factor(dm, da)
    if factor:
        return (factor,)
    scale = max(float(np.max(np.abs(da))), 1e-300)
    bad = np.abs(dm - da) > mistakes.TOL * scale
    if not bad.any():
        return ()
    found = [mistakes.region(bad, x)]
    if bad.sum() < 10:              # a few points: no function of x to name
        return tuple(filter(None, found))
    inner = np.abs(x) <= GRID[-1]
    found.append(mistakes.missing_term((dm - da)[inner], x[inner],
                                       None if y is None else y[inner]))
    return tuple(filter(None, found))


def diagnose_layer(layer, params, state, x, dy, *, key=None, train=False, name=None,
                   tol: float = 1e-10, curve: Optional[bool] = None, pair=None) -> Diagnosis:
    """Diagnose ``layer.backward`` at ``(params, x)`` for the cotangent ``dy`` (float64).

    ``curve``: probe the derivative on a grid (default: when the layer is elementwise).
    ``pair``: the ``(manual, jax.vjp)`` gradients at these inputs when the caller has them
    (:func:`~nnjax.gradcheck.checks.check_layer` does), so they are not computed again.
    """
    from nnjax.gradcheck.checks import _vjp_pair
    name = name or layer.name
    with jax.enable_x64(True):
        x, dy = jnp.asarray(x, jnp.float64), jnp.asarray(dy, jnp.float64)
        clone = (lambda: None) if key is None else (lambda: jax.random.clone(key))
        manual, ref = pair or _vjp_pair(layer, params, state, x, dy, clone(), train)
        f = _forward_fn(layer, state, key, train)

        def phi(tree):
            y, pen = f(*tree)
            return jnp.vdot(dy, y) + (0.0 if pen is None else pen)

        fd = finite_diff_grad(phi, (params, x))
        elementwise = is_elementwise(layer, params, state, x, key, train)
        leaves = _leaves(manual, ref, fd, (params, x), x, _counts(x), tol, elementwise)
        probe = elementwise if curve is None else curve
        crv = derivative_curve(layer, params, state, x.shape[1:], key, train) if probe else None
    return Diagnosis(name, leaves, crv, tol, _fd_error(manual, fd))


def _fd_error(manual, fd) -> float:
    from nnjax.gradcheck.checks import rel_error
    try:
        return rel_error(manual, fd)
    except (ValueError, TypeError):
        return math.inf


def _leaves(manual, ref, fd, values, x, counts, tol, elementwise=False):
    """LeafReports with ``dx`` first, then the parameters in pytree order."""
    names = _leaf_names(ref[0]) + ["dx"]
    ref_l = jax.tree.leaves(ref[0]) + [ref[1]]
    fd_l = jax.tree.leaves(fd[0]) + [fd[1]]
    val_l = jax.tree.leaves(values[0]) + [values[1]]
    try:
        man_l = jax.tree.leaves(manual[0]) + [manual[1]]
    except (TypeError, IndexError):
        man_l = []
    if len(man_l) != len(ref_l) or (
            jax.tree.structure(manual) != jax.tree.structure(ref)):
        return (LeafReport("dparams, dx", math.inf, (), (
            f"manual returns {jax.tree.structure(manual)}, expected"
            f" {jax.tree.structure(ref)}: backward must return (dparams, dx) shaped like"
            f" (params, x)",)),)
    reports = [leaf_report(n, m, a, f, v, x=x if n == "dx" else None, counts=counts, tol=tol,
                           elementwise=elementwise)
               for n, m, a, f, v in zip(names, man_l, ref_l, fd_l, val_l)]
    return tuple([reports[-1]] + reports[:-1])


def diagnose_loss(loss, pred, target, *, name=None, tol: float = 1e-10) -> Diagnosis:
    """Diagnose ``loss.grad`` against ``jax.grad(loss.value)`` at ``(pred, target)``."""
    name = name or loss.name
    with jax.enable_x64(True):
        pred = jnp.asarray(pred, jnp.float64)
        manual, ref = loss.grad(pred, target), jax.grad(loss.value)(pred, target)
        fd = finite_diff_grad(lambda p: loss.value(p, target), pred)
        counts = {"batch size": pred.shape[0], "values in the batch": int(pred.size)}
        rep = leaf_report("dpred", manual, ref, fd, pred, counts=counts, tol=tol)
    return Diagnosis(name, (rep,), None, tol, _fd_error(manual, fd))


def diagnose_objective(model, loss, params, state, x, target, worst: str, *, key=None):
    """Diagnose the layer ``verify_objective`` named (``"[1] Swish"``) at the input it sees
    in the model (train mode, the same cotangent), or the loss at the model's output."""
    from nnjax.gradcheck.checks import _clone
    with jax.enable_x64(True):
        found = _find(model, params, state, x, _clone(key), worst, "")
        if found is not None:
            layer, p, s, xi, k = found
            dy = jax.random.normal(jax.random.key(1), jax.eval_shape(
                lambda: layer.forward(p, s, xi, key=_clone(k), train=True)[0]).shape, xi.dtype)
            return diagnose_layer(layer, p, s, xi, dy, key=k, train=True, name=worst)
        out = model.forward(params, state, x, key=_clone(key), train=True)[0]
        return diagnose_loss(loss, out, target, name=f"loss {loss.name}")


def _find(model, params, state, x, key, target: str, prefix: str):
    """``(layer, params, state, input, key)`` of the leaf layer named ``target``."""
    from nnjax.gradcheck.checks import _clone
    from nnjax.layer import split_optional
    if not model.layers:
        return (model, params, state, x, key) if prefix + model.name == target else None
    keys = split_optional(key, len(model.layers))
    for i, (child, p, s, k) in enumerate(zip(model.layers, params, state, keys)):
        hit = _find(child, p, s, x, _clone(k), target, f"{prefix}[{i}] ")
        if hit is not None:
            return hit
        x, _, _ = child.forward(p, s, x, key=k, train=True)
    return None


def diagnose_check(layer, in_shape, *, batch: int = 3, train: bool = False, key=None,
                   x=None, name=None, curve: Optional[bool] = None) -> Diagnosis:
    """:func:`diagnose_layer` at the inputs :func:`~nnjax.gradcheck.checks.check_layer`
    uses (same key, same x and dy), whether or not the check fails (for figures)."""
    from nnjax.gradcheck.checks import EXACT_TOL, layer_inputs
    with jax.enable_x64(True):
        params, state, x, dy, k = layer_inputs(layer, in_shape, batch=batch, train=train,
                                               key=key, x=x)
        return diagnose_layer(layer, params, state, x, dy, key=k, train=train,
                              name=name, tol=EXACT_TOL, curve=curve)


def curve_check(layer, in_shape, *, batch: int = 3, train: bool = False, key=None,
                x=None) -> Optional[Curve]:
    """Only the grid probe of :func:`diagnose_check`: the derivative curve of an
    elementwise layer (``None`` for any other), at the inputs ``check_layer`` uses."""
    from nnjax.gradcheck.checks import layer_inputs
    with jax.enable_x64(True):
        params, state, x, _, k = layer_inputs(layer, in_shape, batch=batch, train=train,
                                              key=key, x=x)
        if not is_elementwise(layer, params, state, x, k, train):
            return None
        return derivative_curve(layer, params, state, x.shape[1:], k, train)
