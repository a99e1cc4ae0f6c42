"""Shared pieces of the third report's studies (ae-projected, ae-regularisation, ae-denoise-gauss).

The report names its models "3 / 5 hidden layers" with a "projected" (code)
dimension, built by functions that take "any dimension of hidden layers, any number of
layers and any projected dimensions"; it gives no widths, activations, batch size or split.
What we use (stated in every report section, :data:`ASSUMED`):

* "k hidden layers" counts every hidden layer of the whole autoencoder, the code included:
  3 → ``D-H-L-H-D``, 5 → ``D-H-H-L-H-H-D``; one width ``H = 128`` for all of them;
* ReLU after every hidden Linear (the code too), Sigmoid output, MSE (pixel space);
* Adam, learning rate 1e-3 (the report's "α = 10e-3", read as 10⁻³), batch 128;
* MNIST / Fashion-MNIST: first 50 000 training images to train, last 10 000 to validate,
  the official 10 000 to test; pixels / 255; one shared batch order per epoch for all
  seeds (``shuffle="shared"``: seeds differ in initialisation; faster on CPU).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ._common import fit_info, gradcheck_line, gradchecks  # noqa: F401 (one place)
from nnjax import layers as L
from nnjax.analysis import plots
from nnjax.models import dense_encoder_decoder, split
from nnjax.study import SUMMARY_HEADER, summary_row  # noqa: F401 (re-export)
from nnjax.train import TrainConfig, predict

DATASETS = ("mnist", "fashion-mnist")
SHORT = {"mnist": "MNIST", "fashion-mnist": "FMNIST"}
HIDDEN = 128
ASSUMED = ("The report gives no widths, activations, batch size or split; we use: \"k hidden"
           " layers\" = all hidden layers of the autoencoder, code included (3: D-H-L-H-D,"
           " 5: D-H-H-L-H-H-D), H = {h}, ReLU (code too), Sigmoid output, MSE, Adam lr 1e-3"
           " (its \"α = 10e-3\" read as 10⁻³), batch 128, 50 000 / 10 000 / 10 000 split,"
           " one shared batch order per epoch across seeds.")


def assumed(h: int = HIDDEN) -> str:
    return ASSUMED.format(h=h)


def per_dataset(value, name: str):
    """``value[name]`` for a per-dataset setting, ``value`` itself otherwise (CLI overrides)."""
    return value[name] if isinstance(value, Mapping) else value


def widths(in_dim: int, code: int, hidden_layers: int, hidden: int = HIDDEN) -> list:
    """``[D, H, …, L, …, H, D]``: ``hidden_layers`` (odd) hidden layers, the code included."""
    if hidden_layers < 1 or hidden_layers % 2 == 0:
        raise ValueError(f"hidden_layers must be odd and ≥ 1 (the code is the middle one),"
                         f" got {hidden_layers}.")
    side = [hidden] * ((hidden_layers - 1) // 2)
    return [in_dim] + side + [code] + side[::-1] + [in_dim]


def autoencoder(w: Sequence[int], *, l1: bool = False, dropout: float = 0.0):
    """``(encoder, decoder)`` over ``w`` (join them for the model); ``l1``: an
    ``ActivityL1`` on the code (λ set per run by the sweep's ``l1`` axis); ``dropout``:
    ``Dropout(rate)`` after every hidden activation."""
    return dense_encoder_decoder(w, code_layers=[L.ActivityL1(0.0)] if l1 else (),
                                 dropout=dropout)


def config(epochs: int, **changes) -> TrainConfig:
    """The source's training setup (see the module docstring)."""
    base = TrainConfig(epochs=epochs, batch_size=128, optimizer="adam", learning_rate=1e-3,
                       loss="mse", target="input", shuffle="shared")
    return base.replace(**changes)


def load(ctx, name: str):
    """Flattened dataset (the 8×8 digits in tiny mode)."""
    return ctx.dataset(name, flatten=True)


def codes(encoder, res, x) -> np.ndarray:
    """The code (after its ReLU) of every run for ``x``: (R, N, L)."""
    return np.asarray(predict(encoder, split(encoder, res.params)[0],
                              split(encoder, res.model_state)[0], x))


def sparsity(z: np.ndarray, rel: float = 0.01) -> dict:
    """Per-run code sparsity of codes ``z`` (R, N, L) (ReLU codes are ≥ 0).

    ``zero``: fraction of exact zeros; ``near_zero``: fraction of units below ``rel`` × the
    largest unit of the same image (scale-free: an L1 penalty can shrink the code while the
    decoder grows); ``dead_units``: units that are zero on every image; ``mean_abs``:
    mean |z|.
    """
    a = np.abs(z)
    top = a.max(axis=2, keepdims=True)
    return {"zero": (a == 0).mean(axis=(1, 2)),
            "near_zero": (a <= rel * top).mean(axis=(1, 2)),
            "dead_units": (a.max(axis=1) == 0).sum(axis=1).astype(np.float64),
            "mean_abs": a.mean(axis=(1, 2))}


def fmt_seconds(infos) -> str:
    """One sentence on the timings of the fits (``fit_info`` dicts)."""
    spe = [i["seconds_per_epoch"] for i in infos if i.get("seconds_per_epoch")]
    first = [i["first_call_seconds"] for i in infos if i.get("first_call_seconds")]
    train = sum(i.get("train_seconds") or 0.0 for i in infos)
    if not spe:
        return ""
    return (f"Timing (2 shared CPU cores): {np.median(spe):.2f} s per epoch for all runs of"
            f" one program (median over {len(spe)} programs); first call incl. compilation"
            f" {np.median(first):.0f} s (median); {train / 60:.1f} min in training loops in all.")





def histogram(path, groups: Mapping[str, np.ndarray], *, title: str, xlabel: str,
              bins: int = 60):
    """Overlaid step histograms (density) of the values in ``groups``, medians dashed."""
    fig = plots.figure((7.0, 4.5))
    ax = fig.add_subplot()
    vals = {k: np.asarray(v, np.float64).reshape(-1) for k, v in groups.items()}
    lo = min(np.nanmin(v) for v in vals.values())
    hi = max(np.nanmax(v) for v in vals.values())
    edges = np.linspace(lo, hi, bins + 1)
    cmap = plots.colors_for(list(vals))
    for label, v in vals.items():
        v = v[np.isfinite(v)]
        med = float(np.median(v))
        ax.hist(v, bins=edges, histtype="step", density=True, linewidth=1.6, color=cmap[label],
                label=f"{label}: median {med:.2f} (n={v.size})")
        ax.axvline(med, color=cmap[label], linestyle="--", linewidth=1.0)
    ax.set(title=title, xlabel=xlabel, ylabel="density")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return plots.save(fig, path)
