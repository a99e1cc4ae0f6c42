"""Shared pieces of the speed benchmarks: the workload, the data, timing and memory.

The workload is seed 001's MNIST MLP: 784-64-32-10, ReLU, softmax cross-entropy, Adam
1e-3, batch 128, one epoch (the last partial batch is dropped, so 468 batches = 59 904
images). Every contender trains this and reports *seconds per seed-epoch*.

FLOPs per seed-epoch use the usual dense-network count ``6 · N · Σ fan_in·fan_out``
(2 for the forward multiply-add, 4 for the two backward products), N = images seen.
"""
from __future__ import annotations

import dataclasses
import os
import re
import resource
import statistics
import time
from typing import Any, Callable, NamedTuple, Optional

import numpy as np

SIZES = (784, 64, 32, 10)


@dataclasses.dataclass(frozen=True)
class Workload:
    """Shapes and hyperparameters of the timed training run."""

    sizes: tuple = SIZES
    batch: int = 128
    lr: float = 1e-3
    n_images: int = 60_000

    @property
    def n_batches(self) -> int:
        """Full minibatches per epoch (the remainder is dropped)."""
        return self.n_images // self.batch

    @property
    def images_per_epoch(self) -> int:
        return self.n_batches * self.batch

    @property
    def macs_per_image(self) -> int:
        """Σ fan_in·fan_out over the Linear layers (52 544 for the seed-001 MLP)."""
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def flops_per_seed_epoch(self) -> float:
        return 6.0 * self.images_per_epoch * self.macs_per_image


@dataclasses.dataclass(frozen=True)
class Case:
    """One measurement: a contender's variant at a number of seeds.

    ``fraction`` < 1 times only that share of an epoch's batches and extrapolates
    (used for the slow NumPy contender). ``threads`` 0 means "library default".
    ``devices`` > 0 runs the case in its own process with that many XLA CPU devices
    (``--xla_force_host_platform_device_count``, fixed when JAX starts); 0: the default.
    """

    contender: str
    variant: str
    seeds: int = 1
    repeats: int = 3
    fraction: float = 1.0
    threads: int = 0
    devices: int = 0

    @property
    def label(self) -> str:
        return f"{self.contender}/{self.variant}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much to measure: one of the modes ``full``, ``quick``, ``tiny``."""

    mode: str
    seed_counts: tuple
    repeats: int
    n_images: int
    numpy_fraction: float     # share of an epoch the NumPy contender times
    torch_func_fraction: float
    matmul_sizes: tuple
    matmul_repeats: int
    device_seeds: int = 16    # S of the 2-devices-vs-1 cases (a multiple of the devices)

    @classmethod
    def for_mode(cls, mode: str) -> "Settings":
        if mode == "full":
            return cls(mode, (1, 4, 15, 64), 3, 60_000, 0.1, 0.25, (2048, 4096), 5)
        if mode == "quick":
            return cls(mode, (1, 15), 2, 60_000, 0.05, 0.1, (2048,), 3)
        if mode == "tiny":
            return cls(mode, (2,), 1, 512, 1.0, 1.0, (256,), 1, device_seeds=2)
        raise ValueError(f"mode must be full, quick or tiny, got {mode!r}")


class Data(NamedTuple):
    """Training images ``x`` (N, 784) float32 in [0, 1] and labels ``y`` (N,) int32."""

    x: np.ndarray
    y: np.ndarray
    source: str  # "mnist" or "random (...reason...)"


def load_data(n_images: int, source: str = "auto") -> Data:
    """Return the first ``n_images`` MNIST training images, or random data of that shape.

    ``source``: "mnist" (fail if unavailable), "random", or "auto" (MNIST through
    ``nnjax.data.load("mnist")`` when it works, random float32 otherwise). The speed of
    every contender is the same on either; only the printed loss differs.
    """
    if source not in ("auto", "mnist", "random"):
        raise ValueError(f"data source must be auto, mnist or random, got {source!r}")
    reason = "requested"
    if source != "random":
        try:
            x, y = _mnist_train(n_images)
            return Data(x, y, "mnist")
        except Exception as err:  # noqa: BLE001 - any failure means "fall back"
            if source == "mnist":
                raise
            reason = f"MNIST unavailable: {type(err).__name__}: {str(err)[:160]}"
    rng = np.random.default_rng(0)
    x = rng.random((n_images, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], n_images).astype(np.int32)
    return Data(x, y, f"random ({reason})")


def _mnist_train(n_images: int):
    """Training split from ``nnjax.data``, flattened to (N, 784) float32 in [0, 1]."""
    from nnjax import data as nd  # written in parallel; any failure falls back

    try:  # all 60 000 training images, flattened (nnjax.data's signature)
        loaded = nd.load("mnist", n_val=0, flatten=True)
    except TypeError:
        loaded = nd.load("mnist")
    x, y = _find_train_arrays(loaded)
    x = np.asarray(x).reshape(len(x), -1).astype(np.float32)
    if x.max() > 1.5:
        x = x / 255.0
    y = np.asarray(y).astype(np.int32).reshape(-1)
    if x.shape[1] != SIZES[0] or len(x) < n_images:
        raise ValueError(f"unexpected MNIST shapes {x.shape}, {y.shape}")
    return np.ascontiguousarray(x[:n_images]), np.ascontiguousarray(y[:n_images])


def _find_train_arrays(loaded):
    """Accept the likely shapes of a loader's result: a split object, a mapping, a tuple."""
    pairs = (("train_x", "train_y"), ("x_train", "y_train"),
             ("train_images", "train_labels"), ("images", "labels"), ("x", "y"))
    for holder in (loaded, getattr(loaded, "train", None),
                   loaded.get("train") if isinstance(loaded, dict) else None):
        if holder is None:
            continue
        for a, b in pairs:
            if isinstance(holder, dict) and a in holder and b in holder:
                return holder[a], holder[b]
            if hasattr(holder, a) and hasattr(holder, b):
                return getattr(holder, a), getattr(holder, b)
    if isinstance(loaded, (tuple, list)) and len(loaded) >= 2:
        first = loaded[0]
        if isinstance(first, (tuple, list)) and len(first) == 2:
            return first
        return loaded[0], loaded[1]
    raise TypeError(f"cannot find training arrays in {type(loaded).__name__}")


# ---------------------------------------------------------------- nnjax variant names

NNJAX_ORDERS = ("shared", "per_seed")
_NNJAX_VARIANT = re.compile(r"^(shared|per_seed)(?:_(autodiff))?$")


def nnjax_variant(order: str, grad: str = "manual", devices: int = 0) -> str:
    """The nnjax contender's variant name: the batch order alone is the engine itself
    (manual backward, vmapped: the goal rows' "ours"); ``_autodiff`` marks
    ``grad="autodiff"`` and ``_{d}dev`` the run axis mapped over d devices
    (``nnjax_variant("shared", devices=2) == "shared_2dev"``)."""
    if order not in NNJAX_ORDERS or grad not in ("manual", "autodiff"):
        raise ValueError(f"bad nnjax variant: order={order!r}, grad={grad!r}")
    return (order + ("_autodiff" if grad == "autodiff" else "")
            + (f"_{devices}dev" if devices else ""))


def parse_nnjax_variant(variant: str) -> tuple:
    """``(order, grad, devices)`` of an nnjax variant name (inverse of :func:`nnjax_variant`)."""
    base, devices = split_devices(variant)
    m = _NNJAX_VARIANT.match(base)
    if not m:
        raise ValueError(f"not an nnjax variant: {variant!r}")
    return m.group(1), m.group(2) or "manual", devices


def split_devices(variant: str) -> tuple:
    """``(name, devices)`` of a variant name with its ``_<d>dev`` suffix (the run axis over
    d devices; 0 without one): ``"auto_2dev"`` → ``("auto", 2)``, ``"vmap"`` → ``("vmap", 0)``."""
    m = re.fullmatch(r"(.+)_(\d+)dev", variant)
    return (m.group(1), int(m.group(2))) if m else (variant, 0)


def init_linear_np(rng: np.random.Generator, sizes=SIZES, dtype=np.float32):
    """PyTorch-style U(±1/√fan_in) weights ``(in, out)`` and biases, as a list of pairs."""
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype)
        b = rng.uniform(-bound, bound, (fan_out,)).astype(dtype)
        out.append((w, b))
    return out


# ---------------------------------------------------------------- timing & memory


class Result(NamedTuple):
    """What a contender's ``run`` returns (``__main__`` adds memory and derived fields).

    ``seconds`` holds one value per repeat: wall seconds per seed-epoch (already divided
    by the seed count, and extrapolated when ``fraction`` < 1).
    """

    seconds: list
    compile_s: Optional[float]
    compile_method: str
    loss: Optional[float] = None
    order: str = "n/a"
    notes: str = ""
    first_call_s: Optional[float] = None  # JAX: the first call after compiling


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``fn()`` (which must return only after its work is done)."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def summarize(seconds: list) -> dict:
    return {"median_s": statistics.median(seconds), "min_s": min(seconds),
            "max_s": max(seconds)}


def rss_mib() -> float:
    """Current resident set size of this process (MiB), from /proc/self/status."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def peak_rss_mib() -> float:
    """Peak resident set size of this process's own memory image (MiB).

    VmHWM from /proc/self/status: the high-water mark of the current address space, which
    a fresh ``exec`` starts anew. (``ru_maxrss`` would not do for a worker: Linux carries
    it over from the forking parent across fork+exec.) Falls back to ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_count() -> int:
    return os.cpu_count() or 1


def report_row(header: str, line: str, load: float, out: Optional[str] = None) -> None:
    """Print a one-row markdown table (``header`` then ``line``) and the load average;
    append ``line`` to the file ``out`` when given (the single-row benchmarks' output)."""
    print(header + "\n" + line)
    print(f"load average at the end: {load:.2f}")
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")

