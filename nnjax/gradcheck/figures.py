"""Figures of a :class:`~nnjax.gradcheck.diagnose.Diagnosis` (conventions of
:mod:`nnjax.analysis.plots`: a ``Figure`` on the Agg canvas, path first, PNG at 120 dpi).

* an elementwise layer: its manual and autodiff derivative ``dy/dx`` (at ``dy = 1``)
  against x over [−8, 8] (kinks, saturation), and their difference below;
* any other layer or loss: one error map per gradient (``dx`` and each ``dW``), the
  per-entry ``(manual − autodiff) / max|autodiff|`` on a diverging colour scale.

Example::

    >>> from nnjax.gradcheck.diagnose import diagnose_check
    >>> from nnjax.gradcheck.figures import plot_diagnosis
    >>> plot_diagnosis("swish.png", diagnose_check(Swish(), (5,)))   # doctest: +SKIP
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from nnjax.analysis.plots import PALETTE, figure, save

MAX_MAPS = 6


def plot_diagnosis(path, diagnosis) -> Path:
    """Save the figure that suits ``diagnosis`` (curve or error maps) to ``path``."""
    if diagnosis.curve is not None:
        return plot_derivative(path, diagnosis)
    return plot_error_maps(path, diagnosis)


def _caption(fig, diagnosis):
    lines = [f for f in diagnosis.findings] or ["every gradient matches autodiff"
                                                if not diagnosis.wrong() else ""]
    text = "\n".join(textwrap.fill(t, 110) for t in lines[:4] if t)
    if text:
        fig.text(0.01, 0.005, text, fontsize=7.5, va="bottom", ha="left", wrap=True)


def plot_derivative(path, diagnosis) -> Path:
    """Manual vs autodiff derivative of an elementwise layer over x ∈ [−8, 8]."""
    c = diagnosis.curve
    keep = np.abs(c.x) <= 8
    order = np.argsort(c.x[keep], kind="stable")
    x, dm, da = c.x[keep][order], c.manual[keep][order], c.autodiff[keep][order]
    fig = figure((7.0, 5.4))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2.2, 1))
    top.plot(x, da, color="black", lw=2.2, label="autodiff (jax.vjp of the forward)")
    top.plot(x, dm, color=PALETTE[3], lw=1.6, ls="--", label="manual backward")
    bad = np.abs(dm - da) > 1e-6 * max(float(np.max(np.abs(da), initial=0.0)), 1e-300)
    bad |= np.isnan(dm) != np.isnan(da)
    if 0 < bad.sum() <= 40:         # a few points (a kink): mark both values there
        top.scatter(x[bad], da[bad], s=30, color="black", zorder=3)
        top.scatter(x[bad], dm[bad], s=40, facecolors="none", edgecolors=PALETTE[3],
                    zorder=3, label="where they differ")
    top.axhline(0, color="0.8", lw=0.8, zorder=0)
    top.axvline(0, color="0.8", lw=0.8, zorder=0)
    top.set_ylabel("dy/dx  (dy = 1)")
    top.set_title(f"{diagnosis.name}: derivative, manual vs autodiff")
    top.legend(loc="best", fontsize=8, frameon=False)
    bottom.plot(x, dm - da, color=PALETTE[3], lw=1.4)
    bottom.axhline(0, color="0.8", lw=0.8, zorder=0)
    bottom.set_ylabel("manual − autodiff")
    bottom.set_xlabel("x")
    fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    _caption(fig, diagnosis)
    return save(fig, path)


def _as_2d(name, e):
    e = np.asarray(e, np.float64)
    if e.ndim == 0:
        return e.reshape(1, 1), ("", "")
    if e.ndim == 1:
        return e.reshape(1, -1), ("", "entry")
    if name in ("dx", "dpred"):
        return e.reshape(e.shape[0], -1), ("example", "entry (flattened)")
    return e.reshape(-1, e.shape[-1]), ("input (flattened)" if e.ndim > 2 else "input",
                                        "output")


def plot_error_maps(path, diagnosis) -> Path:
    """Per-entry error of ``dx`` and each parameter's gradient, one map per gradient."""
    leaves = sorted(diagnosis.leaves, key=lambda leaf: -leaf.rel_error)[:MAX_MAPS]
    leaves = sorted(leaves, key=lambda leaf: diagnosis.leaves.index(leaf))
    cols = min(3, len(leaves))
    rows = -(-len(leaves) // cols)
    fig = figure((3.4 * cols + 0.6, 3.0 * rows + 0.9))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax, leaf in zip(axes, leaves):
        if leaf.error is None:
            ax.text(0.5, 0.5, f"{leaf.name}\n{leaf.shape_note}", ha="center", va="center",
                    fontsize=9, transform=ax.transAxes)
            ax.set_axis_off()
            continue
        m, (ylabel, xlabel) = _as_2d(leaf.name, np.nan_to_num(leaf.error, nan=np.inf))
        vmax = float(np.max(np.abs(m[np.isfinite(m)]), initial=0.0)) or 1e-16
        im = ax.imshow(np.clip(m, -vmax, vmax), cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                       aspect="auto", interpolation="nearest")
        ax.set_title(f"{leaf.name}: max rel. error {leaf.rel_error:.1e}", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if m.shape[0] == 1:
            ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.85).ax.tick_params(labelsize=7)
    for ax in axes[len(leaves):]:
        ax.set_axis_off()
    fig.suptitle(f"{diagnosis.name}: (manual − autodiff) / max|autodiff|, per entry",
                 fontsize=10)
    fig.get_layout_engine().set(rect=(0, 0.1, 1, 0.9))
    _caption(fig, diagnosis)
    return save(fig, path)
