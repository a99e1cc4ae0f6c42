"""What a training run is: :class:`TrainConfig` (frozen) and the input corruptions.

A config holds everything that does not change inside one compiled program. Numbers
that a sweep varies per run (learning rate, momentum, weight decay, noise σ; a layer's
λ or rate is the layer's) are *defaults* here; :func:`nnjax.train.runs.make_runs` overrides them per run
and they are traced, so a grid of them is one program (see :mod:`nnjax.train.optim`).

Example::

    >>> from nnjax.train.config import TrainConfig
    >>> from nnjax.train.early_stopping import EarlyStopping
    >>> cfg = TrainConfig(epochs=50, batch_size=128, optimizer="adam", learning_rate=1e-3,
    ...                   early_stopping=EarlyStopping("val_accuracy", patience=5))
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional, Union


from nnjax import losses
from nnjax.train import validate
from nnjax.train.early_stopping import EarlyStopping
from nnjax.losses import Loss
from nnjax.train.optim import Optimizer, Schedule

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SHUFFLES = ("per_run", "shared", "none")
TARGETS = ("labels", "input")


@dataclass(frozen=True)
class TrainConfig:
    """One training setup (shapes and code); per-run numbers are defaults.

    Attributes:
      epochs, batch_size: the epoch limit and the minibatch size (a shape: one compilation
        per value).
      optimizer: ``"sgd"``, ``"momentum"`` (SGD with heavy-ball ``momentum``), ``"adam"``,
        ``"adamw"`` (Optax), or any Optax optimizer as an
        :class:`~nnjax.train.optim.Optimizer` (its float arguments are per-run numbers).
        ``learning_rate``: a number or an Optax schedule as a
        :class:`~nnjax.train.optim.Schedule`. ``weight_decay`` is PyTorch's: coupled L2 (``g += wd·θ``)
        for sgd/momentum/adam, decoupled for adamw. ``b1, b2, eps``: Adam's constants.
      loss: a :class:`~nnjax.losses.Loss` or its name; it is applied to the model's raw
        output (logits for cross-entropy and BCE).
      grad: ``"manual"`` (the hand-written backward, default) or ``"autodiff"``.
      early_stopping: an :class:`~nnjax.train.early_stopping.EarlyStopping` or None.
      shuffle: ``"per_run"`` (each run's order from its own key), ``"shared"`` (one order
        per epoch for all runs, from ``shuffle_seed``: the first layer becomes one wide
        matmul, faster on CPU) or ``"none"``.
      drop_last: drop the last partial batch of each epoch (else it is one more step).
      target: ``"labels"`` (train on ``(x, y)``) or ``"input"`` (autoencoder: target = x).
      output_fn: maps the model's output to what is evaluated, e.g. ``jax.nn.sigmoid``
        for an autoencoder trained with BCE on logits; the ``mse`` metric compares
        ``output_fn(output)`` with the target (pixel space). None = identity.
      noise: ``noise(key, x, sigma) -> x̃`` corrupts each training batch (denoising);
        ``noise_std`` is σ (a per-run hyperparameter). ``val_noise``: corrupt the
        validation inputs too (fixed noise per run).
      eval_batch_size: examples per evaluation batch (bounds evaluation memory).
      epochs_per_call: epochs run inside one jitted call (raise it for tiny data sets so
        the Python loop costs nothing; progress and early stopping still act per epoch,
        the loop can only end at a call boundary).
      microbatch: compute each step's gradient in chunks of this many examples and
        average them (:mod:`nnjax.train.microbatch`: the same step up to round-off for
        layers that treat examples independently; faster on CPU for small convolutions).
        None: the whole batch at once.
    """

    epochs: int = 20
    batch_size: int = 128
    optimizer: Union[str, Optimizer] = "adam"
    learning_rate: Union[float, Schedule] = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    loss: Union[Loss, str] = "softmax_cross_entropy"
    grad: str = "manual"
    early_stopping: Optional[EarlyStopping] = None
    shuffle: str = "per_run"
    shuffle_seed: int = 0
    drop_last: bool = False
    target: str = "labels"
    output_fn: Optional[Callable] = None
    noise: Optional[Callable] = None
    noise_std: float = 0.0
    val_noise: bool = False
    eval_batch_size: int = 1000
    epochs_per_call: int = 1
    microbatch: Optional[int] = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_batch_size", "epochs_per_call"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {v!r}.")
        if self.microbatch is not None and (not isinstance(self.microbatch, int)
                                            or isinstance(self.microbatch, bool)
                                            or self.microbatch < 1):
            raise ValueError("TrainConfig.microbatch must be a positive int (examples per"
                             f" chunk) or None, got {self.microbatch!r}.")
        if self.microbatch is not None and self.batch_size % self.microbatch:
            fits = [m for m in range(self.microbatch, 0, -1) if self.batch_size % m == 0][0]
            raise ValueError(f"TrainConfig.microbatch={self.microbatch} does not divide"
                             f" batch_size={self.batch_size} into equal chunks; use a divisor"
                             f" (e.g. {fits}) or None.")
        if not isinstance(self.optimizer, Optimizer):
            _choice("optimizer", self.optimizer, OPTIMIZERS)
        if not isinstance(self.learning_rate, (Schedule, int, float)):
            raise TypeError("TrainConfig.learning_rate must be a number or a Schedule, got"
                            f" {self.learning_rate!r}.")
        _choice("grad", self.grad, ("manual", "autodiff"))
        _choice("shuffle", self.shuffle, SHUFFLES)
        _choice("target", self.target, TARGETS)
        if isinstance(self.loss, str):
            object.__setattr__(self, "loss", losses.get(self.loss))
        if not isinstance(self.loss, Loss):
            raise TypeError(f"TrainConfig.loss must be a Loss or a loss name, got {self.loss!r}.")
        if self.early_stopping is not None and not isinstance(self.early_stopping, EarlyStopping):
            raise TypeError("TrainConfig.early_stopping must be an EarlyStopping or None.")
        if self.val_noise and self.noise is None:
            raise ValueError("TrainConfig.val_noise=True needs a noise function (noise=...).")
        validate.hyper.config(self)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"TrainConfig.{name} must be one of {allowed}, got {value!r}.")


def _describe(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, Loss):
        return v.name
    if isinstance(v, EarlyStopping):
        return {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
    return getattr(v, "__qualname__", None) or getattr(v, "__name__", None) or repr(v)


def config_dict(config: TrainConfig) -> dict:
    """JSON-able description of ``config`` (functions by qualified name, the loss by name)."""
    return {f.name: _describe(getattr(config, f.name)) for f in dataclasses.fields(config)}
