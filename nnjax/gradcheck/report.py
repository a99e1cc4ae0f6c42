"""What a diagnosis holds, and its text: :class:`Diagnosis` of :class:`LeafReport` of
:class:`Entry`, and the :class:`Curve` of an elementwise layer. Computed by
:mod:`nnjax.gradcheck.diagnose`; drawn by :mod:`nnjax.gradcheck.figures`."""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import numpy as np

GRID = np.linspace(-8.0, 8.0, 321)            # step 0.05, holds 0 exactly
EXTREMES = np.array([-1000.0, -50.0, -20.0, 20.0, 50.0, 1000.0])


class Entry(NamedTuple):
    """One entry of a gradient: where it is, the value there, and the three derivatives."""

    index: tuple
    value: float         # the input x (for dx) or the parameter (for dparams) there
    manual: float
    autodiff: float
    finite_diff: float   # central difference, eps = 1e-6 (NaN when not computed)
    rel_error: float     # |manual − autodiff| / max|autodiff| over this gradient


class LeafReport(NamedTuple):
    """One gradient (``dx`` or a parameter's)."""

    name: str
    rel_error: float
    worst: tuple          # of Entry, worst first
    findings: tuple       # of str
    error: Optional[np.ndarray] = None   # (manual − autodiff) / max|autodiff|, for the maps
    shape_note: str = ""


class Curve(NamedTuple):
    """An elementwise layer's derivative at dy = 1 over a grid of x."""

    x: np.ndarray
    manual: np.ndarray
    autodiff: np.ndarray
    findings: tuple


class Diagnosis(NamedTuple):
    """What :func:`diagnose_layer` found; ``explain()`` renders it."""

    name: str
    leaves: tuple                 # of LeafReport, dx first
    curve: Optional[Curve] = None
    tol: float = 1e-10
    fd_error: float = math.nan    # rel. error of the manual gradient vs finite differences

    @property
    def findings(self) -> tuple:
        """Every named mistake, gradient by gradient, then the grid's."""
        out = [f"{leaf.name}: {f}" for leaf in self.leaves for f in leaf.findings]
        if self.curve is not None:
            out += [f"on the grid: {f}" for f in self.curve.findings]
        return tuple(out)

    def wrong(self) -> tuple:
        return tuple(leaf for leaf in self.leaves if not leaf.rel_error <= self.tol)

    def explain(self) -> str:
        """Worst entries of each wrong gradient and the mistakes named, as lines of text."""
        wrong = self.wrong()
        if not wrong:
            return f"{self.name}: every gradient matches autodiff (≤ {self.tol:g})"
        lines = [f"{self.name}: " + ", ".join(
            f"{leaf.name} rel. error {leaf.rel_error:.2e}" for leaf in wrong)]
        for leaf in wrong:
            lines.append(f"  {leaf.name}:" + (f" {leaf.shape_note}" if leaf.shape_note else ""))
            if leaf.worst:
                what = "x" if leaf.name == "dx" else "value"
                lines.append(f"    {'index':14} {what:>10} {'manual':>11} {'autodiff':>11}"
                             f" {'finite diff':>11} {'rel. error':>10}")
                for e in leaf.worst:
                    idx = "(" + ", ".join(map(str, e.index)) + ")"
                    lines.append(f"    {idx:14} {e.value:10.4g} {e.manual:11.4g} {e.autodiff:11.4g}"
                                 f" {e.finite_diff:11.4g} {e.rel_error:10.2e}")
            lines += [f"    → {f}" for f in leaf.findings]
        named = {f for leaf in wrong for f in leaf.findings}
        extra = () if self.curve is None else [f for f in self.curve.findings if f not in named]
        if extra:
            lo, hi = float(GRID[0]), float(GRID[-1])
            lines.append(f"  elementwise: the derivative at dy = 1 on x ∈ [{lo:g}, {hi:g}]"
                         f" (and ±20, ±50, ±1000):")
            lines += [f"    → {f}" for f in extra]
        return "\n".join(lines)

    def __repr__(self):
        return f"Diagnosis({self.name!r}, findings={list(self.findings)!r})"
