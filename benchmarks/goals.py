"""The speed goals, checked against the measured records.

"nnjax" ("ours") is the nnjax engine's fastest batch order at S = 15 — only its own rows
(manual backward, vmapped: variants ``shared``/``per_seed``), never the autodiff or
device comparison cases; the row names which order, and which engine ran it. Each
competitor is its fastest measured variant. A run without S = 15 (``--tiny``) checks at
its largest S instead, and the rows say so.

Three rows compare nnjax with itself, matched on S and batch order:

* "grad=manual vs grad=autodiff (<order> order)", one row per batch order, ours' first:
  t_manual/t_autodiff of ``<order>`` and ``<order>_autodiff`` at ours' S; passes at ≤ 1.10
  (manual within 10% of autodiff, or faster).
* "2 devices vs 1 (sharded runs)": the speed-up t_1dev/t_2dev of ``<order>_1dev`` and
  ``<order>_2dev`` (same S, each in its own process). A *measurement* goal: it passes
  once the ratio is measured, whatever its value (with 2 cores, one XLA CPU device
  already spreads its work over both cores, so no speed-up is promised).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from benchmarks.common import NNJAX_ORDERS, nnjax_variant

S_GOAL = 15
RISE_TOLERANCE = 1.10  # "not rising": t(S=64) ≤ 1.10 · t(S=1), allowing for noise
AUTODIFF_TOLERANCE = 1.10  # t_manual ≤ 1.10 · t_autodiff
DEVICES = 2
# the other workloads' goals: modules with check(records, roofline_gflops) -> [Goal], their
# rows after the MLP's (imported when checked: they import this module)
WORKLOAD_GOALS = ("benchmarks.conv_goals",)    # the conv-AE workload (issue 14)


class Goal(NamedTuple):
    goal: str
    target: str
    measured: Optional[float]
    detail: str
    passed: Optional[bool]  # None: not measured


def ok(records) -> list:
    return [r for r in records if r.get("status") == "ok" and "median_s" in r]


def pick(records, contender: str, seeds: Optional[int] = None,
         variants=None) -> Optional[dict]:
    """The fastest (lowest median) ok record of ``contender`` (at ``seeds`` and among
    ``variants`` if given)."""
    rows = [r for r in ok(records) if r["case"]["contender"] == contender
            and (seeds is None or r["case"]["seeds"] == seeds)
            and (variants is None or r["case"]["variant"] in variants)]
    return min(rows, key=lambda r: r["median_s"]) if rows else None


def pick_ours(records, seeds: Optional[int] = None) -> Optional[dict]:
    """The nnjax engine's own fastest row (manual, vmapped; no comparison variants)."""
    return pick(records, "nnjax", seeds, NNJAX_ORDERS)


def describe(record: dict) -> str:
    c = record["case"]
    engine = ""
    if c["contender"] == "nnjax":
        engine = ", " + record.get("notes", "").split(";")[0]
    return f"{c['contender']}/{c['variant']} S={c['seeds']}{engine}"


def _speedup(name: str, target: float, ours, theirs, what: str) -> Goal:
    if ours is None or theirs is None:
        return Goal(name, f"≥ {target:g}×", None, f"not measured ({what})", None)
    ratio = theirs["median_s"] / ours["median_s"]
    detail = (f"{describe(theirs)} {theirs['median_s']:.3f} s vs {describe(ours)} "
              f"{ours['median_s']:.3f} s per seed-epoch")
    return Goal(name, f"≥ {target:g}×", ratio, detail, ratio >= target)


def goal_seeds(records) -> int:
    """15 if the nnjax contender ran at S = 15, else its largest S (or 15)."""
    counts = {r["case"]["seeds"] for r in ok(records) if r["case"]["contender"] == "nnjax"
              and r["case"]["variant"] in NNJAX_ORDERS}
    return S_GOAL if S_GOAL in counts or not counts else max(counts)


def check(records, roofline_gflops: Optional[float]) -> list:
    s = goal_seeds(records)
    ours = pick_ours(records, s)
    torch_seq = pick(records, "torch_mlp")
    torch_func = pick(records, "torch_func", s)
    nnx = min([r for r in (pick(records, "flax_nnx", s), pick(records, "flax_nnx", 1))
               if r is not None], key=lambda r: r["median_s"], default=None)
    goals = [
        _speedup(f"{s}-seed vmapped vs best sequential PyTorch", 5, ours, torch_seq,
                 "torch_mlp"),
        _speedup(f"{s}-seed vmapped vs torch.func ensemble", 2, ours, torch_func,
                 "torch_func"),
        _speedup(f"{s}-seed vmapped vs Flax NNX", 1.5, ours, nnx, "flax_nnx"),
        _speedup(f"{s}-seed vmapped vs NumPy from scratch", 50, ours,
                 pick(records, "numpy"), "numpy"),
    ]
    if ours is None or not roofline_gflops:
        goals.append(Goal("share of the matmul roofline", "≥ 60%", None,
                          "not measured (nnjax or roofline)", None))
    else:
        share = ours["gflops"] / roofline_gflops
        goals.append(Goal("share of the matmul roofline", "≥ 60%", share * 100,
                          f"{ours['gflops']:.1f} of {roofline_gflops:.1f} GFLOP/s "
                          f"({describe(ours)})", share >= 0.6))
    if ours is None:
        goals.append(Goal("compile time", "< 10 s", None, "not measured (nnjax)", None))
    else:
        startup = compile_seconds(ours)
        goals.append(Goal("compile time", "< 10 s", startup,
                          f"lower+compile {ours['compile_s']:.2f} s plus first-call "
                          f"overhead ({describe(ours)})", startup < 10))
    goals.append(_no_rise(records, ours))
    goals.extend(manual_vs_autodiff(records, ours))
    goals.append(devices_vs_one(records, ours))
    import importlib
    for module in WORKLOAD_GOALS:
        goals.extend(importlib.import_module(module).check(records, roofline_gflops))
    return goals


def compile_seconds(record: dict) -> float:
    """Lower+compile, plus whatever the first call took beyond a steady epoch."""
    extra = 0.0
    if record.get("first_call_s") is not None:
        steady = record["median_s"] * record["case"]["seeds"]
        extra = max(0.0, record["first_call_s"] - steady)
    return (record.get("compile_s") or 0.0) + extra


def _no_rise(records, ours) -> Goal:
    name = "per-seed-epoch time not rising from S=1 to 64"
    target = f"t(64)/t(1) ≤ {RISE_TOLERANCE:g}"
    if ours is None:
        return Goal(name, target, None, "not measured (nnjax)", None)
    variant = ours["case"]["variant"]
    series = {r["case"]["seeds"]: r for r in ok(records)
              if r["case"]["contender"] == "nnjax" and r["case"]["variant"] == variant}
    if 1 not in series or 64 not in series:
        return Goal(name, target, None, f"needs S=1 and S=64 of nnjax/{variant}", None)
    ratio = series[64]["median_s"] / series[1]["median_s"]
    steps = " → ".join(f"S={s}: {series[s]['median_s']:.3f}" for s in sorted(series))
    return Goal(name, target, ratio, f"nnjax/{variant} {steps} s", ratio <= RISE_TOLERANCE)


def _nnjax_row(records, variant: str, seeds: int) -> Optional[dict]:
    return pick(records, "nnjax", seeds, (variant,))


def manual_vs_autodiff(records, ours) -> list:
    """t_manual/t_autodiff in each batch order (ours' first): the order's manual row against
    ``<order>_autodiff`` at ours' S."""
    name = "grad=manual vs grad=autodiff"
    target = f"t_manual/t_autodiff ≤ {AUTODIFF_TOLERANCE:.2f}"
    if ours is None:
        return [Goal(name, target, None, "not measured (nnjax)", None)]
    c = ours["case"]
    goals = []
    for order in [c["variant"]] + [o for o in NNJAX_ORDERS if o != c["variant"]]:
        label = f"{name} ({order} order)"
        manual = _nnjax_row(records, order, c["seeds"])
        auto_variant = nnjax_variant(order, "autodiff")
        auto = _nnjax_row(records, auto_variant, c["seeds"])
        if manual is None or auto is None:
            goals.append(Goal(label, target, None, f"needs nnjax/{order} and"
                              f" nnjax/{auto_variant} at S={c['seeds']}", None))
            continue
        ratio = manual["median_s"] / auto["median_s"]
        goals.append(Goal(label, target, ratio,
                          f"{describe(manual)} {manual['median_s']:.3f} s vs {describe(auto)} "
                          f"{auto['median_s']:.3f} s per seed-epoch",
                          ratio <= AUTODIFF_TOLERANCE))
    return goals


def devices_vs_one(records, ours) -> Goal:
    """Speed-up t_1dev/t_2dev of the sharded runs (a measurement: passes when measured).

    Ours' batch order is the headline (the other order's ratio is added to the detail);
    without ours, the first order measured. Each order at the largest S both ran."""
    name = f"{DEVICES} devices vs 1 (sharded runs)"
    first = [ours["case"]["variant"]] if ours is not None else []
    ratios = []
    for order in first + [o for o in NNJAX_ORDERS if o not in first]:
        one, many = ({r["case"]["seeds"]: r for r in ok(records)
                      if r["case"]["contender"] == "nnjax"
                      and r["case"]["variant"] == nnjax_variant(order, devices=d)}
                     for d in (1, DEVICES))
        common = sorted(set(one) & set(many))
        if common:
            s = common[-1]
            ratios.append((order, s, one[s]["median_s"], many[s]["median_s"]))
    if not ratios:
        return Goal(name, "measured", None,
                    f"needs nnjax/<order>_1dev and _{DEVICES}dev at the same S", None)
    parts = [f"{o} S={s}: {t1:.3f} s on 1 device, {t2:.3f} s on {DEVICES} "
             f"({t1 / t2:.2f}×)" for o, s, t1, t2 in ratios]
    _, _, t1, t2 = ratios[0]
    return Goal(name, "measured", t1 / t2,
                "speed-up t_1dev/t_2dev per seed-epoch, each in its own process; "
                + "; ".join(parts), True)
