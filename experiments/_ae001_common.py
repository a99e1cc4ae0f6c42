"""Shared pieces of seed 001's autoencoder studies (ae-grid, ae-latent, denoising).

Seed 001's dense autoencoder (``nnjax.models.seed001_widths`` + ``dense_autoencoder``)
trained with Adam 1e-3, batch 128, early stopping on the validation loss (patience,
best epoch restored), several seeds in one vmapped program. MSE trains the Sigmoid
output; BCE trains logits (``logits=True``) and is evaluated through ``sigmoid`` so the
reported MSE is in [0, 1] pixel space for both losses.
"""
from __future__ import annotations

import functools
import resource
import time
from typing import NamedTuple, Optional

import jax
import numpy as np

from nnjax.models import dense_autoencoder, encoder_decoder_split, seed001_widths
from nnjax import layers as L
from nnjax.analysis import stats
from nnjax.train.evaluate import predict
from nnjax.train import EarlyStopping, TrainConfig, fit
from nnjax.train.config import gaussian_noise

LOSSES = {"mse": "mse", "bce": "binary_cross_entropy"}


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Clock:
    """Wall and CPU seconds since creation: ``Clock().read() -> {"wall_s", "cpu_s"}``."""

    def __init__(self):
        self.wall, self.cpu = time.time(), cpu_seconds()

    def read(self) -> dict:
        return {"wall_s": round(time.time() - self.wall, 1),
                "cpu_s": round(cpu_seconds() - self.cpu, 1)}


class AE(NamedTuple):
    """A trained autoencoder: the model, its widths, the fit result (stacked runs)."""

    model: L.Layer
    widths: list
    loss: str
    res: object  # nnjax.result.FitResult


def ae_config(loss: str, epochs: int, patience: int, shuffle: str, *,
              noise_std: Optional[float] = None) -> TrainConfig:
    """Seed 001's AE training: Adam 1e-3, batch 128, early stopping on ``val_loss``
    (patience, best restored). ``noise_std`` trains on ``clip(x + σ·N(0,1), 0, 1)``
    and validates on fixed noisy copies of the validation set (target clean)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    noise = {} if noise_std is None else dict(noise=gaussian_noise(clip=(0.0, 1.0)),
                                               noise_std=float(noise_std), val_noise=True)
    return TrainConfig(epochs=int(epochs), batch_size=128, optimizer="adam", learning_rate=1e-3,
                       loss=LOSSES[loss], target="input", shuffle=shuffle,
                       output_fn=jax.nn.sigmoid if loss == "bce" else None,
                       early_stopping=EarlyStopping("val_loss", patience=int(patience)),
                       **noise)


def train_ae(ctx, ds, latent: int, depth: int, loss: str = "mse", *, seeds=None,
             epochs=None, noise_std=None) -> AE:
    """Train ``ctx['seeds']`` (or ``seeds``) runs of the (latent, depth) AE on ``ds``."""
    in_dim = int(np.prod(ds.train.x.shape[1:]))
    widths = seed001_widths(int(latent), int(depth), in_dim=in_dim)
    model = dense_autoencoder(widths, logits=(loss == "bce"))
    cfg = ae_config(loss, epochs or ctx["epochs"], ctx["patience"], ctx["shuffle"],
                    noise_std=noise_std)
    res = fit(model, cfg, ds.train.x, ds.val.x, ds.test.x, runs=seeds or ctx["seeds"],
              progress=ctx.progress, verify=ctx.get("verify", True))
    return AE(model, widths, loss, res)


def run_metrics(ae: AE) -> dict:
    """Per-run numbers of a fit (JSON-able lists, one entry per run)."""
    r = ae.res
    return {"seed": [int(s) for s in r.runs.seed], "test_mse": r.test["mse"],
            "val_loss": r.final("val_loss"), "val_mse": r.final("val_mse"),
            "best_epoch": r.best_epoch, "epochs_run": r.epochs_run,
            "stopped_early": r.stopped_early, "diverged": r.diverged}


def fit_info(ae: AE) -> dict:
    """Gradient check and timings of a fit."""
    i = ae.res.info
    keep = ("gradcheck", "shuffle", "first_call_seconds", "seconds_per_epoch", "train_seconds")
    return {k: i.get(k) for k in keep}


def gradcheck_summary(infos) -> dict:
    """Collapse several fits' gradient checks into one line of evidence."""
    checks = [i["gradcheck"] for i in infos if isinstance(i.get("gradcheck"), dict)]
    return {"models_checked": len(checks), "all_ok": all(c.get("ok") for c in checks),
            "max_rel_error": max((c.get("max_rel_error", 0.0) for c in checks), default=None)}


@functools.lru_cache(maxsize=16)
def _halves(model: L.Layer, k: int):
    """(encoder, decoder) Sequentials of ``model`` split after layer ``k`` (cached, so
    the prediction programs compiled for them are reused)."""
    return L.Sequential(*model.layers[:k]), L.Sequential(*model.layers[k:])


def encode(ae: AE, x, run: Optional[int] = None):
    """Codes ``(R, N, latent)`` (or ``(N, latent)`` for one ``run``)."""
    k = encoder_decoder_split(ae.widths)
    enc, _ = _halves(ae.model, k)
    codes = np.asarray(predict(enc, ae.res.params[:k], ae.res.model_state[:k], np.asarray(x)))
    return codes if run is None else codes[run]


def decode(ae: AE, codes, run: int):
    """Images ``(N, D)`` in [0, 1] decoded from ``codes`` (N, latent) by one run."""
    k = encoder_decoder_split(ae.widths)
    _, dec = _halves(ae.model, k)
    pick = lambda t: jax.tree.map(lambda a: a[run:run + 1], t[k:])  # noqa: E731
    out_fn = jax.nn.sigmoid if ae.loss == "bce" else None
    out = predict(dec, pick(ae.res.params), pick(ae.res.model_state),
                  np.asarray(codes, np.float32), output_fn=out_fn)
    return np.asarray(out)[0]


def reconstruct(ae: AE, x, run: Optional[int] = None):
    """Reconstructions ``(R, N, D)`` in [0, 1] (``(N, D)`` for one ``run``)."""
    out_fn = jax.nn.sigmoid if ae.loss == "bce" else None
    out = np.asarray(predict(ae.model, ae.res.params, ae.res.model_state, np.asarray(x),
                             output_fn=out_fn))
    return out if run is None else out[run]


def one_per_class(y, n_classes: int = 10, start: int = 0) -> np.ndarray:
    """Index of the first example of each class at or after ``start`` (classes present)."""
    y = np.asarray(y)
    return np.array([start + int(np.flatnonzero(y[start:] == c)[0])
                     for c in range(n_classes) if np.any(y[start:] == c)])


def summarize(values) -> dict:
    return stats.summary(np.asarray(values, np.float64))


CPU_NOTE = ("`cpu` preset: the paper's protocol with fewer epochs (≤{epochs}, patience"
            " {patience} on the validation loss, best epoch restored), seeds: {seeds}, and"
            " one batch order shared by the seeds (`shuffle='shared'`); the paper preset"
            " allows ≤200 epochs with per-seed shuffling.")
