"""What ``nnjax sweep`` writes from its per-point records.

* ``results.json``: one record per run (static point, vmapped values, seed, fold, test
  metrics, epochs run, diverged), each point's provenance, and the sweep's provenance.
* ``runs.csv``: the same runs, one row each; columns: the static names, the vmapped
  names, ``seed``, ``fold``, ``test_accuracy`` or ``test_mse``, ``test_loss``,
  ``epochs_run``, ``diverged``.
* ``summary.md``: per configuration (static point × vmapped values, pooled over seeds
  and folds) the IQM of the test metric and its 95% bootstrap CI, or every value when
  fewer than 5 runs (:func:`nnjax.analysis.stats.spread_text`); diverged runs are
  excluded and counted.
* ``curves-<i>.png``: the validation metric per epoch of point ``i`` (IQM and
  interquartile band over runs, one line per vmapped setting).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from nnjax.analysis import plots, stats
from nnjax.provenance import provenance
from nnjax.results import write_bytes_atomic, write_json_atomic

FORMAT = "nnjax.sweep/1"


def metric_name(spec) -> str:
    """``"accuracy"`` for a classifier, ``"mse"`` for a reconstruction."""
    return "mse" if spec.task() == "reconstruct" else "accuracy"


def _plain(v):
    """A static value as a CSV/table cell: lists as compact JSON, others as they are."""
    return json.dumps(v, separators=(",", ":")) if isinstance(v, (list, tuple, dict)) else v


def run_rows(spec, points: Sequence[Mapping], records: Sequence[Mapping]) -> list:
    """One dict per run, in grid order: static, vmapped, seed, fold, metrics, epochs, diverged."""
    metric = metric_name(spec)
    rows = []
    for point, rec in zip(points, records):
        for i, label in enumerate(rec["runs"]):
            row = dict(point)
            row.update({k: label[k] for k in spec.vmapped})
            row["seed"] = label["seed"]
            row["fold"] = label.get("fold")
            row[f"test_{metric}"] = rec["test"][metric][i]
            row["test_loss"] = rec["test"]["loss"][i]
            row["epochs_run"] = int(rec["epochs_run"][i])
            row["diverged"] = bool(rec["diverged"][i])
            rows.append(row)
    return rows


def columns(spec) -> list:
    return [*spec.static, *spec.vmapped, "seed", "fold", f"test_{metric_name(spec)}",
            "test_loss", "epochs_run", "diverged"]


def runs_csv(spec, rows) -> str:
    buf = io.StringIO()
    cols = columns(spec)
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else _plain(row[k])) for k in cols})
    return buf.getvalue()


def summaries(spec, rows) -> list:
    """Per configuration: its static and vmapped values and ``stats.summary`` of the metric."""
    metric = f"test_{metric_name(spec)}"
    by = [*spec.static, *spec.vmapped]
    groups: dict = {}
    for row in rows:
        key = json.dumps([_plain(row[k]) for k in by])
        groups.setdefault(key, ({k: row[k] for k in by}, []))[1].append(row[metric])
    return [{**config, **stats.summary(values, n_boot=2000)} for config, values in groups.values()]


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.4f}"


def summary_md(spec, table) -> str:
    metric = f"test_{metric_name(spec)}"
    by = [*spec.static, *spec.vmapped]
    grid = spec.grid()
    lines = [f"# {spec.name}", "",
             f"{spec.data}, model `{spec.builder.name}`, {len(grid.points())} point(s) × "
             f"{grid.runs().size} runs. {metric}: IQM over seeds"
             f"{' and folds' if spec.folds else ''} with its 95% bootstrap CI (with fewer than"
             f" {stats.MIN_RUNS_FOR_CI} runs: every value instead); diverged runs are excluded"
             " and counted.", "",
             "| " + " | ".join([*by, "n", "diverged", f"{metric} IQM", "95% CI or values"]) + " |",
             "|" + "---|" * (len(by) + 4)]
    for s in table:
        ci = stats.spread_text(s)
        cells = [str(_plain(s[k])) for k in by] + [str(s["n"]), str(s["n_excluded"]),
                                                   _fmt(s["iqm"]), ci]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def curves(spec, points, records, folder: Path) -> list:
    """One learning-curve figure per static point: the validation metric of each setting."""
    metric = f"val_{metric_name(spec)}"
    paths = []
    for i, (point, rec) in enumerate(zip(points, records), start=1):
        history = np.asarray(rec["history"][metric], dtype=np.float64)
        series: dict = {}
        for r, label in enumerate(rec["runs"]):
            name = ", ".join(f"{k}={label[k]:g}" for k in spec.vmapped) or "all runs"
            series.setdefault(name, []).append(r)
        where = ", ".join(f"{k}={_plain(v)}" for k, v in point.items())
        paths.append(plots.curves(folder / f"curves-{i}.png",
                                  {k: history[idx] for k, idx in series.items()},
                                  title=f"{spec.name}: point {i}"
                                  + (f" ({where})" if where else ""),
                                  ylabel=metric))
    return paths


def write_outputs(spec, points, records, folder, *, wall_seconds=None, cpu_seconds=None) -> Path:
    """Write results.json, runs.csv, summary.md and the curves into ``folder``; print the
    summary. Returns ``folder``."""
    folder = Path(folder)
    rows = run_rows(spec, points, records)
    table = summaries(spec, rows)
    doc = {"format": FORMAT, "name": spec.name, "file": str(spec.path),
           "settings": spec.settings(), "static": dict(spec.static),
           "metric": f"test_{metric_name(spec)}", "runs": rows,
           "points": [{"static": p, "provenance": r.get("provenance"), "info": r.get("info")}
                      for p, r in zip(points, records)],
           "summary": table,
           "provenance": provenance(wall_seconds=wall_seconds, cpu_seconds=cpu_seconds)}
    write_json_atomic(folder / "results.json", doc)
    write_bytes_atomic(folder / "runs.csv", runs_csv(spec, rows).encode())
    text = summary_md(spec, table)
    write_bytes_atomic(folder / "summary.md", text.encode())
    curves(spec, points, records, folder)
    print(text, flush=True)
    return folder
