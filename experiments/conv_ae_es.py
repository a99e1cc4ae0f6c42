"""The source's final training for the codes ED = 8 and 16: early stopping on the training
loss (window 100 epochs, tolerance ±1e-4, at most 2000 epochs) on all 60 000 MNIST
training images, LR 1e-2 and WD 1e-5 (the grid's best, as published), batch 1000, Adam,
MSE; the test set is the monitored per-epoch curve (it does not steer training).

This does not finish on a 2-core CPU in an afternoon, so it runs as far as a time budget
allows and resumes where it stopped: every epoch is checkpointed in the study's store
(``fit_ed<code>.ckpt``) and recorded in ``progress_ed<code>.json`` beside it. The budget
(seconds, shared between the codes) comes from the environment variable
``NNJAX_BUDGET_SECONDS``; without it, training runs to the end; ``0`` trains nothing and
writes the results of what the store holds (after a run was stopped from outside). The results say how far
each run got, whether the window rule fired, the measured seconds per run-epoch and the
hours the rest needs at that rate (an upper bound: the rule may fire earlier).
ED = 4 and 32 (trained by ``conv-ae``) are compared at the same epoch from conv-ae's
``results.json`` when it holds their per-epoch test curves.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from . import _conv_common as C
from nnjax.analysis import plots, stats
from nnjax.results import read_json, write_json_atomic
from nnjax.study import SUMMARY_HEADER, Study, summary_cells, summary_row, verdict
from nnjax.train import fit

BUDGET_ENV = "NNJAX_BUDGET_SECONDS"
PUBLISHED_MAX_EPOCHS = 2000

PRESETS = {
    "paper": dict(C.MODEL, final_subset=None, final_epochs=PUBLISHED_MAX_EPOCHS, window=100,
                  seeds=2, codes=(8, 16), final_chunk=None, checkpoint_every=1),
    "tiny": dict(C.MODEL, channels=(4, 8, 8), hidden=16, batch_size=100, final_subset=None,
                 final_epochs=3, window=1, seeds=2, codes=(8,), final_chunk=None,
                 checkpoint_every=1),
}


class BudgetReached(Exception):
    """The time budget ran out; the checkpoint and the progress file hold the state."""


class Recorder:
    """A ``fit`` callback: keeps every run's train loss and test MSE per epoch in
    ``path`` (JSON, read back on resume), the wall seconds of each epoch, and raises
    :class:`BudgetReached` after an epoch that ends past ``deadline`` (monotonic s)."""

    def __init__(self, path: Path, epochs: int, runs: int, deadline=None):
        self.path, self.deadline = Path(path), deadline
        self.data = {"train_loss": np.full((runs, epochs), np.nan),
                     "val_mse": np.full((runs, epochs), np.nan), "epoch_seconds": {}}
        if self.path.exists():
            old = read_json(self.path)
            for k in ("train_loss", "val_mse"):
                self.data[k] = np.asarray(old[k], np.float64)
            self.data["epoch_seconds"] = dict(old.get("epoch_seconds", {}))
        self.last = time.monotonic()
        self.first = True          # the first epoch after a (re)start includes compiling

    def on_epoch(self, epoch, metrics, runs):
        now = time.monotonic()
        for k in ("train_loss", "val_mse"):
            self.data[k][:, epoch] = np.asarray(metrics[k], np.float64)
        if not self.first:
            self.data["epoch_seconds"][str(epoch)] = now - self.last
        self.first, self.last = False, now
        write_json_atomic(self.path, self.data)
        if self.deadline is not None and now > self.deadline:
            raise BudgetReached(epoch)


def window_stop(loss: np.ndarray, window: int, tol: float):
    """First epoch index e ≥ ``window`` with loss[e − window] − loss[e] < tol (the source's
    rule, as ``nnjax.train.EarlyStopping(window=...)``), or None; ``loss`` (E,)."""
    for e in range(window, len(loss)):
        if np.isfinite(loss[e]) and loss[e - window] - loss[e] < tol:
            return e
    return None


def _budget():
    v = os.environ.get(BUDGET_ENV)
    return None if v in (None, "") else float(v)


def _train(ctx, code: int, train, test, deadline) -> dict:
    s = ctx.settings
    p = C.final_problem(s, code, s["learning_rate"], s["weight_decay"], train, test,
                        resume_dir=ctx.store.root)
    runs, epochs = int(s["seeds"]), int(s["final_epochs"])
    rec = Recorder(ctx.store.root / f"progress_ed{code}.json", epochs, runs,
                   None if deadline == "none" else deadline)
    gradcheck = "checked on the first call of this code (not in this process)"
    if deadline != "none":
        try:
            res = fit(p.model, p.config, p.train, p.val, p.test, runs=runs, callbacks=[rec],
                      progress=ctx.progress, **p.fit_kwargs)
            gradcheck = res.info.get("gradcheck")
        except BudgetReached:
            pass
    d = rec.data
    loss, val = d["train_loss"], d["val_mse"]
    done = np.sum(np.isfinite(loss), axis=1)
    last = [float(val[i, n - 1]) if n else float("nan") for i, n in enumerate(done)]
    rule = [window_stop(loss[i], int(s["window"]), float(s["tolerance"])) for i in range(runs)]
    # a run is done when it reached the cap or the window rule fired at its last epoch
    finished = bool(all(n == epochs or (e is not None and e + 1 == n)
                        for n, e in zip(done, rule)))
    secs = np.asarray([v for e, v in d["epoch_seconds"].items() if int(e) < done.max()],
                      np.float64)
    per_epoch = float(np.median(secs)) if len(secs) else None
    left = epochs - int(done.max()) if (not finished) else 0
    return {
        "code": code, "finished": finished, "epochs_run": done.tolist(),
        "stopped_by_rule": [r is not None for r in rule],
        "rule_epoch": [None if r is None else r + 1 for r in rule],
        "test_mse_last": last, "train_loss_last": [
            float(loss[i, n - 1]) if n else float("nan") for i, n in enumerate(done)],
        "seconds_per_epoch": per_epoch, "runs": runs,
        "seconds_per_run_epoch": None if per_epoch is None else per_epoch / runs,
        "epochs_timed": int(len(secs)),
        "hours_left_at_most": None if per_epoch is None else left * per_epoch / 3600,
        "history": {k: np.round(v[:, :int(done.max())], 6) for k, v in
                    (("train_loss", loss), ("val_mse", val))},
        "gradcheck": gradcheck,
    }


def _conv_ae(ctx) -> tuple:
    """From conv-ae's results: the per-epoch test MSE of its ED = 4 / 32 final runs
    (``{code: (runs, E)}``) and its measured seconds per epoch of each code's runs."""
    path = Path(ctx.out).parent / "conv-ae" / "results.json"
    if not path.exists():
        return {}, {}
    got = read_json(path)
    hist = {int(k[2:]): np.asarray(v["val_mse"], np.float64)
            for k, v in (got.get("final_history") or {}).items() if int(k[2:]) in C.FINAL_CODES}
    rate = {int(k[2:]): v.get("seconds_per_epoch") for k, v in (got.get("timing") or {}).items()
            if k.startswith("ed")}
    return hist, rate


def run(ctx) -> dict:
    s = ctx.settings
    train, test, _ = C.load_sets(ctx)
    budget = _budget()
    end = None if budget is None else time.monotonic() + budget
    codes = tuple(int(c) for c in s["codes"])
    per = {}
    for i, c in enumerate(codes):
        deadline = None if end is None else "none" if budget == 0 else (
            time.monotonic() + (end - time.monotonic()) / (len(codes) - i))
        per[c] = _train(ctx, c, train, test, deadline)
    other, rate = _conv_ae(ctx)
    for c, p in per.items():      # the rest at the rate conv-ae measured for this code
        left = int(s["final_epochs"]) - max(p["epochs_run"]) if not p["finished"] else 0
        p["conv_ae_seconds_per_epoch"] = rate.get(c)
        p["hours_left_at_conv_ae_rate"] = None if rate.get(c) is None else left * rate[c] / 3600
    reached = min(min(p["epochs_run"]) for p in per.values())
    at = {c: np.asarray(p["history"]["val_mse"], np.float64)[:, reached - 1]
          for c, p in per.items()} if reached else {}
    for c, h in other.items():
        if h.shape[1] >= reached > 0:
            at[c] = h[:, reached - 1]
    at = dict(sorted(at.items()))
    curves = {f"ED={c}": np.asarray(p["history"]["val_mse"], np.float64) for c, p in per.items()
              if max(p["epochs_run"]) > 0}
    curves.update({f"ED={c} (conv-ae)": h for c, h in other.items()})
    if curves:
        plots.curves(ctx.figure("es_test_mse.png"), curves, logy=True, ylabel="test MSE",
                     title="final training with early stopping: test MSE per epoch")
    summary = {f"test MSE ED={c} last epoch": stats.summary(p["test_mse_last"])
               for c, p in per.items()}
    summary.update({f"test MSE ED={c} at epoch {reached}": stats.summary(v)
                    for c, v in at.items()})
    return {"config": {**s, "budget_seconds": budget, "monitor": "train_loss",
                       "n_train": int(len(train.x)),
                       "rule": "stop when loss[e-window] - loss[e] < tolerance"},
            "codes": {f"ed{c}": p for c, p in per.items()}, "common_epoch": reached,
            "compared_codes": list(at), "summary": summary,
            "gradcheck": {f"ed{c}": p["gradcheck"] for c, p in per.items()}}


def headline(r: dict) -> list:
    rows = []
    for k, p in r["codes"].items():
        c = p["code"]
        rows.append(summary_cells(f"test MSE ED={c}, early stopping, at epoch"
                                  f" {max(p['epochs_run'])} of ≤ {r['config']['final_epochs']}",
                                  r["summary"][f"test MSE ED={c} last epoch"], fmt=".5f"))
    return rows


def report(r: dict) -> str:
    s, summ, n = r["config"], r["summary"], r["common_epoch"]
    lines = [f"ED {', '.join(str(p['code']) for p in r['codes'].values())}: the source's final"
             f" training (early stopping on the training loss, window {s['window']},"
             f" tolerance ±{s['tolerance']:g}, ≤ {s['final_epochs']} epochs), LR"
             f" {s['learning_rate']:g}, WD {s['weight_decay']:g}, batch {s['batch_size']},"
             f" {s['seeds']} seeds, resumable under a time budget.\n", SUMMARY_HEADER]
    for p in r["codes"].values():
        lines.append(summary_row(f"test MSE ED={p['code']} at its last epoch"
                                 f" ({', '.join(str(e) for e in p['epochs_run'])})",
                                 summ[f"test MSE ED={p['code']} last epoch"], fmt=".5f"))
    for c in r["compared_codes"]:
        lines.append(summary_row(f"test MSE ED={c} at epoch {n}",
                                 summ[f"test MSE ED={c} at epoch {n}"], fmt=".5f"))
    lines.append("")
    for p in r["codes"].values():
        rule = ", ".join("not yet" if e is None else f"epoch {e}" for e in p["rule_epoch"])
        other, mine = p.get("hours_left_at_conv_ae_rate"), p["hours_left_at_most"]
        state = ("finished" if p["finished"] else
                 f"stopped by the time budget; the rest (to epoch {s['final_epochs']}; the"
                 " rule may stop it earlier) needs at most "
                 + ("an unmeasured time" if mine is None else f"{mine:.1f} h") +
                 " at this run's rate" + ("" if other is None else
                                      f", {other:.1f} h at the rate conv-ae measured for"
                                      f" this code ({p['conv_ae_seconds_per_epoch']:.1f} s"
                                      f" per epoch of its runs)"))
        spr = p["seconds_per_run_epoch"]
        lines.append(f"- ED={p['code']}: {state}; window rule fired: {rule};"
                     + (f" {spr:.2f} s per run-epoch (median of {p['epochs_timed']} epochs of"
                        f" {p['runs']} runs on {r['config']['n_train']} images, shared 2-core machine)."
                        if spr else " not timed."))
    iqm = {c: summ[f"test MSE ED={c} at epoch {n}"]["iqm"] for c in r["compared_codes"]}
    if len(iqm) >= 2:
        codes = sorted(iqm)
        falls = all(iqm[a] > iqm[b] for a, b in zip(codes, codes[1:]))
        done = all(p["finished"] for p in r["codes"].values())
        lines += ["", verdict("MSE falls as ED grows (after the early-stopped final training)",
                              falls if done else None,
                              f"IQM test MSE at epoch {n}, the last epoch every run here"
                              " reached (ED 4 and 32 from conv-ae's final runs): " + ", ".join(
                                  f"ED={c} {iqm[c]:.5f}" for c in codes) + "; the source"
                              " compared the codes after early stopping, which these runs"
                              + (" reached." if done else " did not reach, so this early"
                                 " snapshot does not test it (conv-ae tests it after its"
                                 " sweep epochs)."))]
    return "\n".join(lines)


STUDY = Study("conv-ae-es", "004", "Conv autoencoder: ED 8 and 16 with the source's early"
              " stopping (≤ 2000 epochs)", PRESETS, run, report, default_preset="paper",
              # the paper preset is the source's setting, but its committed result stopped on a
              # time budget far from the end; set ("paper",) once a run finishes
              headline=headline, full_presets=(),
              cpu_devices=True)
