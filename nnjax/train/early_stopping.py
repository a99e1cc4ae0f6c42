"""Early stopping and divergence that work under ``vmap``: every run keeps its own counters.

Per run, a :class:`Tracker` holds whether the run is still training, whether it
diverged, its best score and epoch, a patience counter, a window of recent scores and
(optionally) a copy of its best parameters. :func:`update` is pure and uses
``jnp.where`` only, so the same code runs for one run or for a vmapped batch of runs:
a run that stopped or diverged is frozen while the others go on.

Rules (``score = value`` for ``mode="max"``, ``−value`` for ``"min"``; NaN scores −∞):

* patience (Keras): improvement means ``score > best + min_delta``; stop after
  ``patience`` epochs in a row without one. The ``mnist-sweeps`` study:
  ``EarlyStopping("val_accuracy", patience=5, restore_best=True)``.
* window: stop at epoch ``t ≥ window`` when ``score_t − score_{t−window} < min_delta``,
  i.e. the monitor improved by less than the tolerance over the last ``window`` epochs
  (a plateau or a rise). The ``conv-ae`` study (max 2000 epochs, window 100, ±1e-4 on
  the loss):
  ``EarlyStopping("train_loss", patience=None, window=100, min_delta=1e-4,
  restore_best=False)`` with ``TrainConfig(epochs=2000)``.
* divergence: a non-finite training loss (or non-finite parameters after the epoch)
  marks the run diverged and freezes it at its last finite state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp

from nnjax.train import validate


@dataclass(frozen=True)
class EarlyStopping:
    """When to stop a run, and which parameters to keep.

    Attributes:
      monitor: a history metric: ``"train_loss"``, ``"train_accuracy"``, ``"val_loss"``,
        ``"val_accuracy"``, ``"val_mse"``.
      patience: epochs without improvement before stopping; None never stops on it (the
        best parameters are still tracked).
      min_delta: the smallest change that counts as an improvement (the tolerance).
      mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy, else min).
      window: if set, also stop when the monitor improved by less than ``min_delta``
        over the last ``window`` epochs.
      restore_best: return the parameters (and model state) of the best epoch.
    """

    monitor: str = "val_loss"
    patience: Optional[int] = 5
    min_delta: float = 0.0
    mode: str = "auto"
    window: Optional[int] = None
    restore_best: bool = True

    def __post_init__(self):
        if self.mode not in ("auto", "min", "max"):
            raise ValueError("EarlyStopping.mode must be 'auto', 'min' or 'max',"
                             f" got {self.mode!r}.")
        for name in ("patience", "window"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"EarlyStopping.{name} must be a positive int or None, got {v!r}.")
        if not self.min_delta >= 0:
            raise ValueError(f"EarlyStopping.min_delta must be ≥ 0, got {self.min_delta!r}.")
        validate.hyper.early_stopping(self)

    @property
    def sign(self) -> float:
        """+1 when larger is better, −1 when smaller is better."""
        if self.mode == "auto":
            return 1.0 if "accuracy" in self.monitor else -1.0
        return 1.0 if self.mode == "max" else -1.0


class Tracker(NamedTuple):
    """Per-run stopping state (scalars per run; ``recent`` (window,); ``best`` a pytree)."""

    active: jax.Array        # bool: still training
    diverged: jax.Array      # bool: stopped by a non-finite training loss
    epochs_run: jax.Array    # int32: epochs whose update was kept
    best_score: jax.Array    # float32: best score so far (−∞ before the first epoch)
    best_epoch: jax.Array    # int32: epoch of best_score (−1 before)
    wait: jax.Array          # int32: epochs since the last improvement
    recent: Any              # (window,) float32 scores, ring buffer; () without a window
    best: Any                # (params, model_state) at best_epoch, or ()


def init(es: Optional[EarlyStopping], params, model_state) -> Tracker:
    """The tracker of one run before its first epoch."""
    recent = jnp.full((es.window,), -jnp.inf, jnp.float32) if es and es.window else ()
    best = (params, model_state) if es is not None and es.restore_best else ()
    return Tracker(jnp.array(True), jnp.array(False), jnp.array(0, jnp.int32),
                   jnp.array(-jnp.inf, jnp.float32), jnp.array(-1, jnp.int32),
                   jnp.array(0, jnp.int32), recent, best)


def tree_where(cond, new, old):
    """``new`` where ``cond`` (a scalar bool) else ``old``, leaf by leaf."""
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), new, old)


def update(es: Optional[EarlyStopping], tr: Tracker, old, new, metrics: dict, epoch,
           in_range) -> tuple:
    """Account for one epoch of one run.

    Args:
      old, new: the run's TrainState before and after the epoch.
      metrics: this epoch's scalar metrics (must hold ``train_loss`` and the monitor).
      epoch: int32 index of the epoch; in_range: False past the epoch limit (no change).
    Returns:
      ``(tracker, state, live)``: the state to continue from (``new`` if the run was live
      and its loss finite, else ``old``) and whether the run trained this epoch.
    """
    live = tr.active & in_range
    ok = jnp.isfinite(metrics["train_loss"])
    for leaf in jax.tree.leaves(new.params):          # a last step that broke the params
        ok = ok & jnp.all(jnp.isfinite(leaf))
    took = live & ok
    state = tree_where(took, new, old)
    tr = tr._replace(diverged=tr.diverged | (live & ~ok),
                     epochs_run=jnp.where(took, epoch + 1, tr.epochs_run))
    if es is None:
        return tr._replace(active=jnp.where(in_range, took, tr.active)), state, live
    if es.monitor not in metrics:
        raise ValueError(f"EarlyStopping.monitor={es.monitor!r} is not a metric of this run;"
                         f" available: {sorted(metrics)} (val_* need validation data).")
    score = es.sign * metrics[es.monitor].astype(jnp.float32)
    score = jnp.where(jnp.isnan(score), -jnp.inf, score)
    improved = took & (score > tr.best_score + es.min_delta)
    stop = jnp.array(False)
    wait = jnp.where(took, jnp.where(improved, 0, tr.wait + 1), tr.wait)
    if es.patience is not None:
        stop = stop | (wait >= es.patience)
    recent = tr.recent
    if es.window:
        slot = epoch % es.window
        stop = stop | ((epoch >= es.window) & (score - recent[slot] < es.min_delta))
        recent = jnp.where(took, recent.at[slot].set(score), recent)
    best = tr.best
    if es.restore_best:
        best = tree_where(improved, (state.params, state.model_state), best)
    tr = tr._replace(
        active=jnp.where(in_range, took & ~stop, tr.active),
        best_score=jnp.where(improved, score, tr.best_score),
        best_epoch=jnp.where(improved, epoch, tr.best_epoch),
        wait=wait, recent=recent, best=best)
    return tr, state, live
