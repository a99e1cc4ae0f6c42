"""The source, question 2: a feed-forward classifier with BatchNorm and Dropout on Fashion-MNIST.

784-512-BN-ReLU-Dropout(0.2)-256-BN-ReLU-Dropout(0.2)-128-ReLU-10, softmax
cross-entropy, Adam 1e-3, batch 128, 50 epochs; trained on all 60 000 training images
(the report has no validation set), evaluated on the 10 000 test images. Several seeds
train in one program. Figures: accuracy and loss curves (train-mode epoch means, and the
test set per epoch for monitoring only), the confusion matrix summed over all runs, and
misclassified test images captioned "predicted / true".
"""
from __future__ import annotations

import numpy as np

from . import _fmnist_common as common
from ._common import median_run
from nnjax.study import SUMMARY_HEADER, Study, summary_cells, table_row, verdict
from nnjax import layers as L
from nnjax.analysis import plots
from nnjax.analysis import stats
from nnjax.train.evaluate import evaluate, predict
from nnjax.train import TrainConfig

PUBLISHED = {"test_accuracy": 0.9010, "train_accuracy_last_epoch": 0.9688,
             "train_loss_last_epoch": 0.0804}
# the report's training log (one run, train-mode epoch means), epochs 1..50
PUBLISHED_LOG = {
    "loss": (0.4855, 0.3606, 0.3213, 0.3004, 0.2824, 0.2692, 0.2549, 0.2460, 0.2360, 0.2263,
             0.2175, 0.2097, 0.2021, 0.1929, 0.1885, 0.1811, 0.1748, 0.1715, 0.1635, 0.1581,
             0.1547, 0.1505, 0.1449, 0.1416, 0.1339, 0.1333, 0.1285, 0.1280, 0.1248, 0.1183,
             0.1161, 0.1135, 0.1106, 0.1091, 0.1073, 0.1023, 0.1004, 0.1007, 0.0961, 0.0943,
             0.0926, 0.0897, 0.0912, 0.0869, 0.0876, 0.0832, 0.0819, 0.0851, 0.0780, 0.0804),
    "accuracy": (0.8269, 0.8691, 0.8807, 0.8882, 0.8937, 0.8993, 0.9033, 0.9082, 0.9124,
                 0.9153, 0.9171, 0.9206, 0.9226, 0.9267, 0.9292, 0.9308, 0.9338, 0.9346,
                 0.9383, 0.9402, 0.9414, 0.9417, 0.9446, 0.9459, 0.9496, 0.9494, 0.9504,
                 0.9511, 0.9527, 0.9540, 0.9554, 0.9569, 0.9581, 0.9576, 0.9591, 0.9613,
                 0.9621, 0.9617, 0.9633, 0.9640, 0.9654, 0.9660, 0.9658, 0.9674, 0.9665,
                 0.9677, 0.9694, 0.9688, 0.9710, 0.9688),
}


def classifier(widths=(512, 256, 128), n_out: int = 10, dropout: float = 0.2) -> L.Layer:
    """Linear → BN → ReLU → Dropout, twice, then Linear → ReLU, then Linear (logits).
    Input (N, D) → (N, n_out)."""
    a, b, c = widths
    return L.Sequential(L.Linear(a), L.BatchNorm(), L.ReLU(), L.Dropout(dropout),
                        L.Linear(b), L.BatchNorm(), L.ReLU(), L.Dropout(dropout),
                        L.Linear(c), L.ReLU(), L.Linear(n_out))


def confusion(pred: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """``cm[true, predicted]`` counts; ``pred`` (R, N) summed over runs."""
    cm = np.zeros((k, k), np.int64)
    for p in np.atleast_2d(pred):
        np.add.at(cm, (y, p), 1)
    return cm


def top_confusions(cm, names, n: int = 4) -> list:
    off = cm.astype(np.float64).copy()
    np.fill_diagonal(off, -1)
    order = np.argsort(off, axis=None)[::-1][:n]
    return [{"true": names[i], "predicted": names[j], "count": int(cm[i, j])}
            for i, j in zip(*np.unravel_index(order, cm.shape))]


def run(ctx) -> dict:
    d = common.load(ctx)
    s = ctx.settings
    k = len(d.class_names)
    model = classifier(s["widths"], k, s["dropout"])
    cfg = TrainConfig(epochs=s["epochs"], batch_size=s["batch_size"], optimizer="adam",
                      learning_rate=s["lr"], loss="softmax_cross_entropy",
                      shuffle=s.get("shuffle", "per_run"))
    test = (d.x_test, d.y_test)
    res = ctx.fit("fmnist-ffnn", model, cfg, (d.x_train, d.y_train), test, test,
                  runs=s["seeds"])
    h = res.history
    test_acc = np.asarray(res.test["accuracy"], np.float64)
    test_loss = np.asarray(res.test["loss"], np.float64)
    train_eval = evaluate(model, cfg, res.params, res.model_state, d.x_train, d.y_train)

    title = f"Fashion-MNIST FFNN, {res.n_runs} seeds"
    e = h["train_loss"].shape[1]
    for metric, key, ylabel in (("accuracy", "accuracy", "accuracy"),
                                ("loss", "loss", "cross-entropy")):
        plots.curves(ctx.figure(f"ffnn_{metric}.png"),
                     {"train (train mode, epoch mean)": h[f"train_{key}"],
                      "test (monitoring only)": h[f"val_{key}"],
                      "published train (report's log, 1 run)":
                          np.asarray(PUBLISHED_LOG[key][:e], np.float64)},
                     title=title, ylabel=ylabel)

    logits = np.asarray(predict(model, res.params, res.model_state, d.x_test))
    pred = logits.argmax(-1)                                         # (R, N)
    cm = confusion(pred, d.y_test, k)
    plots.confusion_matrix(ctx.figure("confusion_matrix.png"), cm, d.class_names,
                           title=f"Test confusion matrix, summed over {res.n_runs} runs")

    show = median_run(test_acc)
    wrong = np.flatnonzero(pred[show] != d.y_test)[:s["n_wrong"]]
    caps = [f"{d.class_names[pred[show, i]]} /\n{d.class_names[d.y_test[i]]}" for i in wrong]
    plots.captioned_images(ctx.figure("misclassified.png"), d.x_test[wrong], caps,
                          title=f"Misclassified test images, predicted / true (seed"
                                f" {res.runs.seed[show]}, the median run: test accuracy"
                                f" {test_acc[show]:.4f}; the first {len(wrong)})")
    names = ("train_accuracy_last_epoch", "train_loss_last_epoch")
    last = {n: h[n.replace("_last_epoch", "")][:, -1].astype(np.float64) for n in names}
    runs = [{"seed": int(sd), "test_accuracy": float(a), "test_loss": float(tl),
             "train_accuracy_eval": float(te), **{n: float(last[n][i]) for n in names}}
            for i, (sd, a, tl, te) in enumerate(zip(res.runs.seed, test_acc, test_loss,
                                                    train_eval["accuracy"]))]
    return {
        "config": {"layers": model.name, "loss": "softmax_cross_entropy", "optimizer": "adam",
                   "lr": s["lr"], "batch_size": s["batch_size"], "epochs": s["epochs"],
                   "seeds": s["seeds"], "data": d.name, "n_train": len(d.x_train),
                   "n_test": len(d.x_test), "validation": None, "shuffle": cfg.shuffle},
        "runs": runs,
        "summary": {"test_accuracy": stats.summary(test_acc),
                    "test_loss": stats.summary(test_loss),
                    "train_accuracy_eval": stats.summary(train_eval["accuracy"]),
                    **{n: stats.summary(last[n]) for n in names}},
        "published": PUBLISHED,
        "gradcheck": res.info["gradcheck"],
        "timing": {k: res.info.get(k) for k in
                   ("first_call_seconds", "seconds_per_epoch", "train_seconds")},
        "confusion_matrix": cm, "confusion_runs": res.n_runs,
        "top_confusions": top_confusions(cm, d.class_names),
        "misclassified_run": int(show), "history": h,
    }


def curve_notes(h) -> dict:
    """Largest gap between our IQM train curves and the report's log; where the IQM
    test loss was lowest and its accuracy there (overfitting shows as a rising loss)."""
    tl = stats.iqm(np.asarray(h["val_loss"], np.float64), axis=0, nan_policy="omit")
    ta = stats.iqm(np.asarray(h["val_accuracy"], np.float64), axis=0, nan_policy="omit")
    best = int(np.nanargmin(tl))
    out = {"best_test_loss_epoch": best + 1, "min_test_loss": float(tl[best]),
           "test_acc_at_min_loss": float(ta[best]), "last_test_loss": float(tl[-1]),
           "last_test_acc": float(ta[-1])}
    for key in ("accuracy", "loss"):
        ours = stats.iqm(np.asarray(h[f"train_{key}"], np.float64), axis=0, nan_policy="omit")
        n = min(len(ours), len(PUBLISHED_LOG[key]))
        out[f"log_gap_{key}"] = float(np.max(np.abs(ours[:n] - PUBLISHED_LOG[key][:n])))
    return out


def headline(r: dict) -> list:
    """Test accuracy (the result), the training accuracy and loss, the test loss."""
    s = r["summary"]
    return [
        summary_cells("test accuracy", s["test_accuracy"], PUBLISHED["test_accuracy"]),
        summary_cells("train accuracy, last epoch (train mode, epoch mean)",
                      s["train_accuracy_last_epoch"], PUBLISHED["train_accuracy_last_epoch"]),
        summary_cells("train accuracy, eval mode after training", s["train_accuracy_eval"],
                      "— (report: \"over 97%\" in train mode)"),
        summary_cells("train loss, last epoch (train mode)", s["train_loss_last_epoch"],
                      PUBLISHED["train_loss_last_epoch"]),
        summary_cells("test loss", s["test_loss"]),
    ]


def report(r: dict) -> str:
    c = r["config"]
    cn = curve_notes(r["history"])
    up = cn["last_test_acc"] >= cn["test_acc_at_min_loss"]
    conf = ", ".join(f"{t['true']} → {t['predicted']} ({t['count']})"
                     for t in r["top_confusions"])
    lines = [
        f"784-512-BN-ReLU-Drop(0.2)-256-BN-ReLU-Drop(0.2)-128-ReLU-10, softmax cross-entropy,"
        f" Adam {c['lr']}, batch {c['batch_size']}, {c['epochs']} epochs, {c['seeds']} seeds"
        f" in one program; trained on all {c['n_train']} training images, no validation set"
        f" (as in the report); test = the {c['n_test']} test images, evaluated with BatchNorm"
        " running statistics and dropout off. Test numbers are those of the last epoch"
        " (nothing selected on the test set).\n",
        SUMMARY_HEADER,
        *(table_row(row) for row in headline(r)),
        "",
        f"Training curves: our IQM train-mode accuracy and loss follow the report's log"
        f" (one run) to within {cn['log_gap_accuracy']:.4f} and {cn['log_gap_loss']:.4f} at"
        f" every epoch. The test loss is lowest at epoch {cn['best_test_loss_epoch']}"
        f" ({cn['min_test_loss']:.3f}, test accuracy {cn['test_acc_at_min_loss']:.4f}) and"
        f" rises to {cn['last_test_loss']:.3f} by the last epoch while test accuracy"
        f" {'still creeps up' if up else 'falls'} (to {cn['last_test_acc']:.4f}): the"
        " network grows over-confident on the examples it gets wrong (the report trains a"
        " fixed 50 epochs without a validation set, and so do we).",
        "",
        f"Confusion matrix: summed over all {r['confusion_runs']} runs (there is no"
        f" validation set to pick a best run by). Most frequent confusions (true → predicted,"
        f" counts over all runs): {conf}. The report names Shirt vs T-shirt and Coat vs"
        " Pullover. Misclassified examples are from the run with the median test accuracy.",
        "",
        "Conclusions of the source:",
        "",
        *verdicts(r),
    ]
    return "\n".join(lines)


NAMED_PAIRS = (("Shirt", "T-shirt/top"), ("Coat", "Pullover"))   # the report's observation


def pair_ranking(cm, names) -> list:
    """Unordered class pairs by confusions both ways, most first: [((a, b), count)]."""
    cm = np.asarray(cm, np.int64)
    pairs = [((names[i], names[j]), int(cm[i, j] + cm[j, i]))
             for i in range(len(names)) for j in range(i + 1, len(names))]
    return sorted(pairs, key=lambda p: -p[1])


def verdicts(r: dict) -> list:
    """One line per conclusion of the source, computed from the results."""
    from nnjax.data.registry import FASHION_MNIST
    s = r["summary"]
    acc, tr = s["test_accuracy"], s["train_accuracy_last_epoch"]
    pub = PUBLISHED["test_accuracy"]
    inside = acc["n"] >= 5 and acc["ci_low"] <= pub <= acc["ci_high"]
    rank = pair_ranking(r["confusion_matrix"], FASHION_MNIST.class_names)
    where = {frozenset(p): (i + 1, c) for i, (p, c) in enumerate(rank)}
    named = [where[frozenset(p)] for p in NAMED_PAIRS]
    top = len(NAMED_PAIRS)
    return [
        verdict(f"test accuracy {pub}", inside,
                f"ours: IQM {acc['iqm']:.4f}, {stats.spread_text(acc)} (95% CI of the IQM for"
                f" n ≥ 5); the published value is {'inside' if inside else 'outside'} it."),
        verdict("training accuracy reaches over 97%", tr["iqm"] > 0.97,
                f"last-epoch train-mode accuracy IQM {tr['iqm']:.4f}"
                f" ({stats.spread_text(tr)}); published last epoch"
                f" {PUBLISHED['train_accuracy_last_epoch']}."),
        verdict("most confusion occurs between Shirt vs T-shirt and Coat vs Pullover",
                all(i <= top for i, _ in named),
                "class pairs ranked by confusions both ways, summed over all runs: " + "; ".join(
                    f"{a} / {b}: rank {i} ({c})" for (a, b), (i, c) in zip(NAMED_PAIRS, named))
                + "; the top " + str(top) + ": " + "; ".join(
                    f"{a} / {b} ({c})" for (a, b), c in rank[:top]) + "."),
    ]


PRESETS = {
    "paper": {"seeds": 5, "epochs": 50, "batch_size": 128, "lr": 1e-3,
              "widths": (512, 256, 128), "dropout": 0.2, "n_wrong": 24},
    "quick": {"seeds": 2, "epochs": 2, "batch_size": 128, "lr": 1e-3,
              "widths": (512, 256, 128), "dropout": 0.2, "n_wrong": 24},
    "tiny": {"seeds": 2, "epochs": 3, "batch_size": 64, "lr": 1e-3,
             "widths": (32, 16, 16), "dropout": 0.2, "n_wrong": 8},
}

STUDY = Study("fmnist-ffnn", "002", "Fashion-MNIST feed-forward classifier (BN + dropout)",
              PRESETS, run, report, headline=headline,
              full_presets=("paper",))
