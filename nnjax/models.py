"""Built-in model builders (plain ``Sequential`` stacks of nnjax layers): an MLP, dense and
convolutional autoencoders. The sweep file names them (``model = "mlp"``)."""
from __future__ import annotations

import math
from typing import Sequence

from nnjax import layers as L

ACTIVATIONS = {"relu": L.ReLU, "tanh": L.Tanh, "sigmoid": L.Sigmoid, "leaky_relu": L.LeakyReLU}


def activation_layer(name: str) -> L.Layer:
    """The activation layer called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name.lower()]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def mlp(hidden: Sequence[int], n_out: int, activation: str = "relu") -> L.Layer:
    """Flatten → [Linear(h) → activation]* → Linear(n_out) (logits); e.g. hidden (64, 32)."""
    stack = [L.Flatten()]
    for h in hidden:
        stack += [L.Linear(h), activation_layer(activation)]
    return L.Sequential(*stack, L.Linear(n_out))


def log_widths(latent: int, depth: int, in_dim: int = 784) -> list[int]:
    """The width rule of the ``ae-grid`` study (widths shrink log-evenly from D to L): for i in 0..d−1, ``int(D·(L/D)^(log(i+2)/log(d+2)))``;
    returns ``[D] + widths + [L] + reversed(widths) + [D]``."""
    widths = [int(in_dim * (latent / in_dim) ** (math.log(i + 2) / math.log(depth + 2)))
              for i in range(depth)]
    return [in_dim] + widths + [latent] + widths[::-1] + [in_dim]


def dense_encoder_decoder(widths: Sequence[int], *, activation: str = "relu",
                          logits: bool = False, code_layers: Sequence[L.Layer] = (),
                          dropout: float = 0.0):
    """``(encoder, decoder)`` of a dense autoencoder over ``widths = [D, h1, ..., code, ...,
    h1, D]``: two ``Sequential`` stacks that :func:`join` makes one model.

    Encoder: Flatten → [Linear → activation (→ Dropout)]* → Linear(code) → activation →
    ``code_layers`` (e.g. ``ActivityL1``). Decoder: (Dropout →) [Linear → activation
    (→ Dropout)]* → Linear(D) → Sigmoid, or the logits when ``logits=True`` (train with BCE on logits, evaluate
    ``sigmoid(output)``). ``dropout > 0`` puts a ``Dropout(dropout)`` after every hidden
    activation (the code's own is the decoder's first layer, so the encoder's output is
    the code itself). Input (N, D) or images (N, H, W, 1); codes (N, code); output (N, D).
    """
    widths = list(widths)
    if len(widths) < 3 or len(widths) % 2 == 0:
        raise ValueError(f"widths must be [D, ..., code, ..., D] with an odd length ≥ 3, got"
                         f" {widths}")
    mid = len(widths) // 2
    drop = [L.Dropout(dropout)] if dropout else []
    encoder = [L.Flatten()]
    for i, w in enumerate(widths[1:mid + 1], start=1):
        encoder += [L.Linear(w), activation_layer(activation)] + (drop if i < mid else [])
    encoder += list(code_layers)
    decoder = list(drop)
    for w in widths[mid + 1:-1]:
        decoder += [L.Linear(w), activation_layer(activation)] + drop
    decoder.append(L.Linear(widths[-1]))
    if not logits:
        decoder.append(L.Sigmoid())
    return L.Sequential(*encoder, name="Encoder"), L.Sequential(*decoder, name="Decoder")


def dense_autoencoder(widths: Sequence[int], *, activation: str = "relu", logits: bool = False,
                      code_layers: Sequence[L.Layer] = (), dropout: float = 0.0) -> L.Layer:
    """Dense autoencoder over ``widths = [D, h1, ..., code, ..., h1, D]``: one flat
    ``Sequential`` of :func:`dense_encoder_decoder`'s two halves (see there)."""
    return join(*dense_encoder_decoder(widths, activation=activation, logits=logits,
                                       code_layers=code_layers, dropout=dropout))


def join(encoder: L.Layer, decoder: L.Layer) -> L.Layer:
    """One flat ``Sequential`` of the encoder's layers then the decoder's (params: one
    tuple entry per layer; :func:`split` takes them apart again)."""
    return L.Sequential(*encoder.layers, *decoder.layers)


def split(encoder: L.Layer, tree):
    """``(encoder part, decoder part)`` of a params/state tuple of :func:`join`
    ``(encoder, decoder)``: the first ``len(encoder.layers)`` entries, then the rest."""
    k = len(encoder.layers)
    return tuple(tree[:k]), tuple(tree[k:])


def conv_encoder_decoder(code: int, *, channels=(8, 16, 32), hidden: int = 64,
                         logits: bool = False):
    """``(encoder, decoder)`` of a convolutional autoencoder for 28×28×1 images, code
    size ``code`` (the one of the ``conv-ae`` study).

    Encoder: Conv(8,3,s2,p1) → ReLU → Conv(16,3,s2,p1) → ReLU → Conv(32,3,s2,p0) → ReLU →
    Flatten → Linear(64) → ReLU → Linear(code). Decoder mirrors it with transposed
    convolutions: 28×28 → 14×14 → 7×7 → 3×3 → 288 → 64 → code → ... → 28×28×1 (Sigmoid
    unless ``logits``).
    """
    c1, c2, c3 = channels
    encoder = [L.Conv2D(c1, 3, 2, 1), L.ReLU(), L.Conv2D(c2, 3, 2, 1), L.ReLU(),
               L.Conv2D(c3, 3, 2, 0), L.ReLU(), L.Flatten(), L.Linear(hidden), L.ReLU(),
               L.Linear(code)]
    decoder = [L.Linear(hidden), L.ReLU(), L.Linear(3 * 3 * c3), L.ReLU(), L.Reshape((3, 3, c3)),
               L.ConvTranspose2D(c2, 3, 2, 0, 0), L.ReLU(), L.ConvTranspose2D(c1, 3, 2, 1, 1),
               L.ReLU(), L.ConvTranspose2D(1, 3, 2, 1, 1)]
    if not logits:
        decoder.append(L.Sigmoid())
    return L.Sequential(*encoder, name="Encoder"), L.Sequential(*decoder, name="Decoder")


def conv_autoencoder(code: int, *, channels=(8, 16, 32), hidden: int = 64,
                     logits: bool = False) -> L.Layer:
    """The convolutional autoencoder of :func:`conv_encoder_decoder`, as one model."""
    return join(*conv_encoder_decoder(code, channels=channels, hidden=hidden, logits=logits))
