"""What :func:`nnjax.train.fit` returns: stacked parameters, histories, test metrics.

Every array has the runs on its first axis (R). Histories are ``(R, E)`` with ``E`` the
number of epochs the longest run trained and NaN where a run did not train (it had
stopped early or diverged), ready for IQM/IQR curves over runs
(``stats.iqm(history["val_accuracy"], axis=0, nan_policy="omit")``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from nnjax.train.runs import Runs


@dataclass(frozen=True)
class FitResult:
    """Attributes:
      params, model_state: stacked (R, ...) pytrees: the best epoch's when early stopping
        restores the best, else the last kept epoch's (a diverged run: its last finite).
      train_state: the last kept :class:`~nnjax.train.program.TrainState` (with optimizer state).
      history: ``{metric: (R, E)}``: ``train_loss`` (training objective, train mode),
        ``train_accuracy`` (labels), ``val_loss``, ``val_accuracy`` or ``val_mse``.
      test: ``{metric: (R,)}`` of the returned params on the test set (``loss``,
        ``accuracy``/``mse``); NaN for diverged runs. Empty without test data.
      best_epoch: (R,) index of the best epoch (−1 without early stopping).
      epochs_run, stopped_early, diverged: (R,) per run.
      runs: the :class:`~nnjax.train.runs.Runs` trained (seeds, swept values, folds).
      info: how it was run: gradient mode, shuffle policy, gradient check, timings,
        devices, chunk size, config.
      test_outputs: with ``fit(..., test_outputs=True)``, (R, N_test, *out_shape) raw model
        outputs (eval mode, no ``output_fn``) of the returned params on the test set, the
        ones ``test`` was computed from (what ``predict`` gives, without a second pass; a
        diverged run's are its frozen state's); else None.
    """

    params: Any
    model_state: Any
    train_state: Any
    history: dict
    test: dict
    best_epoch: np.ndarray
    epochs_run: np.ndarray
    stopped_early: np.ndarray
    diverged: np.ndarray
    runs: Runs
    info: dict = field(default_factory=dict)
    test_outputs: Any = None

    @property
    def n_runs(self) -> int:
        return self.runs.size

    @property
    def n_diverged(self) -> int:
        return int(np.sum(self.diverged))

    def final(self, metric: str) -> np.ndarray:
        """(R,) value of a history metric at the epoch whose params were returned (the best
        epoch when restored, else the last epoch run); NaN for diverged runs."""
        h = self.history[metric]
        restored = self.best_epoch >= 0
        at = np.where(restored, self.best_epoch, self.epochs_run - 1)
        out = h[np.arange(h.shape[0]), np.clip(at, 0, h.shape[1] - 1)]
        return np.where(self.diverged | (at < 0), np.nan, out)

    def best_run(self, metric: str = "val_accuracy", mode: Optional[str] = None) -> int:
        """Index of the best run by :meth:`final` ``metric`` (max for accuracy, else min);
        diverged runs never win."""
        mode = mode or ("max" if "accuracy" in metric else "min")
        v = self.final(metric)
        if np.all(np.isnan(v)):
            raise ValueError(f"best_run: no run has a finite {metric}.")
        return int(np.nanargmax(v) if mode == "max" else np.nanargmin(v))

    def record(self) -> dict:
        """JSON-able summary: per-run labels, metrics and histories (no parameters)."""
        return {
            "runs": self.runs.labels(),
            "history": {k: np.asarray(v) for k, v in self.history.items()},
            "test": {k: np.asarray(v) for k, v in self.test.items()},
            "final": {k: self.final(k) for k in self.history},
            "best_epoch": self.best_epoch, "epochs_run": self.epochs_run,
            "stopped_early": self.stopped_early, "diverged": self.diverged,
            "n_diverged": self.n_diverged, "info": self.info,
        }
