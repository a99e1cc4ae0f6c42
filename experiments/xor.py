"""The source, XOR: four blobs at (±3, ±3), a 2-8-1 sigmoid network.

Each run draws its own 400 training and 400 held-out points (``nnjax.data.xor_blobs``)
and trains Linear(8) → Sigmoid → Linear(1) with binary cross-entropy on the output logit,
SGD lr 0.01, batch 32, 256 epochs, 25 runs. Two configurations on the same seeds and data:

* ``lr 0.01 (stated)``: the stated configuration on the batch-mean loss (correct
  gradients): the study's result;
* the deviation test: the same lr 0.01 on the source's gradient, which is not divided by
  the batch size (its MSE gradient, REFERENCE.md; its report's cross-entropy gradient
  ``ŷ − y``), i.e. 32× our step on a full batch of 32 (16× on the last batch of 16). The
  hypothesis: this, not the stated step, is why the source converged within 256 epochs.
"""
from __future__ import annotations

import functools

import jax
import numpy as np

from . import _source_faults as faults
from . import _toy_common as toy
from nnjax.study import Study, summary_cells, verdict
from nnjax import data
from nnjax import layers as L
from nnjax import losses
from nnjax.train.config import config_dict
from nnjax.train import TrainConfig

PUBLISHED = {"accuracy": 0.9993, "loss": 0.0079}
MODEL = L.Sequential(L.Linear(8), L.Sigmoid(), L.Linear(1), toy.BinaryLogit())
BASE = {"n": 400, "n_test": 400, "batch_size": 32, "lr": 0.01, "source_gradient": True}
PRESETS = {
    "paper": {"seeds": 25, "epochs": 256, **BASE},
    "quick": {"seeds": 10, "epochs": 256, **BASE},
    "tiny": {"seeds": 2, "epochs": 3, **BASE, "n": 64, "n_test": 32},
}
STATED = "lr 0.01 (stated)"
SOURCE = "lr 0.01 on the batch-sum gradient (the source's; deviation test)"
SLUGS = {STATED: "_stated", SOURCE: "_source_gradient"}
# a linear boundary gets at most 3 of the 4 quadrants right; "captures the XOR pattern"
# = all four quadrants: one missed quadrant costs a quarter of the points
ALL_QUADRANTS = 0.95


@functools.partial(jax.jit, static_argnums=(1, 2), compiler_options=toy.FAST_COMPILE)
def _make(key, n, n_test):
    k_train, k_test = jax.random.split(key)
    return data.xor_blobs(k_train, n), data.xor_blobs(k_test, n_test), ()


def config(s, loss=losses.softmax_cross_entropy) -> TrainConfig:
    return TrainConfig(epochs=s["epochs"], batch_size=s["batch_size"], optimizer="sgd",
                       learning_rate=s["lr"], loss=loss, epochs_per_call=s["epochs"])


def run(ctx) -> dict:
    s = ctx.settings
    seeds = list(range(s["seeds"]))

    def make(k):
        return _make(k, s["n"], s["n_test"])
    cfg = config(s)
    res = [toy.fit_per_run(MODEL, cfg, seeds, make, progress=ctx.progress)]
    labels = [STATED]
    if s.get("source_gradient"):
        # not the derivative of the loss value: no gradient check (the model's backward is
        # checked by the first fit)
        src = config(s, faults.batch_sum(losses.softmax_cross_entropy))
        res.append(toy.fit_per_run(MODEL, src, seeds, make, progress=ctx.progress,
                                   verify=False))
        labels.append(SOURCE)
    res = toy.join_configurations(*res)
    out = toy.classification_outputs(ctx, MODEL, res, labels, "XOR, 2-8-1 sigmoid network",
                                     PUBLISHED, slug=lambda c: SLUGS[labels[c]])
    out["config"] = {**s, "model": "Linear(8) → Sigmoid → Linear(1) → logit z; BCE on z"
                                   " (as softmax CE over [0, z])",
                     "data": "xor_blobs(key, n): unit-variance blobs at (±3, ±3);"
                             " own data per run",
                     "configurations": labels,
                     "train_config": config_dict(cfg)}
    return out


def _acc(results, label) -> np.ndarray:
    return np.array([r["train_accuracy"] for r in results["runs"]
                     if r["configuration"] == label])


def _show(s) -> str:
    ci = (f"95% CI {s['ci_low']:.4f}–{s['ci_high']:.4f}" if s.get("ci_low") is not None
          else f"n={s['n']}")
    return f"IQM {s['iqm']:.4f} ({ci})"


def _inside(s, value) -> bool:
    lo, hi = (s["ci_low"], s["ci_high"]) if s.get("ci_low") is not None else (s["min"], s["max"])
    return lo <= value <= hi


def conclusions(results: dict) -> list:
    """The source's claims about XOR, each tested per configuration that ran."""
    pub, summ = results["published"], results["summary"]
    lines = []
    for label in (STATED, SOURCE):
        if label not in summ:
            continue
        s, acc = summ[label], _acc(results, label)
        worst = float(acc.min())
        share = float(np.mean(acc >= ALL_QUADRANTS))
        lines.append(verdict(
            f"[{label}] the model successfully learns a non-linear decision boundary; both"
            " median and worst models capture the XOR pattern", worst >= ALL_QUADRANTS,
            f"train accuracy {_show(s['train_accuracy'])}; worst run {worst:.4f}; runs with"
            f" all four quadrants right (accuracy ≥ {ALL_QUADRANTS}): {100 * share:.0f}%"
            " (a linear boundary reaches at most 0.75)."))
        lines.append(verdict(
            f"[{label}] accuracy IQM {pub['accuracy']} and loss IQM {pub['loss']} after"
            f" {results['config']['epochs']} epochs",
            _inside(s["train_accuracy"], pub["accuracy"]) and _inside(s["train_loss"], pub["loss"]),
            f"ours: accuracy {_show(s['train_accuracy'])}, loss {_show(s['train_loss'])}; holds"
            " when both published values lie in our intervals."))
    if STATED in summ and SOURCE in summ:
        a, b = summ[STATED]["train_accuracy"], summ[SOURCE]["train_accuracy"]
        gap_stated = abs(a["iqm"] - pub["accuracy"])
        gap_source = abs(b["iqm"] - pub["accuracy"])
        lines.append(verdict(
            "Deviation test, hypothesis: the published convergence comes from the source's"
            " unnormalised gradient (lr 0.01 on the batch sum), not the stated step",
            gap_source < gap_stated and not _inside(a, pub["accuracy"]),
            f"distance of the accuracy IQM from the published {pub['accuracy']}: stated"
            f" {gap_stated:.4f}, source's gradient {gap_source:.4f}; the stated step's"
            " interval " + ("contains" if _inside(a, pub["accuracy"]) else "excludes")
            + " the published value."))
    return lines


def headline(results: dict) -> list:
    """The stated configuration first (the result), the deviation test labelled."""
    rows = []
    pub = results["published"]
    for label in (STATED, SOURCE):
        s = results["summary"].get(label)
        if s is None:
            continue
        for metric, key in (("train accuracy", "train_accuracy"), ("train loss (BCE)", "train_loss")):
            rows.append(summary_cells(f"{label}: {metric}", s[key],
                                      pub["accuracy" if key == "train_accuracy" else "loss"]))
    return rows


def report(results: dict) -> str:
    summ = results["summary"]
    t = results["timing"]
    c = results["config"]
    n = next(iter(summ.values()))["train_accuracy"]["n"]
    lines = [toy.classification_table(results), ""]
    lines.append(
        f"{n} runs per configuration, each with its own {c['n']} training and {c['n_test']}"
        f" held-out points (the same for both configurations); SGD lr {c['lr']}, batch"
        f" {c['batch_size']}, {c['epochs']} epochs; metrics after training on the whole sets"
        f" (eval mode). Published (the source's figure): accuracy IQM {PUBLISHED['accuracy']},"
        f" loss IQM {PUBLISHED['loss']}. The result is the stated configuration; the second is"
        " the deviation test. Median and worst runs (figures `boundary_median_*.png`,"
        " `boundary_worst_*.png`) are ranked by final training loss.")
    lines += ["", "Source conclusions in our data:", ""] + conclusions(results) + [""]
    lines += [
        toy.timing_text(t) + f" (first configuration); gradient check"
        f" {toy.check_text(results['gradcheck'])}.",
        "- The source's MSE gradient is not divided by the batch size (REFERENCE.md) and its"
        " report gives the cross-entropy gradient as ŷ − y (no 1/N); the deviation test trains"
        " exactly that (our mean loss's gradient times the batch size), at the stated lr.",
        "- The source's softmax backward kept only the Jacobian's diagonal (REFERENCE.md); we"
        " train one logit with exact BCE gradients.",
        "- The source's output layer and loss are not stated exactly (2-8-1 sigmoid; its"
        " classifiers use a softmax over one-hot classes); we use a sigmoid hidden layer and"
        " BCE on one output logit. A 2-unit softmax output moves the logit difference twice"
        " as fast at the same step: one untested reason why a final loss can differ at equal"
        " accuracy.",
    ]
    return "\n".join(lines)


STUDY = Study("xor", "001", "XOR with a 2-8-1 sigmoid network", PRESETS, run, report,
              headline=headline)
