"""Sweeps: static points × per-run numbers × seeds × folds, one program per static point,
one atomic record per point, resumable (see :mod:`nnjax.sweep.core`)."""
from nnjax.sweep.core import Grid, Problem, sweep

__all__ = ["Grid", "Problem", "sweep"]
