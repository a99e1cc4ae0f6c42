"""A one-line progress bar per epoch: runs, epoch, loss, a validation metric, ETA.

Drawn on stderr with a carriage return on a terminal. When stderr is not a terminal (a
log file, CI) it writes plain lines instead, at most one per ``log_every`` seconds (default
60) plus the last epoch, so a long job in the background shows it is alive without
filling its log; ``log_every=None`` keeps such streams silent, ``enabled=False`` always
does. Example line::

    15 runs (15 active) | epoch  7/20 [#######.............] | loss 0.1234 |
        val_accuracy 0.9612 | 1.8 s/epoch, ETA 0:23   (one line)
"""
from __future__ import annotations

import math
import sys
import time
from typing import Optional, TextIO

import numpy as np


def _fmt_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _nanmean(a) -> float:
    a = np.asarray(a, np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


class Progress:
    """``update(epoch, history_row, n_active)`` after each call; ``close()`` at the end."""

    def __init__(self, epochs: int, runs: int, *, enabled: Optional[bool] = None,
                 stream: Optional[TextIO] = None, width: int = 20,
                 log_every: Optional[float] = 60.0):
        self.stream = stream or sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        # plain, rate-limited lines when the default applies to a stream that is no terminal
        self.log_every = log_every if (enabled is None and not tty) else None
        self.enabled = bool(tty if enabled is None else enabled) or self.log_every is not None
        self._last_line = -math.inf
        self.epochs, self.runs, self.width = epochs, runs, width
        self.start_epoch: Optional[int] = None
        self.t0 = time.perf_counter()
        self.t_first: Optional[float] = None
        self._shown = False

    def update(self, epoch: int, row: dict, n_active: int) -> None:
        """``epoch``: epochs done; ``row``: ``{metric: (R,) values of the last epoch}``."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.start_epoch is None:          # the first call includes compilation
            self.start_epoch, self.t_first = epoch, now
            rate = float("nan")
        else:
            rate = (now - self.t_first) / max(epoch - self.start_epoch, 1)
        done = int(self.width * epoch / self.epochs)
        parts = [f"{self.runs} runs ({n_active} active)",
                 f"epoch {epoch:>{len(str(self.epochs))}}/{self.epochs} "
                 f"[{'#' * done}{'.' * (self.width - done)}]"]
        if "train_loss" in row:
            parts.append(f"loss {_nanmean(row['train_loss']):.4f}")
        for name in ("val_accuracy", "val_mse", "val_loss"):
            if name in row:
                parts.append(f"{name} {_nanmean(row[name]):.4f}")
                break
        eta = rate * (self.epochs - epoch) if n_active else 0.0
        parts.append(f"{rate:.2f} s/epoch, ETA {_fmt_eta(eta)}" if math.isfinite(rate)
                     else f"compiled in {now - self.t0:.1f} s")
        if self.log_every is not None:
            if now - self._last_line < self.log_every and epoch < self.epochs:
                return
            self._last_line = now
            self.stream.write(" | ".join(parts) + "\n")
        else:
            self.stream.write("\r" + " | ".join(parts) + "\x1b[K")
            self._shown = True
        self.stream.flush()

    def close(self, message: str = "") -> None:
        """End the bar's line and print ``message`` (if any) below it."""
        if self.enabled and self._shown:
            self.stream.write("\n" + (message + "\n" if message else ""))
        elif self.log_every is not None and message:
            self.stream.write(message + "\n")
        self.stream.flush()
