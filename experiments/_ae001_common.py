"""Shared pieces of the first report's autoencoder studies (ae-grid, ae-latent, denoising).

Its dense autoencoder (``nnjax.models.log_widths`` + ``dense_encoder_decoder``)
trained with Adam 1e-3, batch 128, early stopping on the validation loss (patience,
best epoch restored), several seeds in one vmapped program. MSE trains the Sigmoid
output; BCE trains logits (``logits=True``) and is evaluated through ``sigmoid`` so the
reported MSE is in [0, 1] pixel space for both losses.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import numpy as np

from ._common import (Clock, fit_info, gradcheck_summary, gradchecks,  # noqa: F401
                                 one_per_class, one_run)
from nnjax import data
from nnjax import layers as L
from nnjax.models import dense_encoder_decoder, join, log_widths, split
from nnjax.sweep import Problem
from nnjax.train import EarlyStopping, TrainConfig, predict

LOSSES = {"mse": "mse", "bce": "binary_cross_entropy"}


class AE(NamedTuple):
    """A trained autoencoder: its halves, widths, loss, the fit result (stacked runs)."""

    model: L.Layer
    encoder: L.Layer
    decoder: L.Layer
    widths: list
    loss: str
    res: object  # nnjax.train.FitResult


def ae_config(loss: str, epochs: int, patience: int, shuffle: str, *,
              noise_std: Optional[float] = None) -> TrainConfig:
    """The source's AE training: Adam 1e-3, batch 128, early stopping on ``val_loss``
    (patience, best restored). ``noise_std`` trains on ``clip(x + σ·N(0,1), 0, 1)``
    and validates on fixed noisy copies of the validation set (target clean)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    noise = {} if noise_std is None else dict(noise=data.gaussian_noise,   # clipped to [0, 1]
                                               noise_std=float(noise_std), val_noise=True)
    return TrainConfig(epochs=int(epochs), batch_size=128, optimizer="adam", learning_rate=1e-3,
                       loss=LOSSES[loss], target="input", shuffle=shuffle,
                       output_fn=jax.nn.sigmoid if loss == "bce" else None,
                       early_stopping=EarlyStopping("val_loss", patience=int(patience)),
                       **noise)


def problem(ds, latent: int, depth: int, loss: str, settings, *, epochs=None,
            noise_std=None, **fit_kwargs) -> Problem:
    """The (latent, depth) autoencoder on ``ds`` with the settings' training protocol."""
    model = join(*dense_encoder_decoder(widths_for(ds, latent, depth), logits=(loss == "bce")))
    cfg = ae_config(loss, epochs or settings["epochs"], settings["patience"],
                    settings["shuffle"], noise_std=noise_std)
    return Problem(model, cfg, ds.train.x, ds.val.x, ds.test.x, fit_kwargs=fit_kwargs)


def train_ae(ctx, ds, latent: int, depth: int, loss: str = "mse", *, seeds=None,
             epochs=None, noise_std=None) -> AE:
    """Train ``ctx['seeds']`` (or ``seeds``) runs of the (latent, depth) AE on ``ds``."""
    p = problem(ds, latent, depth, loss, ctx.settings, epochs=epochs, noise_std=noise_std)
    res = ctx.fit(f"ae-{latent}-{depth}-{loss}", p.model, p.config, p.train, p.val, p.test,
                  runs=seeds or ctx["seeds"], verify=ctx.get("verify", True))
    return AE(p.model, *halves(ds, latent, depth, loss), loss, res)


def widths_for(ds, latent: int, depth: int) -> list:
    """``log_widths`` for the input size of ``ds``."""
    return log_widths(int(latent), int(depth), in_dim=int(np.prod(ds.train.x.shape[1:])))


def checkpoint(ctx, name: str):
    """Where a long fit saves its training state every epoch (and resumes from), inside the
    study's store (``*.ckpt``, not committed); None for the tiny test runs."""
    if ctx.tiny:
        return None
    folder = ctx.out / "store" / "checkpoints" / ctx.preset
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{name}.ckpt")


def halves(ds, latent: int, depth: int, loss: str):
    """``(encoder, decoder, widths)`` of the (latent, depth) AE on ``ds``."""
    widths = widths_for(ds, latent, depth)
    enc, dec = dense_encoder_decoder(widths, logits=(loss == "bce"))
    return enc, dec, widths


def knn_top1(train_codes, train_y, test_codes, test_y, k: int) -> float:
    """Top-1 accuracy of a k-NN (sklearn) fitted on (train_codes, train_y), scored on test."""
    from sklearn.neighbors import KNeighborsClassifier
    clf = KNeighborsClassifier(n_neighbors=int(k)).fit(train_codes, train_y)
    return float(np.mean(clf.predict(test_codes) == np.asarray(test_y)))


def knn_scores(ae: AE, ds, k: int) -> dict:
    """Per run: 5-NN top-1 on the codes, fitted on the training codes and scored on the
    test codes (``top1``), and the source's protocol, fitted and scored on the same test
    codes (``their_protocol_top1``): lists of floats, one per run."""
    tr, te = encode(ae, ds.train.x), encode(ae, ds.test.x)
    return {"top1": [knn_top1(tr[r], ds.train.y, te[r], ds.test.y, k) for r in range(len(te))],
            "their_protocol_top1": [knn_top1(te[r], ds.test.y, te[r], ds.test.y, k)
                                    for r in range(len(te))]}


def run_metrics(ae: AE) -> dict:
    """Per-run numbers of a fit (JSON-able lists, one entry per run)."""
    r = ae.res
    return {"seed": [int(s) for s in r.runs.seed], "test_mse": r.test["mse"],
            "val_loss": r.final("val_loss"), "val_mse": r.final("val_mse"),
            "best_epoch": r.best_epoch, "epochs_run": r.epochs_run,
            "stopped_early": r.stopped_early, "diverged": r.diverged}


def encode(ae: AE, x, run: Optional[int] = None):
    """Codes ``(R, N, latent)`` (or ``(N, latent)`` for one ``run``)."""
    params, state = split(ae.encoder, ae.res.params)[0], split(ae.encoder, ae.res.model_state)[0]
    codes = np.asarray(predict(ae.encoder, params, state, np.asarray(x)))
    return codes if run is None else codes[run]


def decode(ae: AE, codes, run: int):
    """Images ``(N, D)`` in [0, 1] decoded from ``codes`` (N, latent) by one run."""
    pick = lambda t: one_run(split(ae.encoder, t)[1], run)  # noqa: E731
    out_fn = jax.nn.sigmoid if ae.loss == "bce" else None
    out = predict(ae.decoder, pick(ae.res.params), pick(ae.res.model_state),
                  np.asarray(codes, np.float32), output_fn=out_fn)
    return np.asarray(out)[0]


def reconstruct(ae: AE, x, run: Optional[int] = None):
    """Reconstructions ``(R, N, D)`` in [0, 1] (``(N, D)`` for one ``run``)."""
    out_fn = jax.nn.sigmoid if ae.loss == "bce" else None
    out = np.asarray(predict(ae.model, ae.res.params, ae.res.model_state, np.asarray(x),
                             output_fn=out_fn))
    return out if run is None else out[run]


CPU_NOTE = ("`cpu` preset: the paper's protocol with fewer epochs (≤{epochs}, patience"
            " {patience} on the validation loss, best epoch restored), seeds: {seeds}, and"
            " one batch order shared by the seeds (`shuffle='shared'`); the paper preset"
            " allows ≤200 epochs.")
