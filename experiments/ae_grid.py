"""The source's autoencoder grid: latent size L × depth d × loss (MSE, BCE), test MSE.

Every cell trains several seeds in one vmapped program (the source used one seed per
cell, so its depth ranking carries no measure of seed noise). BCE is real binary cross-entropy on
logits (the source's "cross-entropy" was neither); both losses report the test MSE of
the reconstruction in [0, 1] pixel space. One stored record per cell (resumable); cells
run most informative first, and an interrupt (``timeout -s INT``) keeps the finished
cells and writes a partial result with the measured cost of the rest.
"""
from __future__ import annotations

import itertools

import numpy as np

from . import _ae001_common as C
from nnjax.study import SUMMARY_HEADER, Study, summary_cells, verdict
from nnjax.analysis import plots, stats
from nnjax.models import log_widths
from nnjax.sweep import Grid

LATENTS = [4, 8, 16, 32, 64]
DEPTHS = [1, 2, 3, 4, 5]
# cpu: the d=1 row for every L, and d=5 at both ends of L (L=4 and L=64)
CPU_CELLS = [[4, 1], [8, 1], [16, 1], [32, 1], [64, 1], [4, 5], [64, 5]]
PUBLISHED = {"mse_L4": 0.037, "mse_L64_d1": 0.0045, "target_L64_best_depth": 0.0066}

PUBLISHED = {"mse_L4": 0.037, "mse_L64_d1": 0.0045}
# the source's code trains each cell once (one seed); its figure gives these two numbers

PRESETS = {
    "paper": {"latents": LATENTS, "depths": DEPTHS, "cells": None, "losses": ["mse", "bce"],
              "seeds": 3, "epochs": 200, "patience": 5, "shuffle": "shared"},
    "cpu": {"latents": LATENTS, "depths": [1, 5], "cells": CPU_CELLS,
            "losses": ["mse", "bce"], "seeds": 3, "epochs": 20, "patience": 5,
            "shuffle": "shared"},
    "quick": {"latents": [4, 64], "depths": [1], "cells": None, "losses": ["mse", "bce"],
              "seeds": 2, "epochs": 3, "patience": 5, "shuffle": "shared"},
    "tiny": {"latents": [4], "depths": [1], "cells": None, "losses": ["mse", "bce"],
             "seeds": 2, "epochs": 2, "patience": 5, "shuffle": "shared"},
}
KNN_K = 5   # the latent study's 5-NN, scored on the codes of every L=4 cell


def cells(settings) -> list:
    """The (L, d) pairs a preset trains: ``cells`` if given, else latents × depths."""
    if settings.get("cells"):
        return [tuple(c) for c in settings["cells"]]
    return list(itertools.product(settings["latents"], settings["depths"]))


def cell_name(latent, depth, loss) -> str:
    return f"L{latent}-d{depth}-{loss}"


def n_params(widths) -> int:
    """Weights and biases of the dense AE with ``widths`` (784, …, L, …, 784)."""
    return int(sum(a * b + b for a, b in zip(widths[:-1], widths[1:])))


def points_in_order(settings) -> list:
    """Every (loss, cell) point, most informative first: the cells with a published number
    (MSE at L=64,d=1 and L=4), their BCE twins, the MSE L=max column (the depth claim),
    then the rest cheapest first (parameter count), so a run cut short holds the most."""
    pts = [{"loss": loss, "cell": c} for loss in settings["losses"] for c in cells(settings)]
    top = max(settings["latents"])

    def rank(p):
        (lat, d), loss = p["cell"], p["loss"]
        if lat == min(settings["latents"]) and d == 1:     # cheapest, also the latent study's
            return (0, loss != "mse")
        if loss == "mse" and (lat, d) == (top, 1):
            return (1, 0)
        if (lat, d) == (top, 1):
            return (2, 0)
        if loss == "mse" and lat == top:
            return (3, d)
        return (4, n_params(log_widths(lat, d)))
    return sorted(pts, key=rank)


def run(ctx) -> dict:
    ds = ctx.dataset(flatten=True)
    clock = C.Clock()
    todo = points_in_order(ctx.settings)
    done, stopped = [], None
    for point in todo:
        (lat, d), loss = point["cell"], point["loss"]

        def build(point, lat=lat, d=d, loss=loss):
            cell_clock = C.Clock()
            p = C.problem(ds, lat, d, loss, ctx.settings, verify=ctx.get("verify", True),
                          checkpoint=C.checkpoint(ctx, cell_name(lat, d, loss)))

            def analyse(res):
                out = {}
                if lat == min(ctx["latents"]):       # the latent study's KNN on these codes
                    ae = C.AE(p.model, *C.halves(ds, lat, d, loss), loss, res)
                    out["knn"] = C.knn_scores(ae, ds, KNN_K)
                    if ctx.get("tsne") and d == 1 and loss == "mse":
                        out["tsne"] = tsne_figure(ctx, C.encode(ae, ds.test.x,
                                                                res.best_run("val_loss")),
                                                  ds.test.y, f"L={lat}, d={d}")
                return {**out, **cell_clock.read()}
            return p._replace(analyse=analyse)
        try:
            rec = ctx.sweep(build, Grid(static={"loss": [loss], "cell": [(lat, d)]},
                                        seeds=ctx["seeds"]))[0]
        except KeyboardInterrupt:        # `timeout -s INT`: keep the cells that finished
            stopped = cell_name(lat, d, loss)
            break
        rec.update(latent=lat, depth=d, loss=loss, **rec["analysis"])
        done.append(rec)
    summary, runs = {}, []
    for rec in done:
        name = cell_name(rec["latent"], rec["depth"], rec["loss"])
        summary[name] = stats.summary(rec["test"]["mse"])
        for i, lab in enumerate(rec["runs"]):
            runs.append({"cell": name, "latent": rec["latent"], "depth": rec["depth"],
                         "loss": rec["loss"], "seed": lab["seed"],
                         "test_mse": rec["test"]["mse"][i], "epochs_run": rec["epochs_run"][i],
                         "best_epoch": rec["best_epoch"][i],
                         **({"knn_" + k: v[i] for k, v in rec["knn"].items()}
                            if "knn" in rec else {})})
    figures(ctx, done, summary)
    per_cell = {cell_name(r["latent"], r["depth"], r["loss"]):
                {"wall_s": r["wall_s"], "cpu_s": r["cpu_s"],
                 "params": n_params(C.widths_for(ds, r["latent"], r["depth"])),
                 "epochs_run": r["epochs_run"],
                 **C.fit_info(r["info"], ("first_call_seconds", "seconds_per_epoch"))}
                for r in done}
    missing = [cell_name(p["cell"][0], p["cell"][1], p["loss"]) for p in todo
               if cell_name(p["cell"][0], p["cell"][1], p["loss"]) not in per_cell]
    timing = {"cells_cpu_s": round(sum(r["cpu_s"] for r in done), 1),
              "cells_wall_s": round(sum(r["wall_s"] for r in done), 1),
              "this_call": clock.read(), "per_cell": per_cell,
              "remaining": remaining_cost(per_cell, missing, ds, ctx["epochs"])}
    return {"config": {**dict(ctx.settings), "cells": [list(c) for c in cells(ctx.settings)],
                       "optimizer": "adam 1e-3", "batch_size": 128,
                       "early_stopping": "val_loss, best restored"},
            "order": [cell_name(p["cell"][0], p["cell"][1], p["loss"]) for p in todo],
            "complete": not missing, "interrupted_at": stopped, "missing": missing,
            "runs": runs, "summary": summary, "published": PUBLISHED, "timing": timing,
            "tsne": next((r["tsne"] for r in done if "tsne" in r), None),
            "gradcheck": C.gradcheck_summary(C.gradchecks(
                {f"{r['loss']} ({r['latent']}, {r['depth']})": r for r in done}))}


def tsne_figure(ctx, codes, y, what: str) -> dict:
    """sklearn t-SNE of every test code (N, L) of one run, its figure and its cost."""
    from sklearn.manifold import TSNE
    clock = C.Clock()
    xy = TSNE(n_components=2, perplexity=30.0, init="pca",
              random_state=0).fit_transform(np.asarray(codes, np.float64))
    cost = clock.read()
    plots.scatter_2d(ctx.figure("tsne_L4_codes_test_set.png"), xy, np.asarray(y),
                     class_names=[str(c) for c in range(10)],
                     title=f"t-SNE of the {what} codes of the whole test set ({len(codes)} images)")
    return {"points": int(len(codes)), **cost}


def full_grid_cost(results) -> str:
    """For a reduced preset: what the source's full grid (every cell at ≤200 epochs) needs,
    from this result's measured seconds per epoch (fitted linearly in the parameter count)."""
    pc = results.get("timing", {}).get("per_cell", {})
    per = {}
    for name, c in pc.items():
        lat, d = (int(t[1:]) for t in name.split("-")[:2])
        if c.get("seconds_per_epoch"):
            per[name] = {"params": n_params(log_widths(lat, d)),
                         "seconds_per_epoch": c["seconds_per_epoch"], "epochs_run": [1]}
    full = [cell_name(p["cell"][0], p["cell"][1], p["loss"])
            for p in points_in_order(PRESETS["paper"])]
    rem = remaining_cost(per, full, None, PRESETS["paper"]["epochs"])
    if rem.get("hours_bound") is None:
        return ""
    return (f"The source's full grid ({rem['cells']} cells, {PRESETS['paper']['seeds']} seeds"
            f" each, ≤{PRESETS['paper']['epochs']} epochs) needs at most"
            f" {rem['hours_bound']:.1f} h on this machine ({rem['hours_bound'] / 10:.1f} h per 20"
            " epochs every cell runs), from the seconds per epoch measured here (fitted linearly"
            " in the parameter count, under a shared load); the `paper` preset runs it,"
            " resumable, published cells first.\n")


def remaining_cost(per_cell, missing, ds, max_epochs) -> dict:
    """Hours the ``missing`` cells need, from the cells that ran: seconds per epoch fitted
    linearly in the parameter count (least squares over the measured cells), times the
    median epochs the measured cells ran (and times ``max_epochs``, the bound)."""
    if not missing:
        return {"cells": 0}
    measured = [(c["params"], c["seconds_per_epoch"], float(np.median(c["epochs_run"])))
                for c in per_cell.values() if c.get("seconds_per_epoch")]
    if len(measured) < 2:
        return {"cells": len(missing), "hours_typical": None, "hours_bound": None}
    p, s, e = (np.asarray(v, float) for v in zip(*measured))
    slope, icpt = np.polyfit(p, s, 1)
    params = []
    for name in missing:
        lat, d = (int(t[1:]) for t in name.split("-")[:2])
        params.append(n_params(C.widths_for(ds, lat, d) if ds is not None
                               else log_widths(lat, d)))
    sec = np.maximum(icpt + slope * np.asarray(params, float), s.min())
    return {"cells": len(missing), "fit_seconds_per_epoch": [float(icpt), float(slope)],
            "median_epochs_measured": float(np.median(e)),
            "hours_typical": float(sec.sum() * np.median(e) / 3600),
            "hours_bound": float(sec.sum() * max_epochs / 3600)}


def iqm_matrix(summary, settings, loss):
    lats, deps = settings["latents"], settings["depths"]
    m = np.full((len(lats), len(deps)), np.nan)
    for i, lat in enumerate(lats):
        for j, d in enumerate(deps):
            s = summary.get(cell_name(lat, d, loss))
            if s and s.get("iqm") is not None:
                m[i, j] = s["iqm"]
    return m


def figures(ctx, records, summary) -> None:
    names = {"mse": "MSE", "bce": "BCE on logits"}
    for loss in ctx["losses"]:
        plots.heatmap(ctx.figure(f"heatmap_{loss}.png"), iqm_matrix(summary, ctx.settings, loss),
                      row_labels=ctx["latents"], col_labels=ctx["depths"],
                      title=f"AE trained with {names[loss]}\ntest MSE (pixels), IQM of"
                            f" {ctx['seeds']} seeds", xlabel="depth d",
                      ylabel="latent size L", colorbar_label="test MSE")
    top, mse = max(ctx["latents"]), [r for r in records if r["loss"] == "mse"]
    if len(mse) > 9:                       # full grid: the d=1 row and the L=max column
        mse = [r for r in mse if r["latent"] == top or r["depth"] == 1]
    series = {f"L={r['latent']}, d={r['depth']}": np.asarray(r["history"]["val_mse"], float)
              for r in mse}
    if series:
        plots.curves(ctx.figure("val_mse_curves_mse.png"), series, logy=True,
                     title="AE trained with MSE: validation MSE per epoch",
                     ylabel="validation MSE")


def published_for(latent, depth, loss):
    if loss != "mse":
        return "— (the source's CE was not BCE)"
    if latent == 4:
        return "0.037 (L=4; depth not stated)"
    if (latent, depth) == (64, 1):
        return PUBLISHED["mse_L64_d1"]
    return None


def _iqm(s, lat, d, loss):
    got = s.get(cell_name(lat, d, loss))
    return None if not got or got.get("iqm") is None else got["iqm"]


def _runs_text(s, key, fmt=".5f"):
    return stats.spread_text(s[key], fmt)


def reached(summ, published: float) -> bool:
    """Our IQM is at or below ``published``, or ``published`` lies within our seeds' values."""
    vals = [v for v in summ.get("values") or () if v is not None]
    return bool(summ["iqm"] <= published or (vals and min(vals) <= published <= max(vals)))


def verdicts(results) -> list:
    """One line per conclusion of the source about its grid, computed from ``results``."""
    s, cfg = results["summary"], results["config"]
    lats, out = cfg["latents"], []
    # 1. larger L → lower test MSE, for every (depth, loss) with ≥ 2 latents run
    chains = []
    for loss in cfg["losses"]:
        for d in cfg["depths"]:
            vals = [(lat, _iqm(s, lat, d, loss)) for lat in lats]
            vals = [(lat, v) for lat, v in vals if v is not None]
            if len(vals) >= 2:
                chains.append((loss, d, vals, all(b[1] < a[1] for a, b in zip(vals, vals[1:]))))
    if chains:
        ok = all(c[3] for c in chains)
        ev = "; ".join(f"{loss.upper()} d={d}: " + " > ".join(f"{v:.5f}" for _, v in vals)
                       + f" (L={', '.join(str(lat) for lat, _ in vals)})"
                       + ("" if mono else " — not monotone")
                       for loss, d, vals, mono in chains)
        out.append(verdict("Increasing latent dimension consistently improves reconstruction"
                           " quality across both loss functions", ok, "Test MSE (IQM) " + ev + "."))
    # 2. deeper is better, depth 3–5 best
    wins = []
    for loss in cfg["losses"]:
        for lat in lats:
            got = {d: _iqm(s, lat, d, loss) for d in cfg["depths"]}
            got = {d: v for d, v in got.items() if v is not None}
            if len(got) >= 2:
                wins.append((loss, lat, min(got, key=got.get), sorted(got)))
    if wins:
        tried_deep = all(any(d >= 3 for d in w[3]) for w in wins)
        ok = all(w[2] >= 3 for w in wins)
        ev = "; ".join(f"{loss.upper()} L={lat}: best d={best} of d∈{{{', '.join(map(str, ds))}}}"
                       for loss, lat, best, ds in wins)
        hold = ok if tried_deep else (False if not ok else None)
        out.append(verdict("Deeper networks generally outperform shallow ones, with depth 3–5"
                           " showing the best results", hold,
                           f"Best depth by IQM of test MSE: {ev}"
                           + ("" if len(cfg["depths"]) == 5 and results.get("complete") else
                              "; only the depths listed ran") + "."))
    else:
        out.append(verdict("Deeper networks generally outperform shallow ones, with depth 3–5"
                           " showing the best results", None, "Only one depth ran per latent."))
    # 3. CE more sensitive to L than MSE (ratio L=min / L=max at the same depth)
    ratios = []
    for d in (cfg["depths"] if min(lats) < max(lats) else ()):
        r = {loss: (_iqm(s, min(lats), d, loss), _iqm(s, max(lats), d, loss))
             for loss in ("mse", "bce")}
        if all(a is not None and b is not None for a, b in r.values()):
            ratios.append((d, r["mse"][0] / r["mse"][1], r["bce"][0] / r["bce"][1]))
    if ratios:
        ok = all(b > m for _, m, b in ratios)
        ev = "; ".join(f"d={d}: test MSE at L={min(lats)} ÷ at L={max(lats)} = {b:.2f} (BCE)"
                       f" vs {m:.2f} (MSE)" for d, m, b in ratios)
        out.append(verdict("Cross-entropy loss is more sensitive to latent dimension size than"
                           " MSE", ok, ev + ". (Ours is real BCE on logits; the source's"
                           " \"cross-entropy\" was neither, so this tests the claim for BCE.)"))
    # 4. the published numbers
    got = _iqm(s, 64, 1, "mse")
    if got is not None:
        out.append(verdict(f"Test MSE {PUBLISHED['mse_L64_d1']} at L=64, d=1 (MSE) (criterion:"
                           " ours is lower, or the published value lies within our seeds)",
                           reached(s[cell_name(64, 1, "mse")], PUBLISHED["mse_L64_d1"]),
                           f"ours IQM {got:.5f} ({_runs_text(s, cell_name(64, 1, 'mse'))}),"
                           f" {got / PUBLISHED['mse_L64_d1']:.2f}× the published value."))
    l4 = {d: _iqm(s, 4, d, "mse") for d in cfg["depths"] if _iqm(s, 4, d, "mse") is not None}
    if l4:
        best = min(l4, key=l4.get)
        out.append(verdict(f"Test MSE {PUBLISHED['mse_L4']} at L=4 (MSE; depth not stated;"
                           " same criterion, best depth)",
                           reached(s[cell_name(4, best, "mse")], PUBLISHED["mse_L4"]),
                           "ours: " + ", ".join(f"d={d} IQM {v:.5f}" for d, v in sorted(l4.items()))
                           + "."))
    return out


def headline(results) -> list:
    """First row: test MSE at L=64, d=1 with MSE (the source's best published cell)."""
    s, rows = results["summary"], []
    order = [(64, 1, "mse")] + [(lat, d, loss) for loss in ("mse", "bce")
                                for lat, d in results["config"]["cells"]
                                if (lat, d, loss) != (64, 1, "mse")]
    for lat, d, loss in order:
        key = cell_name(lat, d, loss)
        if key in s:
            part = ("" if rows or results.get("complete", True) else
                    f" (partial grid: {len(results['order']) - len(results['missing'])} of"
                    f" {len(results['order'])} cells ran)")
            rows.append(summary_cells(f"test MSE, L={lat}, d={d}, {loss.upper()}{part}",
                                      s[key], published_for(lat, d, loss), fmt=".5f"))
    return rows


def report(results) -> str:
    cfg = results["config"]
    lines = []
    if results.get("preset") == "cpu":
        shapes = ", ".join(f"({a},{b})" for a, b in cfg["cells"])
        lines.append(C.CPU_NOTE.format(**cfg) + f" It trains {len(cfg['cells'])} of the 25"
                     f" (L, d) shapes, {shapes}, each with both losses. With"
                     f" ≤{cfg['epochs']} epochs instead of ≤200, deeper models (slower to"
                     " train) are handicapped: read the depth comparison as \"at equal epochs\".\n")
        lines.append(full_grid_cost(results))
    elif results.get("preset") == "paper":
        lines.append(f"`paper` preset: the source's protocol (≤{cfg['epochs']} epochs, patience"
                     f" {cfg['patience']} on the validation loss, best epoch restored), seeds:"
                     f" {cfg['seeds']} per cell, one batch order shared by the seeds of a cell"
                     " (`shuffle='shared'`; the source trained one seed per cell, so a shared"
                     " order changes nothing it fixed). Cells run in the order: the two with a"
                     " published number (L=4, d=1 and L=64, d=1), each with both losses, then"
                     " the MSE L=64 column, then the rest cheapest first.\n")
        lines.append(completeness(results))
    lines += ["Test MSE of the reconstruction in [0, 1] pixel space (BCE models through"
              " sigmoid), per cell over seeds:\n", SUMMARY_HEADER]
    lines += ["| " + " | ".join(r) + " |" for r in headline(results)]
    lines += ["\nThe source's conclusions, in our data:\n"] + verdicts(results)
    runs = results["runs"]
    late = sum(r["best_epoch"] >= r["epochs_run"] - 2 for r in runs)
    lines.append(f"\nEarly stopping: {sum(r['epochs_run'] < cfg['epochs'] for r in runs)} of"
                 f" {len(runs)} runs stopped before epoch {cfg['epochs']}; {late} had their"
                 " best validation loss in their last two epochs (still improving).")
    knn = [r for r in runs if "knn_their_protocol_top1" in r]
    if knn:
        lines.append(knn_note(results, knn))
    if results.get("tsne"):
        t = results["tsne"]
        lines.append(f"\nt-SNE of the L=4, d=1 (MSE) codes of the whole test set ({t['points']}"
                     f" images, best seed by validation loss; the latent study's figure):"
                     f" sklearn TSNE took {t['wall_s']} s wall, {t['cpu_s']} CPU-s under a shared"
                     " load (`tsne_L4_codes_test_set.png`).")
    tm = results.get("timing", {})
    lines.append(f"\nMachine time of the cells (summed over the stored cells, whichever call"
                 f" trained them, under a shared load): {tm.get('cells_cpu_s')} CPU-s,"
                 f" {tm.get('cells_wall_s')} s wall. Gradient check: {results['gradcheck']}.")
    lines += ["\nThe oscillation rule for discarding grid cells (a loss above 10⁻¹ or a strongly"
              " oscillating loss on a fold) is Iacovissi's grid search (conv-ae), not this"
              " report's: the \"Neural Networks\" report keeps every cell, so this grid does too.",
              "\nKnown faults of the source behind differences:",
              "- one seed per cell: a depth ranking from one seed cannot be told from seed noise;"
              " we train several seeds per cell and show every value (n < 5).",
              "- its autoencoder \"cross-entropy\" is neither cross-entropy nor BCE; our"
              " right-hand heatmap is real BCE on logits, scored by pixel MSE like the left.",
              "- its MSE gradient is not divided by the batch size (a 128× larger effective"
              " step under SGD; under Adam the scale mostly cancels)."]
    return "\n".join(lines)


def completeness(results) -> str:
    """How much of the grid ran and, from the measured per-cell cost, what the rest needs."""
    n_all = len(results["order"])
    n_done = n_all - len(results["missing"])
    if results.get("complete"):
        return f"All {n_all} cells (latent × depth × loss) ran.\n"
    rem = results["timing"]["remaining"]
    text = (f"**Partial grid**: {n_done} of {n_all} cells ran (stopped at the deadline, at"
            f" {results.get('interrupted_at')}); missing: {', '.join(results['missing'])}.")
    if rem.get("hours_typical") is not None:
        text += (f" From the cells that ran (seconds per epoch fitted linearly in the parameter"
                 f" count, measured under a shared load), the {rem['cells']} missing cells need"
                 f" ≈ {rem['hours_typical']:.1f} h at the median epochs the measured cells ran"
                 f" ({rem['median_epochs_measured']:g}), at most {rem['hours_bound']:.1f} h at"
                 f" {results['config']['epochs']} epochs, on this machine.")
    return text + "\n"


def knn_note(results, knn) -> str:
    """The latent study's 5-NN on the codes of the L=min cells (its KNN-gap hypothesis)."""
    out = []
    for name in sorted({r["cell"] for r in knn}):
        rs = [r for r in knn if r["cell"] == name]
        tp = stats.summary([r["knn_their_protocol_top1"] for r in rs])
        tt = stats.summary([r["knn_top1"] for r in rs])
        ep = ", ".join(str(r["epochs_run"]) for r in rs)
        out.append(f"{name} (epochs run: {ep}): the source's protocol (fit and score test codes)"
                   f" IQM {tp['iqm']:.4f} ({stats.spread_text(tp)}), fit train → score test"
                   f" IQM {tt['iqm']:.4f} ({stats.spread_text(tt)})")
    return ("\n5-NN top-1 on the codes of the L=4 cells (the latent study's KNN; published"
            " 0.8097 under the source's protocol): " + "; ".join(out) + ".")


STUDY = Study("ae-grid", "001", "Autoencoder grid: latent size × depth × loss", PRESETS,
              run, report, headline=headline)
