"""Write the results: ``<date>-<host>.json``, ``.md``, ``.png`` and ``LATEST.md``."""
from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import socket

from benchmarks import goals as G
from benchmarks.common import Workload, cpu_count

PACKAGES = ("numpy", "jax", "jaxlib", "optax", "flax", "torch", "nnjax", "threadpoolctl")
TRIED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "TRIED.md")


def machine_info() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"host": socket.gethostname(), "cpu_model": model, "cores": cpu_count(),
            "platform": platform.platform(), "versions": versions,
            "load_average": os.getloadavg()}


def stem(now: datetime.datetime, host: str, only=None) -> str:
    """``<date>-<host>``; a subset run (``--only``) adds its families, so it never
    overwrites the day's full run."""
    return f"{now:%Y-%m-%d}-{host}" + (f"-only-{'+'.join(only)}" if only else "")


def rewrite(json_path: str) -> dict:
    """Recheck the goals and re-render Markdown, plot and LATEST.md of a results JSON."""
    with open(json_path) as f:
        payload = json.load(f)
    roof = payload.get("roofline")
    payload["goals"] = [g._asdict() for g in G.check(payload["records"],
                                                     roof and roof["roofline_gflops"])]
    return write_all(os.path.dirname(os.path.abspath(json_path)), payload)


def write_all(out_dir: str, payload: dict) -> dict:
    """Write JSON, Markdown, plot and (for a run of every family) LATEST.md; return their
    paths."""
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, payload["stem"])
    paths = {"json": base + ".json", "md": base + ".md", "png": base + ".png"}
    if not payload.get("only"):
        paths["latest"] = os.path.join(out_dir, "LATEST.md")
    with open(paths["json"], "w") as f:
        json.dump(payload, f, indent=1, default=float)
    write_plot(paths["png"], payload["records"])
    with open(paths["md"], "w") as f:
        f.write(markdown(payload, os.path.basename(paths["png"]), tried_text()))
    if "latest" in paths:
        shutil.copyfile(paths["md"], paths["latest"])
    return paths


def tried_text(path: str = TRIED) -> str:
    """The hand-written "What was tried" section (``benchmarks/TRIED.md``), or ""."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _unit(goal: str) -> str:
    """How a goal's measured value reads: %, seconds, a plain ratio or a speed-up ×."""
    if "roofline" in goal:
        return "%"
    if "compile" in goal:
        return " s"
    return "" if "rising" in goal or "autodiff" in goal else "×"


def _fmt(x, spec=".3f", none="–"):
    return none if x is None else format(x, spec)


def _series(records) -> dict:
    """``{(contender, variant): {S: record}}`` of the ok training records."""
    out = {}
    for r in G.ok(records):
        c = r["case"]
        out.setdefault((c["contender"], c["variant"]), {})[c["seeds"]] = r
    return out


def markdown(payload: dict, png_name: str, tried: str = "") -> str:
    """The report; ``tried`` (Markdown, e.g. :func:`tried_text`) goes after the goals."""
    m, s, w = payload["machine"], payload["settings"], Workload(n_images=payload["n_images"])
    roof = payload.get("roofline") or {}
    rg = roof.get("roofline_gflops")
    lines = [f"# nnjax speed benchmarks — {payload['date']} on {m['host']}", "",
             f"- Machine: {m['cpu_model']}, {m['cores']} cores; load average at start "
             f"{_load(payload['load_start'])}, at end {_load(payload['load_end'])}.",
             "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
             f"- Workload: MLP {'-'.join(map(str, w.sizes))} ReLU, softmax cross-entropy, "
             f"Adam {w.lr:g}, batch {w.batch}, one epoch = {w.n_batches} batches = "
             f"{w.images_per_epoch} images (last partial batch dropped); "
             f"{w.flops_per_seed_epoch / 1e9:.2f} GFLOP per seed-epoch (6·N·Σ fan_in·fan_out).",
             f"- Data: {payload['data_source']}. Mode: {s['mode']} ({s['repeats']} timed "
             f"repeat(s) after a warm-up, in {payload.get('rounds', 1)} round(s); "
             f"median [min–max])."
             + (" Tiny mode checks the code path only: its numbers mean nothing."
                if s["mode"] == "tiny" else ""),
             "- Other processes shared the cores during this run: numbers are noisy; compare "
             "within a run, and re-run on an idle machine for final figures."
             if max(payload["load_start"][0], payload["load_end"][0]) > 0.5 * m["cores"]
             else "- The machine looked idle (load average below half the core count).",
             ""]
    if payload.get("skipped"):
        lines += ["Skipped: " + "; ".join(f"{k} ({v})" for k, v in payload["skipped"].items()),
                  ""]
    lines += ["## Goals", "", "| goal | target | measured | result | detail |",
              "|---|---|---|---|---|"]
    for g in payload["goals"]:
        res = {True: "pass", False: "miss", None: "not measured"}[g["passed"]]
        lines.append(f"| {g['goal']} | {g['target']} | {_fmt(g['measured'], '.2f')}"
                     f"{_unit(g['goal'])} | {res} | {g['detail']} |")
    if tried:
        lines += ["", tried]
    lines += ["", "## Every measurement", "",
              "| contender | variant | S | batch order | s / seed-epoch median [min–max] | "
              "GFLOP/s | % roofline | compile s | peak RSS MiB | Δ RSS MiB | loss | load | "
              "notes |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in payload["records"]:
        c = r["case"]
        if r.get("status") != "ok":
            lines.append(f"| {c['contender']} | {c['variant']} | {c['seeds']} | | ERROR | | | "
                         f"| | | | {r.get('error', '')[:200]} |")
            continue
        if "roofline" in r:
            continue
        pct = f"{100 * r['gflops'] / rg:.0f}" if rg else "–"
        lines.append(
            f"| {c['contender']} | {c['variant']} | {c['seeds']} | {r['order']} | "
            f"{r['median_s']:.3f} [{r['min_s']:.3f}–{r['max_s']:.3f}] | {r['gflops']:.1f} | "
            f"{pct} | {_fmt(r.get('compile_s'), '.2f')} | {_fmt(r.get('peak_rss_mib'), '.0f')} "
            f"| {_fmt(r.get('delta_rss_mib'), '.0f')} | {_fmt(r.get('loss'), '.3f')} | "
            f"{_case_load(r)} | {r.get('notes', '')} |")
    lines += _scaling(payload["records"]) + _roofline(roof, payload["records"])
    mem = next((r.get("memory_method") for r in payload["records"] if r.get("memory_method")),
               "")
    lines += ["", "## How it was measured", "",
              f"![time per seed-epoch against S]({png_name})", "",
              "- Time per seed-epoch: wall time of one epoch of all S seeds divided by S "
              "(sequential contenders: one seed's epoch, model creation included). JAX results "
              "are blocked on; PyTorch and NumPy are synchronous.",
              "- Compile: JAX contenders time `jit(...).lower(...)` + `.compile()` ahead of "
              "time; the goal adds any first-call time beyond a steady epoch. PyTorch and Flax "
              "NNX: first epoch minus the median steady epoch.",
              f"- Memory: {mem}.",
              "- Loss: the mean training loss of the last timed epoch (a sanity check that "
              "each contender trains). Vmapped contenders keep training across repeats; "
              "sequential ones start a fresh seed every repeat; extrapolated rows saw only part "
              "of an epoch.",
              "- Batch order: `shared` = one permutation per epoch for all seeds; "
              "`per_seed` = every seed shuffles with its own key; `own` = a single run.",
              "- nnjax variants: the order alone is the engine (manual backward, vmapped) "
              "and the only one the other goals use; `_autodiff` = the same with "
              "`grad=\"autodiff\"`; `_1dev`/`_2dev` = the run axis mapped by "
              "`nnjax.train.parallel.RunMapper` in a process with 1 or 2 XLA CPU devices "
              "(`--xla_force_host_platform_device_count`; 2: `shard_map`, half the runs each).",
              "- Load: the 1-minute load average before → after each case; above the core "
              "count, other processes were competing for the cores during that case.",
              "- Rows whose notes say *extrapolated* timed a fraction of an epoch's batches "
              "(the per-batch cost of these Python loops is constant) and scaled up.", ""]
    return "\n".join(lines)


def _case_load(record) -> str:
    """1-minute load average before → after the case (other processes on the cores)."""
    if not record.get("load_before") or not record.get("load_after"):
        return "–"
    return f"{record['load_before'][0]:.1f}→{record['load_after'][0]:.1f}"


def _load(load) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def _scaling(records) -> list:
    series = {k: v for k, v in _series(records).items() if len(v) > 1}
    if not series:
        return []
    counts = sorted({s for v in series.values() for s in v})
    head = " | ".join(f"S={s}" for s in counts)
    out = ["", "## Scaling with the number of seeds", "",
           "Seconds per seed-epoch (peak RSS MiB).", "",
           f"| contender | {head} |", "|---|" + "---|" * len(counts)]
    for (contender, variant), by_s in sorted(series.items()):
        cells = [f"{by_s[s]['median_s']:.3f} ({_fmt(by_s[s].get('peak_rss_mib'), '.0f')})"
                 if s in by_s else "" for s in counts]
        out.append(f"| {contender}/{variant} | " + " | ".join(cells) + " |")
    return out


def _roofline(roof: dict, records) -> list:
    if not roof:
        return []
    out = ["", "## Matmul roofline", "", "| when | backend | n | GFLOP/s median | best |",
           "|---|---|---|---|---|"]
    for rec in records:
        if rec.get("status") == "ok" and rec.get("roofline"):
            out += [f"| {rec['case']['variant']} | {r['backend']} | {r['n']} | "
                    f"{r['gflops']:.1f} | {r['gflops_best']:.1f} |"
                    for r in rec["roofline"]["rows"]]
    out += ["", f"Roofline: {roof['roofline_gflops']:.1f} GFLOP/s ({roof['roofline_source']}; "
            "measured at the start and at the end of the run, the better one shown)."]
    blas = roof.get("blas", {})
    pools = blas.get("threadpools")
    if isinstance(pools, list):
        out.append("NumPy threadpools (threadpoolctl): " + "; ".join(
            f"{p.get('internal_api')} {p.get('version') or ''} {p.get('num_threads')} threads"
            f"{' ' + p['architecture'] if p.get('architecture') else ''}" for p in pools) + ".")
    out.append("Environment: " + ", ".join(f"{k}={v}" for k, v in blas.get("env", {}).items())
               + " (left as found).")
    return out


def write_plot(path: str, records) -> None:
    """Log-log time per seed-epoch against S (left) and peak RSS against S (right).

    Sequential contenders (one seed at a time) are dashed horizontal lines: a loop over
    S seeds costs S times their per-seed time, i.e. the same time per seed-epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    series = _series(records)
    counts = sorted({s for v in series.values() for s in v} | {1})
    lo, hi = counts[0], max(counts[-1], 2)
    colors = plt.get_cmap("tab20").colors
    fig, (ax, mx) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [3, 2]})
    for i, ((contender, variant), by_s) in enumerate(sorted(series.items())):
        color, label = colors[i % len(colors)], f"{contender}/{variant}"
        xs = sorted(by_s)
        ys = [by_s[s]["median_s"] for s in xs]
        if len(xs) == 1 and by_s[xs[0]]["order"] == "own":
            ax.hlines(ys[0], lo, hi, colors=[color], linestyles="--",
                      label=label + " (loop over seeds)")
            continue
        err = [[y - by_s[s]["min_s"] for s, y in zip(xs, ys)],
               [by_s[s]["max_s"] - y for s, y in zip(xs, ys)]]
        ax.errorbar(xs, ys, yerr=err, color=color, marker="o", capsize=3, label=label)
        mem = [by_s[s].get("peak_rss_mib") for s in xs]
        if all(v is not None for v in mem):
            mx.plot(xs, mem, color=color, marker="o", label=label)
    for a in (ax, mx):
        a.set_xscale("log")
        a.set_xticks(counts)
        a.xaxis.set_major_formatter(ScalarFormatter())
        a.xaxis.set_minor_formatter(NullFormatter())
        a.set_xlabel("seeds S")
        a.grid(True, which="both", alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylabel("seconds per seed-epoch (median, bars min–max)")
    ax.set_title("time per seed-epoch (lower is better)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    mx.set_ylabel("peak RSS of the case's own process (MiB)")
    mx.set_title("peak memory of the vmapped contenders")
    if mx.lines:
        mx.legend(fontsize=7)
    else:
        mx.text(0.5, 0.5, "peak memory needs subprocess isolation\n(run without --no-isolate)",
                ha="center", va="center", transform=mx.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_payload(records, settings, data_source, skipped, load_start, now,
                  rounds: int = 1, only=None) -> dict:
    machine = machine_info()
    roofs = [r["roofline"] for r in records if r.get("roofline")]
    roof = max(roofs, key=lambda x: x["roofline_gflops"]) if roofs else None
    n_images = settings.n_images
    return {"date": f"{now:%Y-%m-%d %H:%M}", "stem": stem(now, machine["host"], only),
            "only": only,
            "machine": machine, "settings": settings.__dict__, "n_images": n_images,
            "data_source": data_source, "skipped": skipped, "rounds": rounds, "load_start": load_start,
            "load_end": os.getloadavg(), "roofline": roof,
            "goals": [g._asdict() for g in G.check(records, roof and roof["roofline_gflops"])],
            "records": records}


if __name__ == "__main__":  # python -m benchmarks.report RESULTS.json
    import sys

    print(rewrite(sys.argv[1]))
