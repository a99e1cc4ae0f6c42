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
    """Flatten → [Linear(h) → activation]* → Linear(n_out) (logits)."""
    stack = [L.Flatten()]
    for h in hidden:
        stack += [L.Linear(h), activation_layer(activation)]
    return L.Sequential(*stack, L.Linear(n_out))


def seed001_widths(latent: int, depth: int, in_dim: int = 784) -> list[int]:
    """Seed 001's width rule: for i in 0..d−1, ``int(D·(L/D)^(log(i+2)/log(d+2)))``;
    returns ``[D] + widths + [L] + reversed(widths) + [D]``."""
    widths = [int(in_dim * (latent / in_dim) ** (math.log(i + 2) / math.log(depth + 2)))
              for i in range(depth)]
    return [in_dim] + widths + [latent] + widths[::-1] + [in_dim]


def dense_autoencoder(widths: Sequence[int], *, activation: str = "relu", logits: bool = False,
                      code_layers: Sequence[L.Layer] = ()) -> L.Layer:
    """Dense autoencoder over ``widths = [D, h1, ..., code, ..., h1, D]``.

    ``activation`` after every Linear except the last; the last is followed by a Sigmoid unless
    ``logits=True`` (train with BCE on logits, evaluate ``sigmoid(output)``). The code
    (after the middle Linear's activation) can be followed by ``code_layers`` (e.g.
    ``ActivityL1``, ``Dropout``). Input (N, D) or images (N, H, W, 1) (flattened first;
    the output is (N, D)).
    """
    widths = list(widths)
    mid = len(widths) // 2
    stack = [L.Flatten()]
    for i, w in enumerate(widths[1:], start=1):
        stack.append(L.Linear(w))
        if i < len(widths) - 1:
            stack.append(activation_layer(activation))
        if i == mid:
            stack.extend(code_layers)
    if not logits:
        stack.append(L.Sigmoid())
    return L.Sequential(*stack)


def encoder_decoder_split(widths: Sequence[int]) -> int:
    """Number of layers of :func:`dense_autoencoder` (without code_layers) up to and
    including the code's activation: ``model.layers[:k]`` is the encoder."""
    return 1 + 2 * (len(widths) // 2)


def conv_autoencoder(code: int, *, channels=(8, 16, 32), hidden: int = 64,
                     logits: bool = False) -> L.Layer:
    """Seed 004's convolutional autoencoder for 28×28×1 images, code size ``code``.

    Encoder: Conv(8,3,s2,p1) → ReLU → Conv(16,3,s2,p1) → ReLU → Conv(32,3,s2,p0) → ReLU →
    Flatten → Linear(64) → ReLU → Linear(code). Decoder mirrors it with transposed
    convolutions: 28×28 → 14×14 → 7×7 → 3×3 → 288 → 64 → code → ... → 28×28×1 (Sigmoid).
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
    return L.Sequential(*encoder, *decoder)


CONV_ENCODER_LAYERS = 10  # conv_autoencoder(...).layers[:10] is the encoder
