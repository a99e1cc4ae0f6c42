"""The source's hyperparameter sweeps of the MNIST MLP: activation, batch size, hidden
widths, optimizer; ≤50 epochs with early stopping (patience 5 on validation accuracy,
best epoch restored), 15 seeds per configuration, each configuration one program.

Configurations shared between sweeps (ReLU = batch 128 = Adam = the base model) run
once. SGD and SGD with momentum 0.9 are one program: the engine's ``"momentum"``
optimizer with a traced momentum of 0 is plain SGD (``v = 0·v + g``; checked below
and in the tests), so the 30 runs train together.

The `cpu` preset also trains the deviation test of the source's damped softmax gradient
(``_source_faults.py``: its SGD numbers with our exact gradient vs with its own) and runs
the batch-size sweep with a per-run batch order; the other sweeps keep one order shared by
the seeds of a program and come from the earlier `cpu` run's store. Configurations are
stored under a key naming everything that decides them (``store/configs``), so presets
share finished configurations; :func:`remaining` estimates from the measured costs what
the `paper` preset still needs.
"""
from __future__ import annotations

import numpy as np

from . import _mlp_common as C
from . import _source_faults as faults
from . import _sweeps_verdicts as V
from nnjax.study import SUMMARY_HEADER, Context, Study, summary_row, verdict
from nnjax.models import mlp
from nnjax.analysis import plots, stats
from ._common import Clock
from nnjax.sweep import Grid, Problem
from nnjax.train import EarlyStopping, TrainConfig, fit, make_runs

# IQM of test accuracy over 15 seeds (REFERENCE.md); Q1–Q3 where published.
PUBLISHED = {
    "activation": {"TanH": (.9711, .9705, .9721), "Sigmoid": (.9600, .9589, .9610),
                   "ReLU": (.9710, .9703, .9718)},
    "batch size": {"8": .9535, "16": .9620, "32": .9702, "64": .9716, "128": .9710, "256": .9692},
    "hidden [h,h]": {"16": .9456, "32": .9628, "64": .9714, "128": .9763},
    "optimizer": {"SGD lr .01": .9074, "SGD momentum .9 lr .01": .9599, "Adam 1e-3": .9710},
}
ACT_NAMES = {"tanh": "TanH", "sigmoid": "Sigmoid", "relu": "ReLU"}
OPT_NAMES = {"sgd": "SGD lr .01", "momentum": "SGD momentum .9 lr .01", "adam": "Adam 1e-3"}
# the deviation test: the optimizer sweep's SGD boxes trained with the source's gradient
SOURCE_SWEEP = "deviation test: SGD with the source's damped softmax gradient"
SOURCE_NAMES = {"sgd": "SGD lr .01, damped gradient",
                "momentum": "SGD momentum .9 lr .01, damped gradient"}
PUBLISHED[SOURCE_SWEEP] = {SOURCE_NAMES[o]: PUBLISHED["optimizer"][OPT_NAMES[o]]
                           for o in SOURCE_NAMES}
# the batch sweep with one shared batch order (the earlier `cpu` run, fewer seeds for the
# small batches), shown beside the per-run one where that did not run every batch size
SHARED_BATCH = "batch size, shared order"
PUBLISHED[SHARED_BATCH] = PUBLISHED["batch size"]
FIGURES = {SHARED_BATCH: "boxplot_batch_shared.png", SOURCE_SWEEP: "boxplot_deviation.png"}
LOSSES = {"exact": None, "source_damped": faults.damped_softmax_cross_entropy}

_ALL = {"activations": ["tanh", "sigmoid", "relu"], "batch_sizes": [8, 16, 32, 64, 128, 256],
        "hidden": [16, 32, 64, 128], "optimizers": ["sgd", "momentum", "adam"]}
PRESETS = {
    "paper": {"seeds": 15, "epochs": 50, "patience": 5, "shuffle": "per_run", **_ALL},
    # on a 2-core CPU: the batch-size sweep as the paper (15 seeds, an independent batch
    # order per run); the other sweeps with one batch order per epoch shared by the seeds
    # of a program (faster on CPU), read from the earlier `cpu` run's store where it holds
    # the same configuration; plus the deviation test of the source's damped gradient
    "cpu": {"seeds": 15, "epochs": 50, "patience": 5, "shuffle": "shared",
            "batch_shuffle": "per_run", "source_gradient": True, "source_gradient_seeds": 5,
            "legacy_store": "cpu", **_ALL,
            "shared_batch_sizes": [8, 16, 32, 64, 128, 256],
            "shared_seeds_by_batch": {"8": 5, "16": 5, "32": 10}},
    # a look at every sweep in about two minutes: 3 seeds, 2 epochs, 5 configurations
    "quick": {"seeds": 3, "epochs": 2, "patience": 5, "shuffle": "shared",
              "activations": ["sigmoid", "relu"], "batch_sizes": [128, 256],
              "hidden": [128], "optimizers": ["sgd", "momentum", "adam"]},
    "tiny": {"seeds": 2, "epochs": 6, "patience": 2, "shuffle": "shared",
             "activations": ["tanh", "relu"], "batch_sizes": [128], "hidden": [16],
             "optimizers": ["sgd", "momentum", "adam"]},
}


def _point(s, **change) -> dict:
    p = {"activation": "relu", "hidden": list(C.HIDDEN), "batch_size": 128, "optimizer": "adam",
         "shuffle": s["shuffle"], "loss": "exact"}
    p.update(change)
    if p["optimizer"] in ("sgd", "momentum"):
        p["optimizer"] = "sgd+momentum"        # one program: momentum ∈ {0, 0.9}
    return p


def _key(p: dict, s) -> str:
    """A configuration's store key: everything that decides its runs (the loss only when
    it is not the exact one, so that earlier keys stay valid)."""
    h = "x".join(map(str, p["hidden"]))
    return (f"act={p['activation']},hidden={h},batch={p['batch_size']},opt={p['optimizer']}"
            f",seeds={p['seeds']},epochs={s['epochs']},patience={s['patience']},"
            f"shuffle={p['shuffle']}" + ("" if p["loss"] == "exact" else f",loss={p['loss']}"))


def plan(s) -> tuple:
    """``({sweep: [(label, config key, momentum or None)]}, {config key: point})``: where
    each box's runs come from (the SGD boxes filter the shared program by momentum) and
    the distinct configurations to train, in the order they run: the deviation test, then
    the batch-size sweep (the sizes the source's claims need first), then the rest."""
    points = {}

    def k(seeds=None, by_batch=None, **change):
        p = _point(s, **change)
        fewer = (by_batch or s.get("seeds_by_batch", {})).get(str(p["batch_size"]), s["seeds"])
        p["seeds"] = min(s["seeds"], int(fewer), seeds or s["seeds"])
        key = _key(p, s)
        points.setdefault(key, p)
        return key
    mom = {"sgd": 0.0, "momentum": 0.9}
    batch_shuffle = s.get("batch_shuffle", s["shuffle"])
    boxes = {}
    if s.get("source_gradient"):
        boxes[SOURCE_SWEEP] = [(SOURCE_NAMES[o], k(optimizer=o, loss="source_damped",
                                                   seeds=s.get("source_gradient_seeds")),
                                mom[o]) for o in SOURCE_NAMES]
    # the batch sizes the source's claims are about first: the base 128, then the small
    # batches ("less stable": per-run order is what can make them so), 64 ("64-128 best"),
    # the costly 8, 256 ("slightly worse"), 32 (no claim) last
    rank = {128: 0, 16: 1, 64: 2, 8: 3, 256: 4, 32: 5}
    boxes["batch size"] = [(str(b), k(batch_size=b, shuffle=batch_shuffle), None)
                           for b in sorted(s["batch_sizes"], key=lambda b: rank.get(b, 6))]
    if s.get("shared_batch_sizes"):
        boxes[SHARED_BATCH] = [(str(b), k(batch_size=b, by_batch=s.get("shared_seeds_by_batch")),
                                None) for b in s["shared_batch_sizes"]]
    boxes.update({
        "activation": [(ACT_NAMES[a], k(activation=a), None) for a in s["activations"]],
        "hidden [h,h]": [(str(h), k(hidden=[h, h]), None) for h in s["hidden"]],
        "optimizer": [(OPT_NAMES[o], k(optimizer=o), mom.get(o)) for o in s["optimizers"]],
    })
    boxes["batch size"].sort(key=lambda box: int(box[0]))
    order = {name: i for i, name in enumerate(
        [SOURCE_SWEEP, "batch size", SHARED_BATCH, "activation", "hidden [h,h]",
         "optimizer"])}
    return ({name: boxes[name] for name in sorted(boxes, key=order.get)}, points)


def _problem(p: dict, s, ds, verify: bool) -> tuple:
    """``(Grid, Problem)`` of one configuration: SGD's two momenta share one program."""
    sgd = p["optimizer"] == "sgd+momentum"
    loss = LOSSES[p["loss"]]
    cfg = TrainConfig(epochs=s["epochs"], batch_size=p["batch_size"],
                      optimizer="momentum" if sgd else "adam",
                      learning_rate=0.01 if sgd else 1e-3, shuffle=p["shuffle"],
                      early_stopping=EarlyStopping("val_accuracy", patience=s["patience"],
                                                   restore_best=True),
                      **({} if loss is None else {"loss": loss}))
    grid = Grid(static={k: [v] for k, v in p.items() if k != "seeds"},
                vmapped={"momentum": [0.0, 0.9]} if sgd else {}, seeds=p["seeds"])
    clock = Clock()
    # the source's damped gradient is not the derivative of the loss: no gradient check
    problem = Problem(mlp(p["hidden"], 10, p["activation"]), cfg, ds.train, ds.val, ds.test,
                      fit_kwargs={"verify": verify and loss is None},
                      analyse=lambda res: clock.read())
    return grid, problem


def sgd_equals_momentum0(ds) -> float:
    """Max |Δθ| between ``optimizer="sgd"`` and ``"momentum"`` with momentum 0 (1 epoch,
    the first 2048 training images, 2 seeds, shared order): 0.0 means bitwise equal."""
    sub = (ds.train.x[:2048], ds.train.y[:2048])
    cfg = TrainConfig(epochs=1, batch_size=128, learning_rate=0.01, optimizer="sgd",
                      shuffle="shared")
    model = mlp(C.HIDDEN, 10)
    a = fit(model, cfg, sub, runs=2, verify=False, progress=False).params
    b = fit(model, cfg.replace(optimizer="momentum"), sub, verify=False, progress=False,
            runs=make_runs(2, momentum=[0.0])).params
    import jax
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _runs_of(rec, mom) -> list:
    """Indices of a record's runs in one box (all, or those with this momentum)."""
    return [i for i, lab in enumerate(rec["runs"]) if mom is None or lab["momentum"] == mom]


LEGACY_FIELDS = ("runs", "test_accuracy", "best_epoch", "epochs_run", "history", "gradcheck",
                 "timing")


def _stores(ctx: Context) -> tuple:
    """``(store, legacy)``: where configurations are trained into, and the earlier `cpu`
    run's store (records of the same configuration keys, an older record layout) or None.

    The store is keyed by the full configuration (:func:`_key`), so it is one folder for
    every preset (``store/configs``; ``store/configs-tiny`` for the 8×8 digits): a preset
    that drops a configuration still finds the others."""
    from nnjax.results import ResultStore
    store = ResultStore(ctx.out / "store" / ("configs-tiny" if ctx.tiny else "configs"))
    name = ctx.get("legacy_store")
    legacy = None if ctx.tiny or not name else ResultStore(ctx.out / "store" / name)
    return store, legacy


def run(ctx: Context) -> dict:
    from nnjax.sweep import sweep as run_sweep
    s = ctx.settings
    ds = ctx.dataset("mnist", flatten=True)
    boxes, points = plan(s)
    store, legacy = _stores(ctx)
    verified = set()                   # a model (activation, widths) is checked once
    records = {}
    for key, p in points.items():
        if legacy is not None and legacy.has(key):
            records[key] = {k: legacy.load(key)[k] for k in LEGACY_FIELDS}
            records[key]["from"] = f"store/{s['legacy_store']}"
            continue
        mkey = (p["activation"], tuple(p["hidden"]))
        grid, problem = _problem(p, s, ds, verify=mkey not in verified)
        rec = run_sweep(lambda point: problem, grid, store, name=key,
                        fit_kwargs={"progress": ctx.progress}, epoch_log=ctx.epoch_log)[0]
        if p["loss"] == "exact":
            verified.add(mkey)
        info = rec["info"]
        records[key] = {"runs": rec["runs"], "test_accuracy": rec["test"]["accuracy"],
                        "best_epoch": rec["best_epoch"], "epochs_run": rec["epochs_run"],
                        "history": rec["history"], "gradcheck": info["gradcheck"],
                        "timing": C.timing(info, rec["analysis"]["wall_s"],
                                           rec["analysis"]["cpu_s"]),
                        "from": "this run"}
    reference = {}
    if legacy is not None:          # every earlier measurement, for the cost estimate
        for key, rec in legacy.records().items():
            if isinstance(rec, dict) and {"point", "timing", "epochs_run"} <= set(rec):
                shuffle = "per_run" if "shuffle=per_run" in key else "shared"
                reference[key] = {"point": {**rec["point"], "shuffle": shuffle, "loss": "exact"},
                                  "timing": rec["timing"], "epochs_run": rec["epochs_run"]}
    results, figures = {}, {}
    for sweep, entries in boxes.items():
        rows, groups = [], {}
        for label, key, mom in entries:
            rec = records[key]
            keep = _runs_of(rec, mom)
            acc = np.asarray(rec["test_accuracy"], np.float64)[keep]
            groups[label] = acc
            pub = PUBLISHED[sweep][label]
            lo, hi = (pub[1], pub[2]) if isinstance(pub, tuple) else (pub, pub)
            summ = stats.summary(acc)
            rows.append({"label": label, "config": key, "summary": summ,
                         "published": pub, "verdict": C.verdict(summ, lo, hi),
                         "seeds": [rec["runs"][i]["seed"] for i in keep],
                         "best_epoch": [int(rec["best_epoch"][i]) for i in keep],
                         "epochs_run": [int(rec["epochs_run"][i]) for i in keep]})
        results[sweep] = rows
        name = FIGURES.get(sweep, "boxplot_" + sweep.split()[0] + ".png")
        pub_iqm = {lab: (v[0] if isinstance(v, tuple) else v) for lab, v in PUBLISHED[sweep].items()}
        plots.boxplot(ctx.figure(name), groups, published=pub_iqm, ylabel="test accuracy",
                      title=f"{sweep}: test accuracy of each seed (best epoch restored)")
        figures[sweep] = name
    opt = {lab: np.asarray(records[key]["history"]["val_accuracy"], np.float64)[_runs_of(records[key], mom)]
           for lab, key, mom in boxes["optimizer"]}
    plots.curves(ctx.figure("val_accuracy_optimizer.png"), opt, ylabel="validation accuracy",
                 title="optimizer sweep (runs drop out when they stop early)")
    return {
        "config": {"base": "784-64-32-10 ReLU, softmax CE, Adam 1e-3, batch 128",
                   "early_stopping": f"patience {s['patience']} on val accuracy, best restored",
                   **{k: s[k] for k in ("seeds", "epochs", "shuffle")},
                   "batch_shuffle": s.get("batch_shuffle", s["shuffle"]),
                   "source_gradient": bool(s.get("source_gradient")),
                   "legacy_store": s.get("legacy_store"),
                   "seeds_by_batch": dict(s.get("seeds_by_batch", {}))},
        "runs": {key: {"labels": r["runs"], "test_accuracy": r["test_accuracy"],
                       "best_epoch": r["best_epoch"], "epochs_run": r["epochs_run"],
                       "point": points[key], "from": r["from"]}
                 for key, r in records.items()},
        "summary": {f"{sweep}/{row['label']}": row["summary"]
                    for sweep, rows in results.items() for row in rows},
        "sweeps": results, "figures_by_sweep": figures,
        "published": {k: {lab: list(v) if isinstance(v, tuple) else v for lab, v in d.items()}
                      for k, d in PUBLISHED.items()},
        "gradcheck": {key: r["gradcheck"] for key, r in records.items()},
        "timing": {key: r["timing"] for key, r in records.items()},
        "reference_costs": reference,
        "sgd_equals_momentum0_max_abs_diff": sgd_equals_momentum0(ds),
    }


def _pub(v) -> str:
    return f"{v[0]:.4f} [{v[1]:.4f}–{v[2]:.4f}]" if isinstance(v, (list, tuple)) else f"{v:.4f}"


def _box(r, sweep, label):
    return next((row for row in r["sweeps"].get(sweep, []) if row["label"] == label), None)


def _order_text(r, key) -> str:
    run = r["runs"][key]
    shuffle = (run.get("point") or {}).get("shuffle", r["config"]["shuffle"])
    return "per-run" if shuffle == "per_run" else "shared"


def _cost(timing, epochs_run, what="cpu_seconds"):
    """Measured seconds per run-epoch of a program (``what``: CPU or wall seconds of the
    whole call, compile included, over the epochs its runs trained)."""
    if not timing or not timing.get(what):
        return None
    return timing[what] / max(1, int(np.sum(epochs_run)))


def _cost_per_run_epoch(r, key, what="cpu_seconds"):
    return _cost(r["timing"].get(key), r["runs"][key]["epochs_run"], what)


def _measured(r) -> dict:
    """Every measured program: ``{key: (point, timing, epochs_run)}`` of this run's
    configurations and of the reference records (the earlier store's, also those this
    run's preset did not use)."""
    out = {key: (run.get("point"), r["timing"].get(key), run["epochs_run"])
           for key, run in r["runs"].items()}
    for key, ref in (r.get("reference_costs") or {}).items():
        out.setdefault(key, (ref["point"], ref["timing"], ref["epochs_run"]))
    return {k: v for k, v in out.items() if v[0]}


def _what(p) -> tuple:
    return (p["activation"], tuple(p["hidden"]), p["batch_size"], p["optimizer"])


def remaining(r) -> dict:
    """What the `paper` preset still needs beyond this run, estimated from measured cost.

    For every configuration of the paper preset (15 seeds, per-run order) that this run
    did not train: the same configuration's measured shared-order cost per run-epoch ×
    the per-run/shared cost ratio measured here (median over the batch sizes trained both
    ways) × 15 runs × the mean epochs its shared-order runs trained (early stopping).
    Returns ``{"configs": [keys], "ratio", "cpu_hours", "wall_hours", "missing_basis"}``."""
    _, paper = plan(PRESETS["paper"])
    measured = _measured(r)
    shared = {_what(p): key for key, (p, _, _) in measured.items()
              if p.get("shuffle") == "shared" and p.get("loss", "exact") == "exact"}
    ratios = {w: [] for w in ("cpu_seconds", "wall_seconds")}
    for key, (p, t, ep) in measured.items():
        twin = shared.get(_what(p)) if p.get("shuffle") == "per_run" else None
        for w in ratios:
            a = _cost(t, ep, w)
            b = twin and _cost(measured[twin][1], measured[twin][2], w)
            if a and b:
                ratios[w].append(a / b)
    todo = [k for k in paper if k not in r["runs"]]
    out = {"configs": todo, "missing_basis": [], "cpu_hours": 0.0, "wall_hours": 0.0,
           "ratio": {w: (float(np.median(v)) if v else None) for w, v in ratios.items()}}
    for key in todo:
        p = paper[key]
        twin = shared.get(_what(p))
        if twin is None or None in out["ratio"].values():
            out["missing_basis"].append(key)
            continue
        _, t, ep = measured[twin]
        epochs = float(np.mean(ep)) * p["seeds"]
        for w, name in (("cpu_seconds", "cpu_hours"), ("wall_seconds", "wall_hours")):
            out[name] += _cost(t, ep, w) * out["ratio"][w] * epochs / 3600
    return out


def _base_key(r) -> str:
    """The paper protocol's base configuration (ReLU, batch 128, Adam) in this run: the
    batch sweep's 128 box (per-run order where that sweep ran so)."""
    return next(row for row in r["sweeps"]["batch size"] if row["label"] == "128")


def headline(r: dict) -> list:
    rows = []
    base = _base_key(r) if "batch size" in r["sweeps"] and any(
        row["label"] == "128" for row in r["sweeps"]["batch size"]) else None
    if base is not None:
        rows.append(V.headline_row(
            f"base model (ReLU, batch 128, Adam; {_order_text(r, base['config'])} batch order):"
            " test accuracy", base["summary"], base["published"]))
    for sweep, entries in r["sweeps"].items():
        for row in entries:
            rows.append(V.headline_row(f"{sweep}: {row['label']}", row["summary"],
                                       _pub_iqm(row["published"])))
    return rows


def _pub_iqm(v) -> float:
    return v[0] if isinstance(v, (list, tuple)) else v


def _deviation_lines(r) -> list:
    dev = {row["label"]: row for row in r["sweeps"].get(SOURCE_SWEEP, [])}
    ours = {row["label"]: row for row in r["sweeps"].get("optimizer", [])}
    lines = []
    for o in ("sgd", "momentum"):
        d, e = dev.get(SOURCE_NAMES[o]), ours.get(OPT_NAMES[o])
        if d is None or e is None:
            continue
        pub = _pub_iqm(d["published"])
        lo, hi, kind = V.interval(d["summary"])
        closer = abs(d["summary"]["iqm"] - pub) < abs(e["summary"]["iqm"] - pub)
        lines.append(verdict(
            f"Hypothesis: the source's {OPT_NAMES[o]} result ({pub:.4f}) comes from its damped"
            " softmax gradient", lo <= pub <= hi,
            f"with the damped gradient {V.show('', d['summary']).strip()}, with ours"
            f" {V.show('', e['summary']).strip()}; the damped runs are "
            + ("closer to" if closer else "no closer to") + " the published value; holds when"
            f" the published value lies in the damped runs' {kind}."))
        lines.append(verdict(
            f"The damping lowers {OPT_NAMES[o]}", V.above(e["summary"], d["summary"]),
            f"exact {e['summary']['iqm']:.4f} vs damped {d['summary']['iqm']:.4f} (intervals"
            + (" apart)." if V.above(e["summary"], d["summary"]) else " overlap or reversed).")))
    return lines


def report(r: dict) -> str:
    c = r["config"]
    fewer = c.get("seeds_by_batch") or {}
    out = [f"Up to {c['seeds']} seeds per configuration"
           + (" (" + ", ".join(f"{n} for batch {b}" for b, n in fewer.items()) + ")" if fewer else "")
           + f", ≤{c['epochs']} epochs, {c['early_stopping']}. Each value: the test accuracy"
           " of a run's restored best epoch. \"vs published\": our Q1–Q3 against the published"
           " Q1–Q3 (activation) or the published IQM (the others).", ""]
    orders = {sweep: sorted({_order_text(r, row["config"]) for row in rows})
              for sweep, rows in r["sweeps"].items()}
    out += ["Batch order per sweep: " + "; ".join(f"{sweep}: {' and '.join(o)}"
                                                   for sweep, o in orders.items())
            + ". Per-run: every run draws its own order (the source's protocol); shared: one"
            " order per epoch for all runs of a program, the seeds differ in initialisation"
            " only (faster on CPU)."]
    old = sorted({r["runs"][k]["from"] for k in r["runs"] if r["runs"][k].get("from") not in
                  (None, "this run")})
    if old:
        n_old = sum(1 for k in r["runs"] if r["runs"][k].get("from") in old)
        out[-1] += (f" {n_old} configurations were read from {', '.join(f'`{o}`' for o in old)}"
                    " (the earlier `cpu` run of the same configurations, same code path, an"
                    " older record layout) instead of being trained again.")
    out += ["", "**The source's conclusions in our data** (\"clearly/significantly better\":"
            " the 95% CIs of the IQMs apart; with fewer than 5 runs the runs' range; stability:"
            " the interquartile range over seeds):", ""] + V.conclusions(r) + [""]
    dev = _deviation_lines(r)
    if dev:
        out += [f"**{SOURCE_SWEEP}** (REFERENCE.md: the source's softmax backward keeps only"
                " the Jacobian's diagonal and its cross-entropy gradient is pushed through it"
                " again: every gradient is damped by p(1−p)). The optimizer sweep's SGD"
                " configurations trained again with that gradient"
                " (`experiments/_source_faults.py`; no gradient check, it is not the loss's"
                " derivative):", ""] + dev + [""]
    header = SUMMARY_HEADER.replace("| published |", "| published | vs published |") \
        .replace("|---|---|---|---|---|", "|---|---|---|---|---|---|")
    for sweep, rows in r["sweeps"].items():
        out += [f"**{sweep}** (figure `{r['figures_by_sweep'][sweep]}`)", "", header]
        for row in rows:
            ep = np.asarray(row["best_epoch"]) + 1
            label = (f"{row['label']} ({_order_text(r, row['config'])} order; best epoch:"
                     f" median {np.median(ep):.0f})")
            out.append(summary_row(label, row["summary"], _pub(row["published"]))
                       + f" {row['verdict']} |")
        out.append("")
    below = [f"{sweep} {row['label']}" for sweep, rows in r["sweeps"].items() for row in rows
             if row["verdict"] == "below"]
    out.append("Below the published range: " + (", ".join(below) if below else "none") + ".")
    base = {_order_text(r, row["config"]): row for sweep in ("batch size", "activation")
            for row in r["sweeps"].get(sweep, []) if row["label"] in ("128", "ReLU")}
    if len(base) == 2:
        a, b = base["per-run"]["summary"], base["shared"]["summary"]
        out += ["", "The base model (ReLU, batch 128, Adam) with both batch orders: per-run"
                f" {V.show('', a).strip()}, IQR {V.iqr(a):.4f}; shared {V.show('', b).strip()},"
                f" IQR {V.iqr(b):.4f}. The activation and optimizer sweeps show the shared-order"
                " runs, the batch sweep the per-run ones."]
    else:
        out += ["", "ReLU, batch 128 and Adam 1e-3 are the same configuration (the base model),"
                " trained once and shown in three sweeps."]
    sgd = _box(r, "optimizer", OPT_NAMES["sgd"])
    if sgd is not None and min(sgd["epochs_run"]) >= c["epochs"]:
        med = np.median(np.asarray(sgd["best_epoch"]) + 1)
        out[-1] += (f" Plain SGD never stopped early: every run reached the {c['epochs']}-epoch"
                    f" limit (best epoch: median {med:.0f}), so its number is set by that limit"
                    " (as it was for the source).")
    d = r["sgd_equals_momentum0_max_abs_diff"]
    out += ["", f"SGD and SGD+momentum share one program: `optimizer=\"momentum\"` with a"
            f" traced momentum 0 gave parameters equal to plain `\"sgd\"` (max |Δθ| = {d:g}"
            " after one epoch).", "", "Time per configuration (wall on a shared, loaded machine;"
            " CPU seconds of this process; first call = compile + first epoch; s/epoch for all"
            " runs of the program together; s per run-epoch = CPU s / the epochs all its runs"
            " trained):", "",
            "| configuration | runs | epochs (max over runs) | wall s | CPU s | first call s"
            " | s/epoch | CPU s per run-epoch |",
            "|---|---|---|---|---|---|---|---|"]
    for key, t in r["timing"].items():
        e = max(r["runs"][key]["epochs_run"])
        per = _cost_per_run_epoch(r, key)
        out.append(f"| {key.split(',seeds=')[0]}, {_order_text(r, key)} order"
                   + (", damped gradient" if "loss=source_damped" in key else "")
                   + f" | {len(r['runs'][key]['labels'])} | {e}"
                   f" | {t['wall_seconds']} | {t['cpu_seconds']} | {t['first_call_seconds']}"
                   f" | {t['seconds_per_epoch']} | {'—' if per is None else format(per, '.2f')} |")
    total = sum(t["cpu_seconds"] for t in r["timing"].values())
    out += ["", f"Total: {total:.0f} CPU seconds of training over {len(r['timing'])} programs."
            " A run that stops early is dropped from the program (compaction), so a program"
            " costs about the epochs its runs trained."]
    rest = remaining(r)
    if rest["configs"] and not r.get("tiny") and r.get("preset") != "paper":
        ratio = rest["ratio"]
        out += ["", f"**Not run: {len(rest['configs'])} configurations of the `paper` preset**"
                " (15 seeds, per-run order): " + "; ".join(k.split(",seeds=")[0]
                                                         for k in rest["configs"]) + "."]
        if ratio["cpu_seconds"] is not None:
            out[-1] += (f" Estimated from this run's measurements (the same configurations'"
                        f" shared-order cost per run-epoch × the per-run/shared ratio measured"
                        f" here, {ratio['cpu_seconds']:.2f} in CPU s and"
                        f" {ratio['wall_seconds']:.2f} in wall s, × 15 runs × their mean epochs):"
                        f" **{rest['cpu_hours']:.1f} CPU hours, {rest['wall_hours']:.1f} hours"
                        " wall** at this run's load.")
        if rest["missing_basis"]:
            out[-1] += (f" No measurement to estimate {len(rest['missing_basis'])} of them.")
    out += ["", "Known faults of the source behind differences:",
            f"- {C.FAULT_SOFTMAX} Plain SGD feels the damping fully; Adam divides each"
            " parameter's step by its own gradient scale, which hides much of a uniform damping."
            " The deviation test above trains the source's gradient to measure it."]
    out.append(f"- {C.FAULT_IQM} It cannot explain gaps larger than the spread of the runs.")
    return "\n".join(out)


def _hi(pub) -> float:
    return pub[2] if isinstance(pub, (list, tuple)) else pub


STUDY = Study(name="mnist-sweeps", seed_report="001",
              title="MNIST MLP sweeps: activation, batch size, hidden width, optimizer",
              presets=PRESETS, run=run, report=report, default_preset="quick",
              headline=headline, full_presets=("paper",))
