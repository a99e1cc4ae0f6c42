"""Helpers every study shares (once): timing, the fit facts a record keeps, gradient-check
evidence, one example per class.

Statistics are :func:`nnjax.analysis.stats.summary`; figures :mod:`nnjax.analysis.plots`
(``plots.figure``/``plots.save`` for a custom one); encoder/decoder halves
:func:`nnjax.models.split`; corruptions :mod:`nnjax.data`.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

import numpy as np

FIT_INFO = ("gradcheck", "shuffle", "runs", "devices", "first_call_seconds",
            "seconds_per_epoch", "train_seconds")


class Clock:
    """Wall and CPU seconds (all threads of this process) since creation:
    ``Clock().read() -> {"wall_s", "cpu_s"}``."""

    def __init__(self):
        self.wall, self.cpu = time.time(), time.process_time()

    def read(self) -> dict:
        return {"wall_s": round(time.time() - self.wall, 1),
                "cpu_s": round(time.process_time() - self.cpu, 1)}


def fit_info(info: Mapping, keys: Iterable[str] = FIT_INFO) -> dict:
    """The JSON-able facts of one fit worth keeping (``FitResult.info`` or a sweep
    record's ``info``): gradient check, shuffle, runs, devices, timings."""
    return {k: info.get(k) for k in keys}


def gradchecks(named: Mapping[str, Any]) -> dict:
    """``{name: check}`` of the fits that ran a gradient check; ``named`` maps a name to a
    fit's info or to a record holding ``info`` (fits that skipped it are left out)."""
    out = {}
    for name, item in named.items():
        info = item.get("info", item) if isinstance(item, Mapping) else {}
        if isinstance(info.get("gradcheck"), Mapping):
            out[name] = dict(info["gradcheck"])
    return out


def gradcheck_summary(checks: Mapping[str, Mapping]) -> dict:
    """One line of evidence from :func:`gradchecks`: models checked, all passed, the
    largest relative error."""
    values = list(checks.values())
    return {"models_checked": len(values), "all_ok": bool(values) and all(c.get("ok") for c in values),
            "max_rel_error": max((c.get("max_rel_error", 0.0) for c in values), default=None)}


def gradcheck_line(checks: Mapping[str, Mapping]) -> str:
    """A report sentence on :func:`gradchecks` (``checks`` as stored in results.json)."""
    s = gradcheck_summary(checks)
    worst = float("nan") if s["max_rel_error"] is None else s["max_rel_error"]
    return (f"Gradient check (manual backward vs jax.grad, float64, on the exact objective):"
            f" {'passed' if s['all_ok'] else 'NOT passed'} for {s['models_checked']} checked"
            f" model(s) ({', '.join(checks)}; max relative error {worst:.1e}); models that"
            f" differ only in layer widths share their check.")


def check_text(check) -> str:
    """One fit's gradient check as text: ``ok (max rel. error 3.1e-12)``, or why not run."""
    if not isinstance(check, Mapping):
        return str(check)
    return (f"{'ok' if check.get('ok', True) else 'FAILED'} (max rel. error"
            f" {check.get('max_rel_error', float('nan')):.1e}"
            + ("; passed before on this identical model and data, read from the cache"
               if check.get("cached") else "") + ")")


def median_run(values) -> int:
    """Index of the run whose value is the median (lower middle for an even count);
    used only to choose which run's pictures to show, never to report a number."""
    v = np.asarray(values, np.float64)
    order = np.argsort(np.where(np.isfinite(v), v, np.inf), kind="stable")
    n_ok = int(np.isfinite(v).sum())
    return int(order[max(n_ok - 1, 0) // 2])


def one_run(tree, i: int):
    """Run ``i`` of stacked (R, ...) params/state, kept as a stack of one (for ``predict``)."""
    import jax
    return jax.tree.map(lambda a: a[i:i + 1], tree)


def one_per_class(y, n_classes: int = 10, start: int = 0) -> np.ndarray:
    """Index of the first example of each class at or after ``start`` (classes present)."""
    y = np.asarray(y)
    return np.array([start + int(np.flatnonzero(y[start:] == c)[0])
                     for c in range(n_classes) if np.any(y[start:] == c)])


def seeds(record: Mapping) -> list:
    """The seed of every run of a sweep record."""
    return [lab["seed"] for lab in record["runs"]]
