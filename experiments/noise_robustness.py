"""The source: test MSE of the ED=4 and ED=32 conv autoencoders under input corruptions.

The target is always the clean image. Corruptions (``nnjax.data``), as the report states
them: Gaussian noise N(0, σ), σ ∈ {0.1, 0.3, 0.5, 1, 2}, *added and not clipped*; one
14×14 square per image set to zero; uniform noise U[0, 1) added (not clipped). Each
corruption makes one corrupted copy of the test set that every run of both models sees
(paired comparison); ``predict`` reconstructs it (one compiled program per model, where
``evaluate(corrupt=...)`` would compile one per corruption and model). As a side
column, the Gaussian and uniform noises clipped to [0, 1] (what a saved image would be).
Models: conv-ae's saved final models of the same preset, else trained here.
"""
from __future__ import annotations

import functools

import jax
import numpy as np

from . import _conv_common as C
from nnjax.study import SUMMARY_HEADER, Study, summary_cells, summary_row, verdict
from nnjax import data
from nnjax.analysis import plots
from nnjax.analysis import stats
from nnjax.train import predict

SIGMAS = (0.1, 0.3, 0.5, 1.0, 2.0)
PUBLISHED = {  # Table 1 of the source: (ED=4, ED=32)
    "none": (0.026960546, 0.008543696), "N(0,0.1)": (0.027442785, 0.00962089),
    "N(0,0.3)": (0.032414775, 0.021008287), "N(0,0.5)": (0.041436195, 0.037717797),
    "N(0,1)": (0.062495653, 0.07703511), "N(0,2)": (0.08463218, 0.13436298),
    "occlusion 14x14": (0.05018206, 0.032860734), "uniform U[0,1)": (0.09382705, 0.18368684)}


def corruptions(clipped: bool = False) -> dict:
    """``{name: corrupt(key, x) or None}`` in the report's order (``clipped``: the
    additive noises clipped to [0, 1]; occlusion is unchanged)."""
    out = {"none": None}
    for s in SIGMAS:
        out[f"N(0,{s:g})"] = functools.partial(data.gaussian_noise, sigma=s, clip=clipped)
    out["occlusion 14x14"] = functools.partial(data.occlude, size=14)
    out["uniform U[0,1)"] = functools.partial(data.uniform_noise, clip=clipped)
    return out


def _corrupt(fn, key, x):
    """The corrupted test set, in slices of 1000 (image b uses the key of its slice)."""
    if fn is None:
        return x
    return np.concatenate([np.asarray(fn(jax.random.fold_in(key, b), x[i:i + 1000]))
                           for b, i in enumerate(range(0, len(x), 1000))])


def _mse(model, params, state, x_clean, x_in, show: int):
    """(R,) test MSE of the reconstructions of ``x_in`` against the clean images, and the
    reconstructions of the first 8 images by run ``show``."""
    rec = np.asarray(predict(model, params, state, x_in))
    err = np.mean(np.square(rec - x_clean[None]).reshape(rec.shape[0], -1), axis=1)
    return err, rec[show, :8]


def run(ctx) -> dict:
    train, test, _ = C.load_sets(ctx)
    models = C.get_models(ctx, train, test)
    key = jax.random.key(4)
    table, clipped, shown = {}, {}, {}
    for clip in (False, True):
        for i, (name, fn) in enumerate(corruptions(clip).items()):
            if clip and not name.startswith(("N(", "uniform")):
                continue
            xc = _corrupt(fn, jax.random.fold_in(key, i), test.x)   # same noise for both EDs
            shown[name] = [test.x[:8], np.clip(xc[:8], 0, 1)], ["clean", "corrupted"]
            for code, (model, params, state, info) in models.items():
                err, rec = _mse(model, params, state, test.x, xc, info["selected_run"])
                (clipped if clip else table)[f"ED={code} {name}"] = err
                if not clip:
                    shown[name][0].append(rec)
                    shown[name][1].append(f"ED={code} recon.\n(run {info['selected_run']})")
            if not clip:
                _grid_figure(ctx, name, *shown[name])
    _sigma_figure(ctx, table)
    summary = {k: stats.summary(v) for k, v in table.items()}
    summary.update({f"{k} (clipped)": stats.summary(v) for k, v in clipped.items()})
    return {
        "config": {**ctx.settings, "sigmas": SIGMAS, "clip": False, "occlusion": 14,
                   "uniform": [0.0, 1.0], "noise_key": 4,
                   "evaluation": "predict on one corrupted copy of the test set per corruption"},
        "models": {str(c): m[3] for c, m in models.items()},
        "runs": {k: np.asarray(v) for k, v in table.items()},
        "runs_clipped": {k: np.asarray(v) for k, v in clipped.items()},
        "summary": summary,
        "published": {f"ED={c} {n}": v[i] for n, v in PUBLISHED.items()
                      for i, c in enumerate(C.FINAL_CODES)},
        "gradcheck": {str(c): m[3].get("gradcheck", "checked in conv-ae (its results.json)")
                      for c, m in models.items()},
    }


def _grid_figure(ctx, name, rows, titles):
    slug = name.split(" ")[0].replace("(", "_").replace(",", "_").replace(")", "")
    plots.image_grid(ctx.figure(f"recon_{slug.lower()}.png"), rows, row_titles=titles,
                     title=f"{name}: clean / corrupted (shown clipped to [0,1]) /"
                           " reconstructions")


def _sigma_figure(ctx, table):
    sig = (0.0,) + SIGMAS
    names = ["none"] + [f"N(0,{s:g})" for s in SIGMAS]
    ys = {}
    for i, code in enumerate(C.FINAL_CODES):
        ys[f"ED={code} ours"] = np.stack([table[f"ED={code} {n}"] for n in names], 1)
        ys[f"ED={code} published"] = np.array([[PUBLISHED[n][i] for n in names]])
    plots.line(ctx.figure("mse_vs_sigma.png"), list(sig), ys, logy=True,
               title="test MSE (clean target) vs Gaussian noise σ (unclipped)",
               xlabel="σ", ylabel="test MSE")


def report(r: dict) -> str:
    s = r["summary"]
    lines = [SUMMARY_HEADER]
    for name in PUBLISHED:
        for i, c in enumerate(C.FINAL_CODES):
            lines.append(summary_row(f"ED={c}, {name}", s[f"ED={c} {name}"],
                                     PUBLISHED[name][i], ".5f"))
    sel = {c: r["models"][str(c)]["selected_run"] for c in C.FINAL_CODES}
    lines += ["", "One run of each model, the *selected run* (lowest final training loss; not"
              " an IQM — the source had one model):", "", "| corruption | " + " | ".join(
                  f"ED={c} ours | ED={c} published" for c in C.FINAL_CODES) + " |",
              "|---|" + "---|---|" * len(C.FINAL_CODES)]
    for name, pub in PUBLISHED.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{r['runs'][f'ED={c} {name}'][sel[c]]:.5f} | {pub[i]:.5f}"
            for i, c in enumerate(C.FINAL_CODES)) + " |")
    clip = [k for k in s if k.endswith("(clipped)")]
    if clip:
        lines += ["", "Additive noises clipped to [0, 1] (not what the source did; for comparison):",
                  "", "| corruption | " + " | ".join(f"ED={c}" for c in C.FINAL_CODES) + " |",
                  "|---|" + "---|" * len(C.FINAL_CODES)]
        for name in [n for n in PUBLISHED if n.startswith(("N(", "uniform"))]:
            lines.append(f"| {name} | " + " | ".join(
                f"{s[f'ED={c} {name} (clipped)']['iqm']:.5f}" for c in C.FINAL_CODES) + " |")
    src = "; ".join(f"ED={c}: {m['source']}, collapsed runs {int(np.sum(m['collapsed']))}/"
                    f"{len(m['collapsed'])}" for c, m in r["models"].items())
    lines += ["", "Which code does better, per corruption: ED=4 vs ED=32 by IQM, and in how many"
              " of the run pairs (every ED=4 run against every ED=32 run):", "",
              "| corruption | IQM ED=4 | IQM ED=32 | lower IQM | ED=4 lower in run pairs |"
              " published: lower |", "|---|---|---|---|---|---|"]
    for name, pub in PUBLISHED.items():
        a4, a32 = s[f"ED=4 {name}"]["iqm"], s[f"ED=32 {name}"]["iqm"]
        won, pairs = pair_wins(r, name)
        lines.append(f"| {name} | {a4:.5f} | {a32:.5f} | ED={4 if a4 < a32 else 32} |"
                     f" {won}/{pairs} | ED={4 if pub[0] < pub[1] else 32} |")
    lines += ["", f"- Models: {src}.",
              "- The source's report does not say whether noisy images were clipped; we add the"
              " noise unclipped as written (nnjax.data.corrupt), and show clipped values beside.",
              _ratio_remark(r, r['config']['final_epochs']),
              "", "Conclusions of the source:", ""] + verdicts(r)
    return "\n".join(lines)


LOW = ("none", "N(0,0.1)", "N(0,0.3)")               # the source: "under low noise"
# "when the noise is more affecting": where the source's ED=4 beat its ED=32
HEAVY = tuple(n for n, v in PUBLISHED.items() if v[0] < v[1])


def pair_wins(r: dict, name: str) -> tuple:
    """``(wins, pairs)``: of all (ED=4 run, ED=32 run) pairs, how many have ED=4 lower."""
    a4 = np.asarray(r["runs"][f"ED=4 {name}"], np.float64)
    a32 = np.asarray(r["runs"][f"ED=32 {name}"], np.float64)
    return int(np.sum(a4[:, None] < a32[None, :])), int(a4.size * a32.size)


def _compare(r: dict, names, smaller: int) -> tuple:
    """Whether ED=``smaller`` has the lower IQM under every corruption of ``names``, and
    the evidence text (IQMs and run-pair counts)."""
    s, other = r["summary"], 32 if smaller == 4 else 4
    ok, parts = True, []
    for n in names:
        mine, theirs = s[f"ED={smaller} {n}"]["iqm"], s[f"ED={other} {n}"]["iqm"]
        won, pairs = pair_wins(r, n)
        won = won if smaller == 4 else pairs - won
        ok &= mine < theirs
        parts.append(f"{n}: IQM {mine:.4f} vs {theirs:.4f}, lower in {won}/{pairs} run pairs")
    return ok, "; ".join(parts)


def verdicts(r: dict) -> list:
    """One line per conclusion of the source, computed from the results."""
    low_ok, low_ev = _compare(r, LOW, 32)
    heavy_ok, heavy_ev = _compare(r, HEAVY, 4)
    out = [verdict("under low noise ED=32 reaches a lower MSE than ED=4", low_ok,
                   f"ED=32 vs ED=4, {low_ev}."),
           verdict("when the noise is heavier, the smaller code ED=4 works better (the"
                   f" source's table: {', '.join(HEAVY)})", heavy_ok,
                   f"ED=4 vs ED=32, {heavy_ev}.")]
    failed = [n for n in HEAVY if not _compare(r, (n,), 4)[0]]
    if failed:
        n = failed[0]
        runs = {c: np.asarray(r["runs"][f"ED={c} {n}"], np.float64) for c in C.FINAL_CODES}
        clean = {c: np.asarray(r["runs"][f"ED={c} none"], np.float64) for c in C.FINAL_CODES}
        gap = abs(r["summary"][f"ED=4 {n}"]["iqm"] - r["summary"][f"ED=32 {n}"]["iqm"])
        wide = max(np.ptp(v) for v in runs.values())
        out.append(f"  Under {n} the two codes' IQMs differ by {gap:.4f}, the runs of one code"
                   f" by up to {wide:.4f} (" + "; ".join(
                       f"ED={c} runs " + ", ".join(f"{v:.4f}" for v in vals)
                       for c, vals in runs.items()) + "; clean: " + "; ".join(
                       f"ED={c} " + ", ".join(f"{v:.4f}" for v in vals)
                       for c, vals in clean.items()) + "). Hypothesis: with 2 runs per code the"
                   " ordering under this noise is decided by which run one draws (seed, when it"
                   " left the all-black plateau, ≤ "
                   f"{r['config']['final_epochs']} epochs instead of the source's ≤ 2000), not by"
                   " the code size. Not tested here: it needs more seeds of both final models"
                   " (conv-ae's timing gives the cost of one).")
    return out


def headline(r: dict) -> list:
    """IQM over seeds under the heaviest Gaussian noise and clean, both codes."""
    s, rows = r["summary"], []
    for name in ("N(0,1)", "N(0,2)", "none"):
        for i, c in enumerate(C.FINAL_CODES):
            rows.append(summary_cells(f"test MSE ED={c}, {name}, IQM over seeds",
                                      s[f"ED={c} {name}"], PUBLISHED[name][i], ".5f"))
    return rows


def _ratio_remark(r: dict, epochs: int) -> str:
    """One line: IQM ÷ published per model and kind of corruption, with every run's range."""
    gauss = [n for n in PUBLISHED if n.startswith("N(")]
    parts = []
    for i, c in enumerate(C.FINAL_CODES):
        iqm = {n: r["summary"][f"ED={c} {n}"]["iqm"] / PUBLISHED[n][i] for n in PUBLISHED}
        each = np.asarray([np.asarray(r["runs"][f"ED={c} {n}"], np.float64) / PUBLISHED[n][i]
                           for n in gauss])
        g = [iqm[n] for n in gauss]
        rest = ", ".join(f"{n.split(' ')[0]} {iqm[n]:.2f}" for n in PUBLISHED
                         if n != "none" and n not in gauss)
        parts.append(f"ED={c}: none {iqm['none']:.2f}, Gaussian {min(g):.2f}–{max(g):.2f}"
                     f" (single runs {each.min():.2f}–{each.max():.2f}), {rest}")
    return (f"- IQM ÷ published test MSE: {'; '.join(parts)}. Ours trained ≤ {epochs} epochs"
            " (published: ≤ 2000, early stopping).")


STUDY = Study("noise-robustness", "004", "Conv autoencoder under input noise (ED=4 vs ED=32)",
              C.PRESETS, run, report, default_preset="quick", headline=headline,
              full_presets=("paper",),
              cpu_devices=True)
