"""The speed goals, checked against the measured records.

"nnjax" is the nnjax contender's fastest batch order at S = 15 (the row names which
order, and which engine ran it); each competitor is its fastest measured variant. A run
without S = 15 (``--tiny``) checks at its largest S instead, and the rows say so.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

S_GOAL = 15
RISE_TOLERANCE = 1.10  # "not rising": t(S=64) ≤ 1.10 · t(S=1), allowing for noise


class Goal(NamedTuple):
    goal: str
    target: str
    measured: Optional[float]
    detail: str
    passed: Optional[bool]  # None: not measured


def ok(records) -> list:
    return [r for r in records if r.get("status") == "ok" and "median_s" in r]


def pick(records, contender: str, seeds: Optional[int] = None) -> Optional[dict]:
    """The fastest (lowest median) ok record of ``contender`` (at ``seeds`` if given)."""
    rows = [r for r in ok(records) if r["case"]["contender"] == contender
            and (seeds is None or r["case"]["seeds"] == seeds)]
    return min(rows, key=lambda r: r["median_s"]) if rows else None


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
    counts = {r["case"]["seeds"] for r in ok(records) if r["case"]["contender"] == "nnjax"}
    return S_GOAL if S_GOAL in counts or not counts else max(counts)


def check(records, roofline_gflops: Optional[float]) -> list:
    s = goal_seeds(records)
    ours = pick(records, "nnjax", s)
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
