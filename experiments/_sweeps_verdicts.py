"""The "Neural Networks" report's conclusions about its MNIST sweeps, each tested on our
results (``mnist_sweeps`` results.json): one :func:`nnjax.study.verdict` line per claim.

A claim of one configuration beating another ("significantly outperform", "reduce
accuracy") holds when the 95% CIs of the two IQMs do not overlap; with fewer than 5 runs
there is no CI and the runs' range [min, max] takes its place (said in the line). A claim
about stability compares the interquartile range (Q3 − Q1) of the test accuracies over
seeds. Every number in a line is formatted from the results.
"""
from __future__ import annotations

from typing import Mapping, Optional

from nnjax.study import verdict
from nnjax.study import verdict as _verdict


def interval(s: Mapping) -> tuple:
    """``(low, high, kind)``: the 95% CI of the IQM, or the runs' range when n < 5."""
    if s.get("ci_low") is not None:
        return s["ci_low"], s["ci_high"], "CI"
    return s["min"], s["max"], "range"


def above(a: Mapping, b: Mapping) -> bool:
    """``a`` clearly better than ``b``: ``a``'s interval lies above ``b``'s."""
    return interval(a)[0] > interval(b)[1]


def iqr(s: Mapping) -> float:
    return s["q3"] - s["q1"]


def show(label: str, s: Mapping) -> str:
    lo, hi, kind = interval(s)
    return f"{label} {s['iqm']:.4f} ({kind} {lo:.4f}–{hi:.4f}, n={s['n']})"


def _pub_iqm(v) -> float:
    return v[0] if isinstance(v, (list, tuple)) else v


def _rows(r: Mapping, sweep: str) -> dict:
    """``{label: (summary, published IQM)}`` of one sweep, only boxes with finite runs."""
    return {row["label"]: (row["summary"], _pub_iqm(row["published"]))
            for row in r["sweeps"].get(sweep, []) if row["summary"].get("iqm") is not None}


def _activation(r) -> list:
    a = _rows(r, "activation")
    if not {"TanH", "Sigmoid", "ReLU"} <= set(a):
        return []
    (t, pt), (sg, ps), (rl, pr) = a["TanH"], a["Sigmoid"], a["ReLU"]
    gap = min(t["iqm"], rl["iqm"]) - sg["iqm"]
    pub_gap = min(pt, pr) - ps
    lines = [verdict(
        "TanH and ReLU significantly outperform Sigmoid", above(t, sg) and above(rl, sg),
        f"IQM of test accuracy: {show('Sigmoid', sg)}, {show('TanH', t)}, {show('ReLU', rl)}."
        f" Sigmoid's deficit to the weaker of the two: {100 * gap:.2f} points (published"
        f" {100 * pub_gap:.2f}).")]
    lines.append(verdict(
        "[Sigmoid's deficit is as large as published] (the poor performance of Sigmoid)",
        gap >= pub_gap / 2,
        f"ours {100 * gap:.2f} points against the published {100 * pub_gap:.2f}; holds when"
        " ours is at least half the published deficit."))
    overlap = not above(t, rl) and not above(rl, t)
    lines.append(verdict(
        "TanH and ReLU demonstrate similar performance", overlap,
        "their intervals " + ("overlap" if overlap else "do not overlap")
        + f": {show('TanH', t)}, {show('ReLU', rl)}."))
    lines.append(verdict(
        "TanH shows slightly higher median accuracy [than ReLU]", t["median"] > rl["median"],
        f"median TanH {t['median']:.4f}, ReLU {rl['median']:.4f}."))
    return lines


def _batch(r, sweep: str = "batch size", tag: str = "") -> list:
    b = _rows(r, sweep)
    if not b:
        return []

    def verdict(claim, holds, evidence):          # the claim, marked with its sweep
        return _verdict(tag + claim, holds, evidence)
    sizes = sorted(b, key=int)
    best = max(sizes, key=lambda k: b[k][0]["iqm"])
    medium = [k for k in ("64", "128") if k in b]
    lines = []
    if medium and len(sizes) >= 3:
        beaten = [k for k in sizes if k not in medium
                  and all(above(b[k][0], b[m][0]) for m in medium)]
        lines.append(verdict(
            "Medium batch sizes (64-128) achieve the best performance", best in medium,
            f"highest IQM at batch {best}; " + ", ".join(show(k, b[k][0]) for k in sizes)
            + ". Clearly above both 64 and 128 (intervals apart): "
            + (", ".join(beaten) if beaten else "none") + ". Published best: batch "
            + max(sizes, key=lambda k: b[k][1]) + "."))
    small = [k for k in ("8", "16") if k in b]
    if small and medium:
        holds = min(iqr(b[k][0]) for k in small) > max(iqr(b[k][0]) for k in medium)
        lines.append(verdict(
            "Smaller batches (8-16) show higher variance in results, indicating less stable"
            " training", holds,
            "IQR (Q3 − Q1) of test accuracy over seeds: " + ", ".join(
                f"batch {k} {iqr(b[k][0]):.4f} (n={b[k][0]['n']})" for k in sizes)
            + "; the claim needs both small batches above both medium ones."))
    if "256" in b and medium:
        top = max(medium, key=lambda k: b[k][0]["iqm"])
        lines.append(verdict(
            "Very large batches (256) slightly reduce accuracy", above(b[top][0], b["256"][0]),
            f"{show('256', b['256'][0])} against the better medium size {show(top, b[top][0])};"
            " the claim holds when the intervals are apart."))
    if "64" in b and "128" in b:
        med = max(sizes, key=lambda k: b[k][0]["median"])
        holds = med == "64" and iqr(b["64"][0]) > iqr(b["128"][0])
        lines.append(verdict(
            "The batch size of 64 yields the highest median accuracy, though with higher"
            " variance than 128", holds,
            f"highest median at batch {med} ({b[med][0]['median']:.4f}); IQR batch 64"
            f" {iqr(b['64'][0]):.4f}, batch 128 {iqr(b['128'][0]):.4f}."))
    return lines


def _hidden(r) -> list:
    h = _rows(r, "hidden [h,h]")
    if len(h) < 3:
        return []
    sizes = sorted(h, key=int)
    iqms = [h[k][0]["iqm"] for k in sizes]
    gains = [b - a for a, b in zip(iqms, iqms[1:])]
    rising = all(g > 0 for g in gains)
    shrinking = all(b < a for a, b in zip(gains, gains[1:]))
    return [verdict(
        "Larger hidden layers generally yield better performance up to a point of"
        " diminishing returns", rising and shrinking,
        "IQM " + ", ".join(f"{k}: {v:.4f}" for k, v in zip(sizes, iqms)) + "; gain per"
        " doubling " + ", ".join(f"{100 * g:+.2f}" for g in gains) + " points ("
        + ("rising" if rising else "not always rising") + ", gains "
        + ("shrinking" if shrinking else "not shrinking") + ").")]


def _optimizer(r) -> list:
    o = _rows(r, "optimizer")
    names = ("SGD lr .01", "SGD momentum .9 lr .01", "Adam 1e-3")
    if not set(names) <= set(o):
        return []
    sgd, mom, adam = (o[k][0] for k in names)
    return [
        verdict("Adam consistently outperforms both SGD variants",
                above(adam, sgd) and above(adam, mom),
                f"{show('Adam', adam)}, {show('SGD+momentum', mom)}, {show('SGD', sgd)}."),
        verdict("SGD with momentum shows improvement over vanilla SGD", above(mom, sgd),
                f"{show('SGD+momentum', mom)} vs {show('SGD', sgd)}."),
        verdict("The reduced variance in Adam's results indicates more consistent training",
                iqr(adam) < min(iqr(sgd), iqr(mom)),
                f"IQR Adam {iqr(adam):.4f}, SGD+momentum {iqr(mom):.4f}, SGD {iqr(sgd):.4f}."),
    ]


def conclusions(r: Mapping) -> list:
    """One verdict line per conclusion of the source about its sweeps (those whose boxes
    ran; a sweep that did not run gives no line)."""
    batch = [name for name in r["sweeps"] if name.startswith("batch size")]
    lines = _activation(r)
    for name in batch:
        lines += _batch(r, name, f"[{name}] " if len(batch) > 1 else "")
    return lines + _hidden(r) + _optimizer(r)


def headline_row(label: str, s: Mapping, published: Optional[float]) -> tuple:
    """A ``(label, ours, ci, runs, published)`` row of :func:`nnjax.study.headline`."""
    from nnjax.study import summary_cells
    return summary_cells(label, s, published)
