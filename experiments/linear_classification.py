"""The source, linear classification: two unit-variance blobs, a linear classifier.

Each run draws its own 400 training and 400 held-out points from its seed
(``nnjax.data.blobs``: centres (−3, −3) → 0 and (3, 3) → 1) and trains Linear(2→1) with
binary cross-entropy on the logit (sigmoid output), SGD lr 0.01, batch 32, 256 epochs
(the source's Fig. 3), 25 runs. See ``experiments/_toy_common.py`` for why runs loop over
seeds and how the single logit is trained (``BinaryLogit``: softmax CE over ``[0, z]`` =
BCE on ``z``).
"""
from __future__ import annotations

import functools

import jax
import numpy as np

from . import _toy_common as toy
from nnjax.study import Study, verdict
from nnjax import data
from nnjax import layers as L
from nnjax.train.config import config_dict
from nnjax.train import TrainConfig

PUBLISHED = {"accuracy": 1.000}
MODEL = L.Sequential(L.Linear(1), toy.BinaryLogit())
PRESETS = {
    "paper": {"seeds": 25, "epochs": 256, "n": 400, "n_test": 400, "batch_size": 32, "lr": 0.01},
    "quick": {"seeds": 10, "epochs": 256, "n": 400, "n_test": 400, "batch_size": 32, "lr": 0.01},
    "tiny": {"seeds": 2, "epochs": 3, "n": 64, "n_test": 32, "batch_size": 32, "lr": 0.01},
}


@functools.partial(jax.jit, static_argnums=(1, 2), compiler_options=toy.FAST_COMPILE)
def _make(key, n, n_test):
    k_train, k_test = jax.random.split(key)
    return data.blobs(k_train, n), data.blobs(k_test, n_test), ()


def config(s) -> TrainConfig:
    return TrainConfig(epochs=s["epochs"], batch_size=s["batch_size"], optimizer="sgd",
                       learning_rate=s["lr"], loss="softmax_cross_entropy",
                       epochs_per_call=s["epochs"])


def run(ctx) -> dict:
    s = ctx.settings
    cfg = config(s)
    res = toy.fit_per_run(MODEL, cfg, list(range(s["seeds"])),
                          lambda k: _make(k, s["n"], s["n_test"]), progress=ctx.progress)
    out = toy.classification_outputs(ctx, MODEL, res, ["Linear(2→1)"],
                                     "Linear classification, two blobs", PUBLISHED)
    out["config"] = {**s,
                     "model": "Linear(2→1) → logit z; BCE on z (as softmax CE over [0, z])",
                     "data": "blobs(key, n): centres (−3,−3)/(3,3), unit variance;"
                             " own data per run",
                     "train_config": config_dict(cfg)}
    return out


SEPARATED = 0.99      # "separates the two classes": the worst run's training accuracy


def conclusions(results: dict) -> list:
    """The source's claims about linear classification, tested on the results."""
    s = results["summary"]["Linear(2→1)"]["train_accuracy"]
    acc = np.array([r["train_accuracy"] for r in results["runs"]])
    pub = results["published"]["accuracy"]
    return [
        verdict(f"Accuracy IQM {pub:.3f}", round(s["iqm"], 3) == pub,
                f"ours {s['iqm']:.4f} [{s['q1']:.4f}–{s['q3']:.4f}]; {int(np.sum(acc == 1.0))}"
                f" of {len(acc)} runs classify every training point correctly; holds when our"
                " IQM rounds to the published value."),
        verdict("Both the median and the worst model separate the two classes",
                bool(acc.min() >= SEPARATED),
                f"worst run's training accuracy {acc.min():.4f} (holds at ≥ {SEPARATED})."),
    ]


def report(results: dict) -> str:
    s = results["summary"]["Linear(2→1)"]
    t = results["timing"]
    lines = [
        toy.classification_table(results), "",
        f"Each of the {s['train_accuracy']['n']} runs draws its own {results['config']['n']}"
        f" training and {results['config']['n_test']} held-out points; accuracy and loss are"
        " measured after training on the whole sets (eval mode). Published: accuracy IQM"
        " 1.000 (read from the source's figure). SGD lr 0.01, batch 32,"
        f" {results['config']['epochs']} epochs (the source's Fig. 3). Median and worst runs are"
        " ranked by final training loss.",
        "", "Source conclusions in our data:", "", *conclusions(results), "",
        toy.timing_text(t) + f"; gradient check {toy.check_text(results['gradcheck'])}.",
        "- The source used a 2-unit softmax output with one-hot labels; we train one logit with"
        " BCE (the same function class; REFERENCE.md: Linear(2→1)).",
        "- The source's softmax backward kept only the Jacobian's diagonal (REFERENCE.md); with a"
        " separable set it still reaches accuracy 1, so this does not change the number.",
        "- Blob centres are not given by the source; ours (±3, ±3) make the classes separable"
        " in practice (Bayes error ≈ 1e-5).",
    ]
    return "\n".join(lines)


def headline(results: dict) -> list:
    """Training / held-out accuracy and loss; the first row: training accuracy vs published."""
    return toy.classification_rows(results)


STUDY = Study("linear-classification", "001", "Linear classification of two blobs",
              PRESETS, run, report, headline=headline)
