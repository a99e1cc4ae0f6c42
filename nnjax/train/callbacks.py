"""Watch a sweep while it trains: callbacks called by ``fit`` after every epoch.

A callback is any object with ``on_epoch(epoch, metrics, runs)`` — ``epoch`` the 0-based
index just finished, ``metrics`` ``{name: (R,) float array}`` (NaN for runs that did not
train that epoch: stopped or diverged), ``runs`` the :class:`~nnjax.train.runs.Runs` — and
optionally ``close()``, called once when training ends. Plain functions
``f(epoch, metrics, runs)`` work too. With ``epochs_per_call > 1`` the calls for the
epochs of one program call come together after it.

Built in: :class:`CSVLogger` (one row per run and epoch) and :class:`TensorBoard`
(tensorboardX: one scalar series per metric and run). :func:`callbacks_from_flag` maps
the CLI's ``--log csv|tensorboard|none`` to them.

Example::

    >>> from nnjax.train.callbacks import CSVLogger
    >>> res = fit(model, cfg, train, val, runs=5, callbacks=[CSVLogger("log.csv")])  # doctest: +SKIP
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Optional

import numpy as np


def _run_name(label: dict) -> str:
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in label.items())


class CSVLogger:
    """Append ``epoch, run, <run labels>, <metrics>`` rows to ``path`` (created with a
    header; one row per run per epoch, runs that did not train that epoch skipped)."""

    def __init__(self, path: os.PathLike):
        self.path = Path(path)
        self._file = None
        self._writer = None

    def on_epoch(self, epoch: int, metrics: dict, runs) -> None:
        labels = runs.labels()
        names = sorted(metrics)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(["epoch", "run", *labels[0].keys(), *names])
        for i, lab in enumerate(labels):
            values = [float(metrics[n][i]) for n in names]
            if all(np.isnan(values)):
                continue
            self._writer.writerow([epoch + 1, i, *lab.values(), *values])
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoard:
    """Scalars ``<metric>/<run label>`` at step ``epoch + 1`` in ``log_dir`` (tensorboardX)."""

    def __init__(self, log_dir: os.PathLike):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as err:  # pragma: no cover - tensorboardX is a dependency
            raise ImportError("TensorBoard logging needs tensorboardX: pip install tensorboardX"
                              ) from err
        self._writer = SummaryWriter(str(log_dir))

    def on_epoch(self, epoch: int, metrics: dict, runs) -> None:
        labels = [_run_name(lab) for lab in runs.labels()]
        for name, values in metrics.items():
            for lab, v in zip(labels, np.asarray(values, np.float64)):
                if np.isfinite(v):
                    self._writer.add_scalar(f"{name}/{lab}", v, epoch + 1)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


LOG_CHOICES = ("csv", "tensorboard", "none")


def add_log_flag(parser) -> None:
    """``--log csv|tensorboard|none`` on an argparse parser (``nnjax run`` and ``sweep``)."""
    parser.add_argument("--log", choices=LOG_CHOICES, default=None,
                        help="log every run's metrics after every epoch: csv (log.csv) or"
                             " tensorboard (tensorboardX event files), beside each result")


def callbacks_from_flag(flag: Optional[str], out_dir: os.PathLike) -> list:
    """The callbacks of ``--log FLAG``: ``csv`` → ``out_dir/log.csv``, ``tensorboard`` →
    ``out_dir/tensorboard/``, ``none`` (or None) → none."""
    if flag is None or flag == "none":
        return []
    if flag == "csv":
        return [CSVLogger(Path(out_dir) / "log.csv")]
    if flag == "tensorboard":
        return [TensorBoard(Path(out_dir) / "tensorboard")]
    raise ValueError(f"--log must be one of {', '.join(LOG_CHOICES)}, got {flag!r}.")


class Callbacks:
    """What ``fit`` calls: every callback after each epoch, ``close`` at the end."""

    def __init__(self, callbacks, runs):
        self.items = list(callbacks or ())
        for cb in self.items:
            if not (callable(cb) or hasattr(cb, "on_epoch")):
                raise TypeError(f"fit: callback {cb!r} has no on_epoch(epoch, metrics, runs)"
                                " and is not a function.")
        self.runs = runs

    def after(self, hist: dict, epoch: int, k: int) -> None:
        """Call every callback for epochs ``epoch … epoch + k − 1`` (rows of ``hist``)."""
        for e in range(epoch, epoch + k):
            metrics = {name: v[e].copy() for name, v in hist.items()}
            for cb in self.items:
                (cb.on_epoch if hasattr(cb, "on_epoch") else cb)(e, metrics, self.runs)

    def close(self) -> None:
        for cb in self.items:
            if hasattr(cb, "close"):
                cb.close()
