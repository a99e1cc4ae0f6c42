"""Shared code of the source's toy studies (linear regression, linear classification, XOR).

Each run draws its own data set from its seed (the source: "variability stems from random
initialization and dataset generation"). ``nnjax.train.fit`` shares one data set among
all the runs of a program (``Shared.x``/``y`` are broadcast, not mapped), so
:func:`fit_per_run` calls ``fit`` once per seed with that seed's data; the compiled
program is cached and reused, so a 25-seed study costs one compilation plus ~0.1 s per
seed. Numeric hyperparameters (``make_runs(..., learning_rate=[...])``) still share one
program per seed.

A single-logit binary classifier: :func:`BinaryLogit` maps the logit ``z`` (N, 1) to
``[0, z]`` (N, 2). Softmax cross-entropy over ``[0, z]`` *is* binary cross-entropy on
``z`` (``−log softmax([0, z])_y = softplus(z) − y·z``, ``dz = σ(z) − y`` per example), and
``argmax([0, z]) = 1[z > 0]``, so the engine's accuracy metrics apply unchanged.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._common import check_text  # noqa: F401 (for the toy studies)
from nnjax.analysis import plots
from nnjax.analysis import stats
from nnjax.train.evaluate import evaluate, predict
from nnjax.layer import Layer
from nnjax.train.runs import make_runs
from nnjax.train import fit

FAST_COMPILE = {"xla_backend_optimization_level": 0}  # one-off data programs (threefry)
DATA_STREAM = 1001
# (train, held-out) curve colours of configuration 0, 1, 2
PAIRS = (("#1f77b4", "#17becf"), ("#d62728", "#ff7f0e"), ("#2ca02c", "#bcbd22"))


def data_key(seed: int):
    """A run's data key, ``fold_in(key(seed), DATA_STREAM)``: independent of the engine's
    keys of the same seed (``split(key(seed), 4)``: init, order, step, eval)."""
    return jax.random.fold_in(jax.random.key(int(seed)), DATA_STREAM)


def BinaryLogit(name: str = "BinaryLogit") -> Layer:
    """``z`` (N, 1) → ``[0, z]`` (N, 2); backward ``dz = dy[:, 1]`` (the 0 column is constant).

    With softmax cross-entropy this trains ``z`` with exactly BCE on logits; ``P(y=1) = σ(z)``.
    """

    def init(key, in_shape):
        if tuple(in_shape) != (1,):
            raise ValueError(f"{name}: expects one logit per example (in_shape (1,)), got"
                             f" {tuple(in_shape)}; put it after a Linear(1).")
        return (), (), (2,)

    def forward(params, state, z, *, key=None, train=False):
        return jnp.concatenate([jnp.zeros_like(z), z], axis=1), state, ()

    def backward(params, residuals, dy):
        return (), dy[:, 1:2]

    return Layer(init, forward, backward, name=name)


def prob_class1(out):
    """P(class 1) from a BinaryLogit model's output (m, 2) = [0, z]: σ(z)."""
    return jax.nn.sigmoid(out[:, 1])


def _progress(enabled):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return lambda *a, **k: None

    def show(i, n, seed, done=False):
        sys.stderr.write(f"\rrun {i}/{n} (seed {seed})" + ("\n" if done else ""))
        sys.stderr.flush()
    return show


def fit_per_run(model, config, seeds: Sequence[int], make_data: Callable, *,
                hyper=None, progress=None, verify: bool = True) -> dict:
    """Train every seed on its own data: ``make_data(key) -> (train, held_out, extra)``.

    ``hyper``: ``{name: [values]}`` swept inside each seed's program (C configurations).
    Returns NumPy arrays with axes (C, S, ...): ``history[name]`` (C, S, E); ``train`` and
    ``held_out`` (final parameters, eval mode, whole sets) ``{metric: (C, S)}``; ``params``
    and ``state`` stacked (C, S, ...); ``data``: the S ``(train, held_out, extra)`` tuples;
    ``gradcheck`` (first seed; the objective is the same for all; ``verify=False``: none,
    for a loss whose gradient is not its value's derivative); ``timing``.
    """
    hyper = dict(hyper or {})
    show = _progress(progress)
    per_seed, data, seconds = [], [], []
    t0 = time.perf_counter()
    for i, seed in enumerate(seeds):
        show(i + 1, len(seeds), seed)
        t_seed = time.perf_counter()
        train, held, extra = make_data(data_key(seed))
        train = tuple(np.asarray(a) for a in train)
        held = tuple(np.asarray(a) for a in held)
        res = fit(model, config, train, held, runs=make_runs([int(seed)], **hyper),
                  verify=verify and i == 0, progress=False)
        if i == 0:
            gradcheck, first_call = res.info["gradcheck"], res.info.get("first_call_seconds")
        tr = evaluate(model, config, res.params, res.model_state, *train)
        ho = evaluate(model, config, res.params, res.model_state, *held)
        per_seed.append((res.history, tr, ho, res.params, res.model_state,
                         res.diverged, res.runs.labels()))
        data.append((train, held, extra))
        seconds.append(time.perf_counter() - t_seed)
    show(len(seeds), len(seeds), seeds[-1], done=True)

    def stack(items):          # S items with leading axis C → (C, S, ...)
        return np.swapaxes(np.stack([np.asarray(a) for a in items]), 0, 1)

    hist, tr, ho, params, state, div, labels = zip(*per_seed)
    return {
        "history": {k: stack([h[k] for h in hist]) for k in hist[0]},
        "train": {k: stack([m[k] for m in tr]) for k in tr[0]},
        "held_out": {k: stack([m[k] for m in ho]) for k in ho[0]},
        "params": jax.tree.map(lambda *a: stack(a), *params),
        "state": jax.tree.map(lambda *a: stack(a), *state),
        "diverged": stack(div), "labels": [list(x) for x in zip(*labels)],
        "data": data, "gradcheck": gradcheck,
        "timing": {"seconds": time.perf_counter() - t0, "first_call_seconds": first_call,
                   "first_seed_seconds": seconds[0],
                   "seconds_per_later_seed": (float(np.median(seconds[1:]))
                                              if len(seconds) > 1 else None)},
    }


def join_configurations(*results) -> dict:
    """One :func:`fit_per_run` result from several of the same seeds and data (e.g. one
    per loss): their configuration axes (C) concatenated, in order; data, gradient check
    and first-call timing of the first, seconds summed."""
    first = results[0]

    def cat(*a):
        return np.concatenate([np.asarray(x) for x in a], axis=0)
    out = dict(first)
    for name in ("history", "train", "held_out"):
        out[name] = {k: cat(*(r[name][k] for r in results)) for k in first[name]}
    for name in ("params", "state"):
        out[name] = jax.tree.map(cat, *(r[name] for r in results))
    out["diverged"] = cat(*(r["diverged"] for r in results))
    out["labels"] = [lab for r in results for lab in r["labels"]]
    out["timing"] = {**first["timing"],
                     "seconds": sum(r["timing"]["seconds"] for r in results)}
    return out


def pick(tree, c: int, s: int):
    """Run (configuration c, seed s) of a (C, S, ...) stacked pytree, with a leading axis 1."""
    return jax.tree.map(lambda a: np.asarray(a)[c, s][None], tree)


def median_and_worst(values) -> tuple:
    """Indices of the median run (the ⌊n/2⌋-th smallest of all runs) and of the largest
    value; a NaN, i.e. a diverged run, counts as the worst (unlike :func:`median_run`,
    which leaves diverged runs out: here they are part of the figure's story)."""
    v = np.where(np.isfinite(values), values, np.inf)
    order = np.argsort(v, kind="stable")
    return int(order[len(v) // 2]), int(order[-1])


def curve_stats(h) -> dict:
    """IQM / Q1 / Q3 over runs of a (runs, epochs) history, for results.json."""
    q1, _, q3 = stats.quartiles(h, axis=0, nan_policy="omit")
    return {"iqm": stats.iqm(h, axis=0, nan_policy="omit"), "q1": q1, "q3": q3}


def _boundary(path, model, res, c: int, s: int, title: str):
    """Decision boundary of run (c, s) over its training (o) and held-out (x) points."""
    (x, y), (xt, yt), _ = res["data"][s]
    p, st = pick(res["params"], c, s), pick(res["state"], c, s)

    def prob(pts):
        return np.asarray(predict(model, p, st, pts, output_fn=prob_class1))[0]

    plots.decision_boundary(path, prob, x, y, x_test=xt, y_test=yt, title=title)


def classification_outputs(ctx, model, res, labels: Sequence[str], title: str,
                           published: dict, slug: Callable = lambda c: "") -> dict:
    """Figures and summaries of a (C configurations × S seeds) BinaryLogit study.

    Figures: ``loss.png`` and ``accuracy.png`` (IQM/IQR over seeds, training = epoch mean
    in train mode, held-out = after each epoch) and, per configuration, the decision
    boundary of the median and the worst run (ranked by final training loss) with its
    training (o) and held-out (x) points.
    """
    h = res["history"]
    for metric, name, logy in (("loss", "loss (BCE)", True), ("accuracy", "accuracy", False)):
        series, colors = {}, {}
        for c, lab in enumerate(labels):
            pre = f"{lab}: " if len(labels) > 1 else ""
            series[f"{pre}train"] = h[f"train_{metric}"][c]
            series[f"{pre}held-out"] = h[f"val_{metric}"][c]
            colors[f"{pre}train"], colors[f"{pre}held-out"] = PAIRS[c % len(PAIRS)]
        plots.curves(ctx.figure(f"{metric}.png"), series, title=title, ylabel=name, logy=logy,
                     colors=colors)
    summaries, picks = {}, {}
    for c, lab in enumerate(labels):
        loss = res["train"]["loss"][c]
        med, worst = median_and_worst(loss)
        picks[lab] = {"median": med, "worst": worst}
        for which, s in (("median", med), ("worst", worst)):
            head = f"{title}\n{lab}" if len(labels) > 1 else title
            _boundary(ctx.figure(f"boundary_{which}{slug(c)}.png"), model, res, c, s,
                      f"{head}\n{which} run, seed {res['labels'][c][s]['seed']}: train acc"
                      f" {res['train']['accuracy'][c, s]:.4f}, held-out"
                      f" {res['held_out']['accuracy'][c, s]:.4f}, loss {loss[s]:.4f}")
        summaries[lab] = {
            "train_accuracy": stats.summary(res["train"]["accuracy"][c]),
            "train_loss": stats.summary(loss),
            "held_out_accuracy": stats.summary(res["held_out"]["accuracy"][c]),
            "held_out_loss": stats.summary(res["held_out"]["loss"][c]),
        }
    runs = [{"configuration": lab, "seed": res["labels"][c][s]["seed"],
             **{f"train_{k}": float(v[c, s]) for k, v in res["train"].items()},
             **{f"held_out_{k}": float(v[c, s]) for k, v in res["held_out"].items()}}
            for c, lab in enumerate(labels) for s in range(len(res["labels"][c]))]
    curves = {lab: {k: curve_stats(v[c]) for k, v in h.items()} for c, lab in enumerate(labels)}
    return {"runs": runs, "summary": summaries, "median_worst": picks, "curves": curves,
            "published": published, "gradcheck": res["gradcheck"], "timing": res["timing"]}


def classification_rows(results: dict, pub_acc_key: str = "accuracy",
                        pub_loss_key: str = "loss") -> list:
    """Summary cells (:func:`nnjax.study.summary_cells`): training / held-out accuracy and
    loss per configuration vs published."""
    from nnjax.study import summary_cells
    pub = results.get("published", {})
    rows = []
    for lab, s in results["summary"].items():
        rows.append(summary_cells(f"{lab}: train accuracy", s["train_accuracy"],
                                  pub.get(pub_acc_key)))
        rows.append(summary_cells(f"{lab}: train loss (BCE)", s["train_loss"],
                                  pub.get(pub_loss_key)))
        rows.append(summary_cells(f"{lab}: held-out accuracy", s["held_out_accuracy"]))
        rows.append(summary_cells(f"{lab}: held-out loss", s["held_out_loss"]))
    return rows


def classification_table(results: dict, pub_acc_key: str = "accuracy",
                         pub_loss_key: str = "loss") -> str:
    """Markdown rows: training / held-out accuracy and loss per configuration vs published."""
    from nnjax.study import SUMMARY_HEADER, table_row
    return "\n".join([SUMMARY_HEADER] + [table_row(r) for r in classification_rows(
        results, pub_acc_key, pub_loss_key)])


def timing_text(t) -> str:
    later = t.get("seconds_per_later_seed")
    return (f"Training: {t['seconds']:.1f} s for all runs: {t['first_seed_seconds']:.1f} s for the"
            f" first seed (compilation, gradient check), then"
            f" {'—' if later is None else format(later, '.2f')} s per seed")
