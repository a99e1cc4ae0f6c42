"""Name the usual derivation mistakes from the numbers: pure NumPy, one finding per test.

Every function takes the manual gradient ``m`` and the reference ``a`` (``jax.vjp`` of
the forward) of one leaf, float64 arrays, and returns a sentence or ``None``:

* :func:`non_finite` — NaN/inf in the manual (or the reference) gradient;
* :func:`all_zero` — the manual gradient is zero where the reference is not;
* :func:`shape_or_transpose` — ``m`` is ``a`` with axes permuted (a transposed ``dW``),
  or a conv kernel flipped in space;
* :func:`constant_factor` — ``m = c·a`` with ``c ≠ 1``, ``c`` named (2, −1, 1/N, …);
* :func:`batch_constant` — ``m − a`` is the same for every example (per feature): a
  missing batch-mean term (BatchNorm's ``−mean(g)``);
* :func:`per_feature_affine` — ``m − a`` is affine in ``x`` within each feature (BatchNorm's
  ``−x̂·mean(g⊙x̂)``);
* :func:`region` — the error lives only on part of the input (x < 0, x = 0, |x| ≥ t);
* :func:`missing_term` — the derivative error ``e(x)`` is a simple function of x
  (``c·g(x)`` or ``c₁g₁(x) + c₂g₂(x)`` with g a product of ≤ 3 of x, σ(x), tanh(x), y, …).

"Exact" means to ``TOL`` = 1e-6 relative, far above float64 rounding (~1e-15) and far below
any real mistake.
"""
from __future__ import annotations

import itertools
from typing import Mapping, Optional

import numpy as np

TOL = 1e-6


def _scale(a) -> float:
    a = np.asarray(a, np.float64)
    return float(np.max(np.abs(a))) if a.size else 0.0


def _close(m, a, scale=None) -> bool:
    scale = max(_scale(a), _scale(m)) if scale is None else scale
    return bool(np.max(np.abs(m - a), initial=0.0) <= TOL * scale) if scale > 0 else True


def non_finite(m, a) -> Optional[str]:
    """NaN or inf in either gradient (counts and the first index)."""
    for what, v in (("manual", m), ("autodiff (jax.vjp of the forward)", a)):
        bad = ~np.isfinite(v)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            hint = ("an overflow or 0/0 in the backward" if what == "manual" else
                    "the forward itself is unstable there (write it in a stable form)")
            return f"{what} is NaN/inf at {int(bad.sum())} of {bad.size} entries (first {idx}): {hint}"
    return None


def all_zero(m, a) -> Optional[str]:
    """The manual gradient is exactly zero everywhere though the reference is not."""
    if m.shape == a.shape and not np.any(m) and np.any(a):
        return "manual is zero everywhere: this gradient is never computed (or not returned)"
    return None


def shape_or_transpose(m, a) -> Optional[str]:
    """``m`` equals ``a`` with its axes permuted, or its shape is wrong, or a kernel flip."""
    if m.ndim == a.ndim and m.ndim >= 2:
        for perm in itertools.permutations(range(a.ndim)):
            if perm == tuple(range(a.ndim)):
                continue
            t = np.transpose(a, perm)
            if t.shape == m.shape and _close(m, t) and not (m.shape == a.shape and _close(m, a)):
                what = "transposed" if a.ndim == 2 else f"axes permuted as {perm}"
                return (f"manual is the {what} gradient (shape {m.shape}, expected {a.shape}):"
                        f" swap the operands' roles (e.g. xᵀ·dy, not dyᵀ·x)")
        if m.shape == a.shape and a.ndim == 4 and _close(m, a[::-1, ::-1]):
            return ("manual is the kernel gradient flipped in space: a convolution where the"
                    " forward is a cross-correlation (or the reverse)")
    if m.shape != a.shape:
        return f"manual has shape {m.shape}, expected {a.shape}"
    return None


def name_factor(c: float, counts: Mapping[str, int] = ()) -> tuple:
    """``(text, n_label)``: ``('−1', None)``, ``('1/6', 'batch')``, ``('2', None)``,
    ``('0.731', None)`` — the constant as a small fraction when it is one."""
    sizes = {2: None}
    for label, n in dict(counts).items():
        if n > 1:
            sizes[int(n)] = sizes.get(int(n)) or label
    for sign, minus in ((1, ""), (-1, "−")):
        if abs(c - sign) <= TOL:
            return f"{minus}1", None
        for n, label in sizes.items():
            if abs(c - sign * n) <= TOL * abs(c):
                return f"{minus}{n}", label
            if abs(c - sign / n) <= TOL * abs(c):
                return f"{minus}1/{n}", label
    return f"{c:.4g}", None


def constant_factor(m, a, counts: Mapping[str, int] = ()) -> Optional[str]:
    """``m = c·a`` exactly, ``c ≠ 1``: the constant named when it is 2, −1, N, 1/N, …"""
    if m.shape != a.shape or not np.any(a) or not np.any(m):
        return None
    c = float(np.vdot(m, a) / np.vdot(a, a))
    if abs(c - 1) <= TOL or not _close(m, c * a, scale=_scale(m)):
        return None
    text, label = name_factor(c, counts)
    if text == "−1":
        hint = "the sign is flipped"
    elif label:
        n = text.split("/")[-1].lstrip("−")
        hint = f"a 1/N too few or too many, N = {n} ({label}): a sum vs a mean"
    elif text.lstrip("−") in ("2", "1/2"):
        hint = ("a factor 2 too many or too few (the 2 of d(x²)/dx = 2x, a ½ in the loss)"
                + ("; and the sign is flipped" if text.startswith("−") else ""))
    else:
        hint = "a constant factor (a scale, a learning-rate-like constant, a mean vs a sum)"
    return f"manual = {text} × autodiff everywhere: {hint}"


def _channel_axes(e):
    return tuple(range(e.ndim - 1))


def batch_constant(m, a) -> Optional[str]:
    """``m − a`` is the same for every example and position (varies only by feature)."""
    if m.shape != a.shape or m.ndim < 2 or m.shape[0] < 2:
        return None
    e = m - a
    if not np.any(np.abs(e) > TOL * _scale(a)):
        return None
    mean = np.mean(e, axis=_channel_axes(e), keepdims=True)
    if _close(e, np.broadcast_to(mean, e.shape), scale=_scale(e)):
        return ("the error is the same for every example (per feature): a missing (or extra)"
                " batch-mean term, like BatchNorm's −mean(g) over the batch")
    return None


def per_feature_affine(m, a, x) -> Optional[str]:
    """``m − a = α_c + β_c·x`` within each feature c (≥ 5 values per feature)."""
    if m.shape != a.shape or x is None or x.shape != m.shape or m.ndim < 2:
        return None
    e = (m - a).reshape(-1, m.shape[-1])
    xs = np.asarray(x, np.float64).reshape(-1, m.shape[-1])
    if e.shape[0] < 5 or not np.any(np.abs(e) > TOL * _scale(a)):
        return None
    fit = np.empty_like(e)
    for c in range(e.shape[1]):
        design = np.stack([np.ones(e.shape[0]), xs[:, c]], 1)
        coef, *_ = np.linalg.lstsq(design, e[:, c], rcond=None)
        fit[:, c] = design @ coef
    if _close(e, fit, scale=_scale(e)):
        return ("the error is affine in x within each feature: a missing (or extra) term"
                " proportional to x − mean(x), like BatchNorm's −x̂·mean(g ⊙ x̂)")
    return None


def region(bad, x) -> Optional[str]:
    """The entries in error (``bad``, a mask) are exactly one simple region of ``x``."""
    bad, x = np.asarray(bad, bool).ravel(), np.asarray(x, np.float64).ravel()
    n_bad = int(bad.sum())
    if n_bad == 0 or n_bad == bad.size:
        return None
    regions = [("x < 0", x < 0), ("x ≤ 0", x <= 0), ("x > 0", x > 0), ("x ≥ 0", x >= 0),
               ("x = 0 (the kink)", x == 0)]
    for t in np.unique(np.abs(x))[1:]:
        regions += [(f"|x| ≥ {t:.3g} (saturation)", np.abs(x) >= t),
                    (f"x ≤ −{t:.3g} (saturation)", x <= -t), (f"x ≥ {t:.3g} (saturation)", x >= t)]
    for label, mask in regions:
        if np.array_equal(mask, bad):
            kink = ("; the derivative at a kink is a convention (jax.grad of jnp.maximum takes"
                    " ½ there, of jnp.where the branch taken): pick one on purpose"
                    if label.startswith("x = 0") else "")
            return (f"wrong only where {label}: {n_bad} of {bad.size} entries, right"
                    f" elsewhere{kink}")
    if 2 * n_bad > bad.size:          # wrong nearly everywhere: no region to name
        return None
    lo, hi = float(x[bad].min()), float(x[bad].max())
    return f"wrong at {n_bad} of {bad.size} entries, with x in [{lo:.3g}, {hi:.3g}]"


def _atoms(x, y) -> dict:
    """Simple functions of the input x (and the output y) to explain an error with."""
    s = 1 / (1 + np.exp(-np.clip(x, -700, 700)))
    t = np.tanh(x)
    atoms = {"x": x, "σ(x)": s, "(1 − σ(x))": 1 - s, "tanh(x)": t, "(1 − tanh²(x))": 1 - t * t,
             "|x|": np.abs(x), "1[x > 0]": (x > 0) * 1.0, "1[x < 0]": (x < 0) * 1.0,
             "1[x ≤ 0]": (x <= 0) * 1.0, "1[x ≥ 0]": (x >= 0) * 1.0,
             "exp(x)": np.exp(np.clip(x, -700, 50))}
    if y is not None:
        atoms["y"] = y
    return atoms


def _candidates(x, y, max_factors=3):
    """``[(cost, label, values)]``: 1 and products of up to ``max_factors`` atoms."""
    atoms = _atoms(x, y)
    names = list(atoms)
    out = [(0, "1", np.ones_like(x))]
    for k in range(1, max_factors + 1):
        for combo in itertools.combinations_with_replacement(names, k):
            cost = sum(3 if n == "y" else 1 for n in combo)
            values = np.prod([atoms[n] for n in combo], axis=0)
            label = "·".join(_powers(combo))
            out.append((cost, label, values))
    ok = [(c, lab, v) for c, lab, v in out if np.all(np.isfinite(v)) and np.any(v)]
    return sorted(ok, key=lambda t: t[0])


def _powers(combo):
    sup = {2: "²", 3: "³"}
    out = []
    for name, group in itertools.groupby(combo):
        k = len(list(group))
        out.append(name + sup.get(k, "") if k > 1 else name)
    return out


def missing_term(e, x, y=None) -> Optional[str]:
    """``e(x) ≈ c·g(x)`` or ``c₁g₁ + c₂g₂`` exactly (x a 1-D grid): a missing/extra term."""
    e, x = np.asarray(e, np.float64).ravel(), np.asarray(x, np.float64).ravel()
    y = None if y is None else np.asarray(y, np.float64).ravel()
    finite = np.isfinite(e)
    if not np.any(np.abs(e[finite]) > 0) or finite.sum() < 10:
        return None
    e, x = e[finite], x[finite]
    y = None if y is None else y[finite]
    cands = _candidates(x, y)
    g = np.stack([v for _, _, v in cands], 1)
    norm_e = np.linalg.norm(e)
    # one term
    coef = g.T @ e / np.einsum("ij,ij->j", g, g)
    resid = np.linalg.norm(e[:, None] - g * coef, axis=0) / norm_e
    hits = np.flatnonzero(resid <= TOL)
    if hits.size:
        j = hits[np.argmin([cands[i][0] for i in hits])]
        return _term_text([(coef[j], cands[j][1])])
    # two terms: normal equations of every pair at once (Gram matrix), cheapest exact fit
    gram, b = g.T @ g, g.T @ e
    d = np.diag(gram)
    det = d[:, None] * d[None, :] - gram ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ci = (d[None, :] * b[:, None] - gram * b[None, :]) / det
        cj = (d[:, None] * b[None, :] - gram * b[:, None]) / det
        r2 = (norm_e ** 2 - ci * b[:, None] - cj * b[None, :]) / norm_e ** 2
    costs = np.array([c for c, _, _ in cands], float)
    ok = (det > 1e-9 * d[:, None] * d[None, :]) & (r2 <= TOL ** 2 * 10)
    ok &= np.triu(np.ones_like(ok), 1).astype(bool)
    for flat in np.argsort((costs[:, None] + costs[None, :])[ok], kind="stable"):
        i, j = np.argwhere(ok)[flat]
        design = g[:, [i, j]]
        c, *_ = np.linalg.lstsq(design, e, rcond=None)
        if np.linalg.norm(e - design @ c) <= TOL * norm_e and np.all(np.abs(c) > TOL):
            return _term_text([(c[0], cands[i][1]), (c[1], cands[j][1])])
    return None


def _term_text(terms) -> str:
    parts = []
    for c, label in terms:
        c = float(c)
        mag = "" if abs(abs(c) - 1) <= TOL and label != "1" else f"{abs(c):.4g}"
        mult = "·" if mag and label != "1" else ""
        body = mag + mult + (label if label != "1" or not mag else "")
        parts.append(("− " if c < 0 else "+ ") + body)
    expr = " ".join(parts)
    expr = expr[2:] if expr.startswith("+ ") else "−" + expr[2:]
    return (f"manual − autodiff = {expr} (a term too many, or one missing with the opposite"
            f" sign)")
