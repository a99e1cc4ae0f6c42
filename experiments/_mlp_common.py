"""Shared by the source's MNIST classifier studies (``mnist_mlp``, ``mnist_sweeps``).

The base model (784-64-32-10 ReLU, softmax cross-entropy, Adam 1e-3, batch 128), CPU
time measurement, the comparison of our quartiles with a published interval, and two
small figures that :mod:`nnjax.analysis.plots` does not draw (titled digits, per-seed bars).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from nnjax.analysis import stats

HIDDEN = (64, 32)
BASE = dict(activation="relu", hidden=HIDDEN, batch_size=128, optimizer="adam",
            learning_rate=1e-3)

# The source's softmax/cross-entropy fault and its IQM, as the reports explain them.
FAULT_SOFTMAX = (
    "The source's softmax backward keeps only the Jacobian's diagonal, p(1−p), and its "
    "cross-entropy gradient (already p − onehot) is pushed through it again, so every "
    "gradient it trained with was damped by p(1−p) (≤ 1/4, → 0 for confident outputs). "
    "nnjax uses the exact gradient (softmax − onehot)/N, checked against `jax.grad`.")
FAULT_IQM = (
    "The source's \"IQM\" averages 7 of 15 values; ours is the standard 25% trimmed mean "
    "(the middle 9 of 15), with a stratified-bootstrap 95% CI.")


def timing(info: dict, wall_s: float, cpu_s: float) -> dict:
    """Timing of one ``fit``: wall and CPU seconds, first call (compile + 1 epoch), s/epoch."""
    def r(v):
        return None if v is None else round(float(v), 3)
    return {"wall_seconds": r(wall_s), "cpu_seconds": r(cpu_s),
            "first_call_seconds": r(info.get("first_call_seconds")),
            "seconds_per_epoch": r(info.get("seconds_per_epoch"))}


def verdict(summary: dict, low: float, high: Optional[float] = None) -> str:
    """Our [Q1, Q3] against a published interval [low, high] (a single value: high=low)."""
    high = low if high is None else high
    q1, q3 = summary.get("q1"), summary.get("q3")
    if q1 is None:
        return "no finite runs"
    if q1 > high:
        return "above"
    if q3 < low:
        return "below"
    return "within"


def seed_bars(path, values: np.ndarray, seeds: Sequence[int], *, best: int,
              published: float, title: str, ylabel: str) -> Path:
    """One bar per seed (the best-by-validation seed highlighted), our IQM and the
    published value as horizontal lines; the y-axis is zoomed to the data."""
    from nnjax.analysis import plots        # matplotlib: only when drawing
    v = np.asarray(values, np.float64)
    fig = plots.figure((7.0, 4.2))
    ax = fig.add_subplot()
    colors = [plots.PALETTE[1] if i == best else plots.PALETTE[0] for i in range(len(v))]
    ax.bar(np.arange(len(v)), v, color=colors, edgecolor="black", linewidth=0.4)
    ok = v[np.isfinite(v)]
    iqm = stats.iqm(ok)
    ax.axhline(iqm, color="black", linestyle="--", linewidth=1.2, label=f"IQM (ours) {iqm:.4f}")
    ax.axhline(published, color="black", linestyle=":", linewidth=1.5,
               label=f"published {published:.4f} (best of 15 by validation)")
    ax.bar([0], [0], color=plots.PALETTE[1], label=f"best by validation: seed {seeds[best]}"
           f" ({v[best]:.4f})")
    lo, hi = min(ok.min(), published), max(ok.max(), published)
    pad = max(0.15 * (hi - lo), 1e-3)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xticks(np.arange(len(v)), [str(s) for s in seeds])
    ax.set(title=title, xlabel="seed", ylabel=ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return plots.save(fig, path)


def most_missed(pred: np.ndarray, y: np.ndarray, k: int = 24):
    """The ``k`` test images the most models get wrong.

    ``pred`` (R, N) predicted labels, ``y`` (N,). Returns ``(index, wrong_count,
    majority_wrong_label)``, sorted by count (most first), ties by index.
    """
    wrong = pred != y[None]
    count = wrong.sum(0)
    order = np.lexsort((np.arange(len(y)), -count))
    idx = order[:k][count[order[:k]] > 0]
    majority = []
    for i in idx:
        labels = pred[wrong[:, i], i]
        majority.append(int(np.bincount(labels, minlength=10).argmax()))
    return idx, count[idx], np.asarray(majority, np.int64)
