"""The source's latent-space study: reconstructions, t-SNE, KNN on codes, centroid interpolation.

Three MSE autoencoders (the source's width rule): L=32,d=5 for reconstructions; L=4,d=1
whose test codes are embedded with t-SNE and classified by a 5-NN fitted on the
*training* codes; L=64,d=5 whose class-mean codes are interpolated and decoded.
The source's "96.19%" KNN figure was the one-vs-rest mean (TP+TN)/N = 0.8 + 0.2·accuracy
of a KNN fitted and scored on the same test codes; both that protocol and its formula
are reported beside the real top-1 accuracy.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _ae001_common as C
from nnjax.study import SUMMARY_HEADER, Study, summary_cells, summary_row, verdict
from nnjax.analysis import plots, stats

ROLES = ("recon", "codes", "interp")
PRESETS = {
    "paper": {"recon": [32, 5], "codes": [4, 1], "interp": [64, 5], "seeds": 3,
              "code_seeds": 3, "epochs": 200, "patience": 5, "shuffle": "per_run",
              "knn_k": 5, "tsne_points": 10000, "short_epochs": 20},
    "cpu": {"recon": [32, 5], "codes": [4, 1], "interp": [64, 5], "seeds": 1,
            "code_seeds": 3, "epochs": 20, "code_epochs": 200, "patience": 5,
            "shuffle": "shared", "knn_k": 5, "tsne_points": 10000, "short_epochs": 20},
    "quick": {"recon": [32, 5], "codes": [4, 1], "interp": [64, 5], "seeds": 1,
              "code_seeds": 2, "epochs": 2, "patience": 5, "shuffle": "shared",
              "knn_k": 5, "tsne_points": 1000},
    "tiny": {"recon": [4, 1], "codes": [4, 1], "interp": [4, 1], "seeds": 2,
             "code_seeds": 2, "epochs": 2, "code_epochs": 3, "patience": 5, "shuffle": "shared",
             "knn_k": 5, "tsne_points": 200, "short_epochs": 1, "verify": False},
}
# the source's table: class: (TP, FP, FN, TN, one-vs-rest accuracy)
PUBLISHED_TABLE = {0: (914, 123, 66, 8897, .9811), 1: (1113, 42, 22, 8823, .9936),
                   2: (889, 172, 143, 8796, .9685), 3: (762, 330, 248, 8660, .9422),
                   4: (790, 356, 192, 8662, .9452), 5: (534, 209, 358, 8899, .9433),
                   6: (869, 146, 89, 8896, .9765), 7: (853, 118, 175, 8854, .9707),
                   8: (681, 167, 293, 8859, .9540), 9: (692, 240, 317, 8751, .9443)}
PUBLISHED = {"knn_legacy_ovr": 0.9619, "knn_top1_their_protocol": 0.8097,
             "table": PUBLISHED_TABLE}


def ovr_table(confusion) -> np.ndarray:
    """One-vs-rest counts per class from ``confusion[true, predicted]`` (K, K):
    ``(K, 4)`` int array of TP, FP, FN, TN."""
    cm = np.asarray(confusion, np.int64)
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    tn = cm.sum() - tp - fp - fn
    return np.stack([tp, fp, fn, tn], axis=1)


def legacy_ovr_accuracy(confusion) -> float:
    """The source's "accuracy": Σ_c (TP_c + TN_c) / (K·N) over one-vs-rest splits.

    For K classes this equals ``1 − 2/K + (2/K)·top1`` (0.8 + 0.2·accuracy for 10):
    8097 correct of 10 000 gives 0.96194, their "96.19%".
    """
    t = ovr_table(confusion)
    k, n = t.shape[0], int(np.asarray(confusion).sum())
    return float((t[:, 0].sum() + t[:, 3].sum()) / (k * n))


def confusion(y_true, y_pred, k: int = 10) -> np.ndarray:
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def knn(train_codes, train_y, test_codes, test_y, k: int) -> np.ndarray:
    """Confusion matrix of a k-NN classifier fitted on (train_codes, train_y)."""
    from sklearn.neighbors import KNeighborsClassifier
    clf = KNeighborsClassifier(n_neighbors=k).fit(train_codes, train_y)
    return confusion(test_y, clf.predict(test_codes))


def train_models(ctx, ds) -> dict:
    """One fit per distinct (L, d) shape; the codes model gets ``code_seeds`` seeds and
    ``code_epochs`` (default ``epochs``) epochs at most."""
    shapes = {}
    for role in ROLES:
        shapes.setdefault(tuple(ctx[role]), []).append(role)
    out = {}
    for (lat, d), roles in shapes.items():
        codes = "codes" in roles
        seeds = max(ctx["code_seeds"] if codes else 1, ctx["seeds"])
        epochs = ctx.get("code_epochs", ctx["epochs"]) if codes else ctx["epochs"]
        ae = C.train_ae(ctx, ds, lat, d, "mse", seeds=seeds, epochs=epochs)
        for role in roles:
            out[role] = ae
    return out


def short_codes(ctx, ds) -> Optional[dict]:
    """The KNN-gap hypothesis: the same code model stopped at ``short_epochs`` (the earlier
    preset's budget); its test MSE and 5-NN top-1 under both protocols, per seed."""
    if not ctx.get("short_epochs"):
        return None
    lat, d = ctx["codes"]
    ae = C.train_ae(ctx, ds, lat, d, "mse", seeds=ctx["code_seeds"], epochs=ctx["short_epochs"])
    return {"max_epochs": int(ctx["short_epochs"]), "epochs_run": C.run_metrics(ae)["epochs_run"],
            "test_mse": [float(v) for v in ae.res.test["mse"]],
            **C.knn_scores(ae, ds, ctx["knn_k"])}


def run(ctx) -> dict:
    ds = ctx.dataset(flatten=True)
    clock = C.Clock()
    models = train_models(ctx, ds)
    train_clock = clock.read()
    best = {role: ae.res.best_run("val_loss") for role, ae in models.items()}
    runs, summary, infos = [], {}, []
    for role, ae in models.items():
        lat, d = ctx[role]
        metrics = C.run_metrics(ae)
        for i, seed in enumerate(metrics["seed"]):
            runs.append({"role": role, "latent": lat, "depth": d, "seed": seed,
                         "test_mse": float(metrics["test_mse"][i]),
                         "epochs_run": int(metrics["epochs_run"][i])})
        summary[f"test_mse_{role}_L{lat}_d{d}"] = stats.summary(metrics["test_mse"])
        infos.append(C.fit_info(ae.res.info))

    # reconstructions (one test image per digit, then the next ten test images)
    rec = models["recon"]
    idx = np.concatenate([C.one_per_class(ds.test.y), np.arange(10)])
    x = ds.test.x[idx]
    plots.image_grid(ctx.figure("reconstructions.png"),
                     [x[:10], C.reconstruct(rec, x[:10], best["recon"]), x[10:],
                      C.reconstruct(rec, x[10:], best["recon"])],
                     row_titles=["original", "recon.", "original", "recon."],
                     title=f"Test images and reconstructions, L={ctx['recon'][0]},"
                           f" d={ctx['recon'][1]} (best of {rec.res.n_runs} by val loss)")

    # codes: KNN per seed (fitted on training codes), t-SNE of the best run
    codes_ae = models["codes"]
    tr_codes, te_codes = C.encode(codes_ae, ds.train.x), C.encode(codes_ae, ds.test.x)
    k = ctx["knn_k"]
    knn_runs = []
    for r in range(codes_ae.res.n_runs):
        cm = knn(tr_codes[r], ds.train.y, te_codes[r], ds.test.y, k)
        cm_leak = knn(te_codes[r], ds.test.y, te_codes[r], ds.test.y, k)   # the source's protocol
        knn_runs.append({"seed": int(codes_ae.res.runs.seed[r]), "confusion": cm,
                         "top1": float(np.trace(cm) / cm.sum()),
                         "legacy_ovr": legacy_ovr_accuracy(cm),
                         "their_protocol_top1": float(np.trace(cm_leak) / cm_leak.sum()),
                         "their_protocol_legacy_ovr": legacy_ovr_accuracy(cm_leak)})
    for key in ("top1", "legacy_ovr", "their_protocol_top1", "their_protocol_legacy_ovr"):
        summary[f"knn_{key}"] = stats.summary([kr[key] for kr in knn_runs])
    b = best["codes"]
    cm_best = knn_runs[b]["confusion"]
    plots.confusion_matrix(ctx.figure("knn_confusion.png"), cm_best, list(ds.class_names),
                           title=f"{k}-NN on L={ctx['codes'][0]} codes (fit: train, score: test)")
    tsne = tsne_figure(ctx, te_codes[b], ds.test.y)
    short = short_codes(ctx, ds)

    # class-centroid interpolation (centroids of the test codes)
    same = models["interp"] is codes_ae
    codes_i = te_codes if same else C.encode(models["interp"], ds.test.x)
    interp = interpolation_figures(ctx, models["interp"], best["interp"], codes_i, ds.test.y)
    return {"config": dict(ctx.settings), "runs": runs, "summary": summary,
            "published": PUBLISHED, "gradcheck": C.gradcheck_summary(C.gradchecks(dict(enumerate(infos)))),
            "knn": {"k": k, "best_run": b, "runs": knn_runs,
                    "table_best_run": ovr_table(cm_best)},
            "tsne": tsne, "interpolation": interp, "short_codes": short,
            "code_epochs_run": [int(e) for e in codes_ae.res.epochs_run],
            "timing": {"training": train_clock, "total": clock.read(), "fits": infos}}


def tsne_figure(ctx, codes, y) -> dict:
    from sklearn.manifold import TSNE
    n = min(int(ctx["tsne_points"]), len(codes))
    pick = (np.arange(n) if n == len(codes) else
            np.sort(np.random.default_rng(0).choice(len(codes), n, replace=False)))
    clock = C.Clock()
    xy = TSNE(n_components=2, perplexity=min(30.0, n / 4), init="pca",
              random_state=0).fit_transform(np.asarray(codes[pick], np.float64))
    plots.scatter_2d(ctx.figure("tsne_codes.png"), xy, y[pick],
                     class_names=[str(c) for c in range(10)],
                     title=f"t-SNE of L={codes.shape[1]} test codes"
                           + (" (the whole test set)" if n == len(codes) else
                              f" ({n} random test images)"))
    return {"points": n, "of": len(codes), "subsample_seed": 0, **clock.read()}


def interpolation_figures(ctx, ae, run, codes, y) -> dict:
    """Rows i → i+1 of decoded interpolations and the 10×10 grid of decoded midpoints of
    the class-mean codes (``codes``: (R, N, L) test codes of ``ae``; one decode call)."""
    codes = codes[run]
    cent = np.stack([codes[y == c].mean(axis=0) for c in range(10)])
    ts = np.linspace(0.0, 1.0, 9)
    lines = np.stack([(1 - ts[:, None]) * cent[c] + ts[:, None] * cent[(c + 1) % 10]
                      for c in range(10)])                                # (10, 9, L)
    mid = (cent[:, None, :] + cent[None, :, :]) / 2                       # (10, 10, L)
    images = C.decode(ae, np.concatenate([lines.reshape(90, -1), mid.reshape(100, -1)]), run)
    rows, grid = images[:90].reshape(10, 9, -1), images[90:].reshape(10, 10, -1)
    plots.image_grid(ctx.figure("interpolation.png"), list(rows),
                     row_titles=[f"{c}→{(c + 1) % 10}" for c in range(10)],
                     col_titles=[f"t={t:.2f}" for t in ts],
                     title=f"Decoded (1−t)·centroid_i + t·centroid_i+1, L={ctx['interp'][0]},"
                           f" d={ctx['interp'][1]}")
    plots.image_grid(ctx.figure("centroid_grid.png"), list(grid),
                     row_titles=[str(c) for c in range(10)],
                     col_titles=[str(c) for c in range(10)],
                     title="Decoded midpoints of class-centroid codes (diagonal: centroids)")
    return {"centroids_from": "test codes", "steps": len(ts)}


def _row(label, summ, published, fmt=".4f"):
    return summary_cells(label, summ, published, fmt)


def headline(results) -> list:
    """First row: 5-NN top-1 on the L=4 codes under the source's protocol (its 80.97%)."""
    s, cfg = results["summary"], results["config"]
    rows = [_row("5-NN top-1 on L=4 codes, the source's protocol (fit & score test codes)",
                 s["knn_their_protocol_top1"], PUBLISHED["knn_top1_their_protocol"]),
            _row("… the source's one-vs-rest figure of it", s["knn_their_protocol_legacy_ovr"],
                 PUBLISHED["knn_legacy_ovr"]),
            _row("5-NN top-1 on L=4 codes, fit train codes → score test", s["knn_top1"], None)]
    for role in ROLES:
        lat, d = cfg[role]
        rows.append(_row(f"test MSE, L={lat}, d={d} ({role})",
                         s[f"test_mse_{role}_L{lat}_d{d}"], None, ".5f"))
    return rows


def recall(cm) -> np.ndarray:
    cm = np.asarray(cm, float)
    return np.diag(cm) / cm.sum(axis=1)


def within(summ, published: float) -> bool:
    """Our IQM is at or above ``published``, or ``published`` lies within our seeds' values."""
    vals = [v for v in summ.get("values") or () if v is not None]
    return bool(summ["iqm"] >= published or (vals and min(vals) <= published <= max(vals)))


def verdicts(results) -> list:
    """One line per conclusion of the source about its latent space, from ``results``."""
    s, kn = results["summary"], results["knn"]
    out = []
    tp = s["knn_their_protocol_top1"]
    out.append(verdict("A 5-NN on the L=4 codes is accurate: \"96.19%\" (= 8097/10000 correct,"
                       " fitted and scored on the test codes; criterion: ours at least that, or"
                       " it lies within our seeds)",
                       within(tp, PUBLISHED["knn_top1_their_protocol"]),
                       f"ours under that protocol IQM {tp['iqm']:.4f} ({stats.spread_text(tp)})"
                       f" against {PUBLISHED['knn_top1_their_protocol']}; fitted on the training"
                       f" codes and scored on the test codes IQM {s['knn_top1']['iqm']:.4f}."
                       " \"96.19%\" is the one-vs-rest mean 0.8 + 0.2·accuracy, not an accuracy."))
    rec = np.mean([recall(r["confusion"]) for r in kn["runs"]], axis=0)     # per class, mean
    order = np.argsort(rec)
    low = set(order[:4].tolist())
    out.append(verdict("\"1\" is classified best, the ambiguous \"5\" and \"3\" worse (criterion: 1"
                       " has the highest per-class recall, 5 and 3 are among the four lowest)",
                       bool(order[-1] == 1 and {3, 5} <= low),
                       "per-class recall (mean over seeds, fit train → score test): "
                       + ", ".join(f"{c}: {rec[c]:.3f}" for c in order[::-1]) + "."))
    conf = np.sum([np.asarray(r["confusion"], float) for r in kn["runs"]], axis=0)
    np.fill_diagonal(conf, 0)
    sym = conf + conf.T
    near = {c: int(np.argmax(sym[c])) for c in range(10)}
    ok = near[4] == 9 and near[9] == 4 and all(near[c] in {3, 5, 8} for c in (3, 5, 8))
    out.append(verdict("Similar digits (4–9, 3–5–8) lie close in the latent space (criterion: in"
                       " the 5-NN's confusions, 4 and 9 are each other's most confused class and"
                       " 3, 5, 8 are most confused within {3, 5, 8})", ok,
                       "most confused class: " + ", ".join(f"{c}→{near[c]}" for c in range(10))
                       + " (both directions, summed over seeds)."))
    out.append(verdict("The latent space is continuous and semantically organised (centroid"
                       " interpolation)", None, "qualitative: see the interpolation figures."))
    return out


def knn_cause(results) -> str:
    """The gap to the source's 80.97%: the same code model stopped at fewer epochs."""
    sh, s, cfg = results.get("short_codes"), results["summary"], results["config"]
    if not sh:
        lat, d = cfg["codes"]
        m = s[f"test_mse_codes_L{lat}_d{d}"]
        ep = sorted({r["epochs_run"] for r in results["runs"] if r["role"] == "codes"})
        return (f"\nWhy ours differs from the source's 0.8097 under its own protocol: this L={lat}"
                f" code model stopped at ≤{cfg.get('code_epochs', cfg['epochs'])} epochs (epochs"
                f" run: {', '.join(map(str, ep))}; the source allowed ≤200 with patience 5) and"
                f" reconstructs at test MSE IQM {m['iqm']:.5f} against the source's 0.037 for"
                " L=4: its codes are less trained. The ae-grid section scores the same 5-NN,"
                " under both protocols, on the codes of its L=4, d=1 cells trained with the"
                " source's early stopping, which measures how much of the gap the epochs"
                " explain; this study's `cpu` preset now trains its code model that way and adds"
                " a ≤20-epoch twin, so a rerun states the cause here.")
    a, b = stats.summary(sh["their_protocol_top1"]), s["knn_their_protocol_top1"]
    ma, mb = stats.summary(sh["test_mse"]), s[f"test_mse_codes_L{results['config']['codes'][0]}"
                                             f"_d{results['config']['codes'][1]}"]
    ep = results.get("code_epochs_run") or []
    better = b["iqm"] > a["iqm"]
    return (f"\nWhy ours differs from the source's 0.8097 (same protocol): the L=4 code model"
            f" stopped at ≤{sh['max_epochs']} epochs (epochs run: {', '.join(map(str, sh['epochs_run']))})"
            f" reconstructs at test MSE IQM {ma['iqm']:.5f} and scores IQM {a['iqm']:.4f}"
            f" ({stats.spread_text(a)}); trained with early stopping (epochs run:"
            f" {', '.join(map(str, ep))}) it reconstructs at {mb['iqm']:.5f} and scores"
            f" {b['iqm']:.4f} ({stats.spread_text(b)}): more training "
            + ("raises" if better else "does not raise") + " the KNN accuracy, so the number of"
            " epochs " + ("explains" if better else "does not explain") + " the gap"
            + (f" ({'closed' if b['iqm'] >= PUBLISHED['knn_top1_their_protocol'] else 'narrowed, not closed'})"
               if better else "") + ". (The source trained one seed; ours show every seed.)")


def report(results) -> str:
    s, cfg = results["summary"], results["config"]
    lines = []
    if results.get("preset") == "cpu":
        lines.append(C.CPU_NOTE.format(**cfg) + f" The L=4 code model has {cfg['code_seeds']}"
                     f" seeds and early stopping at ≤{cfg.get('code_epochs', cfg['epochs'])}"
                     " epochs (the source: ≤200); the two d=5 models one seed each.\n")
    lines += [SUMMARY_HEADER] + ["| " + " | ".join(r) + " |" for r in headline(results)]
    lines.append(summary_row("… the one-vs-rest figure of it",
                             s["knn_legacy_ovr"], PUBLISHED["knn_legacy_ovr"]))
    lines += ["\nThe source's conclusions, in our data:\n"] + verdicts(results)
    lines.append(knn_cause(results))
    kn = results["knn"]
    t = np.asarray(kn["table_best_run"])
    n = int(t[0].sum())
    lines += [f"\nPer class, best run by validation loss (seed {kn['runs'][kn['best_run']]['seed']}),"
              " KNN fitted on training codes, scored on the test codes; published beside:\n",
              "| class | TP | FP | FN | TN | (TP+TN)/N | published TP/FP/FN/TN | published |",
              "|---|---|---|---|---|---|---|---|"]
    for c, row in enumerate(t):
        p = PUBLISHED_TABLE.get(c)
        pub = "/".join(map(str, p[:4])) if p else "—"
        lines.append(f"| {c} | {' | '.join(str(int(v)) for v in row)} | {(row[0] + row[3]) / n:.4f}"
                     f" | {pub} | {p[4] if p else '—'} |")
    tot = t.sum(axis=0)
    lines.append(f"| total | {' | '.join(str(int(v)) for v in tot)} |"
                 f" {(tot[0] + tot[3]) / (len(t) * n):.4f} | 8097/1903/1903/88097 | 0.9619 |")
    ts = results["tsne"]
    whole = ts["points"] == ts.get("of", 10000)
    lines += [f"\nt-SNE: {'the whole test set' if whole else 'random test codes (seed 0)'},"
              f" {ts['points']} codes, in {ts['wall_s']} s wall / {ts['cpu_s']} CPU-s (sklearn"
              " TSNE, under a shared load). Centroids: means of the"
              f" {results['interpolation']['centroids_from']}.",
              "\nKnown faults of the source behind differences:",
              "- its \"96.19%\" is Σ(TP+TN)/(10·N) over one-vs-rest splits = 0.8 + 0.2·accuracy;"
              " the real top-1 accuracy was 80.97%, and its KNN was fitted and scored on the same"
              " test codes (each point is its own nearest neighbour); ours fits on training"
              " codes and reports top-1, with the legacy figure beside it.",
              "- one seed: we train several seeds for the L=4 code model and show every value."]
    return "\n".join(lines)


STUDY = Study("ae-latent", "001", "Autoencoder latent space: t-SNE, KNN, interpolation",
              PRESETS, run, report, headline=headline)
