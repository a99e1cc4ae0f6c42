"""How to map a sweep's runs, chosen by measuring: ``fit(..., map="auto")``.

Training R runs in one program can map them three ways (:class:`~nnjax.train.parallel.
RunMapper`): ``vmap`` (all at once: batched matmuls, one wide first layer with a shared
batch order), ``sequential`` (``lax.map``, one run after another, each unbatched) or
``chunks`` of c runs (``lax.map`` over vmapped groups). Which is fastest depends on the
program: vmap wins for the MLP, while a vmapped convolution network turns every matmul
into a small batched one and can cost more per run than the runs one by one.

``map="auto"`` times each candidate once on a few training steps (the same per-run epoch
``fit`` compiles, on the first ``STEPS`` batches of the data), picks the lowest time per
run and caches the choice by program shape (model, input shape, run count, the settings
that change the computation, backend and JAX version) in ``<cache>/automap.json``
(``$NNJAX_CACHE_DIR`` or ``~/.cache/nnjax``). A program smaller than ``MIN_WORK``
(R · n_train · parameter count: a sweep epoch well under a second) is not worth the extra
compilations and takes ``vmap``; so does one run, or a sharded (multi-device) fit.
``fit`` reports the choice in ``FitResult.info["map"]``. The mapping never changes what a
run computes (each run's keys come from its seed), only float rounding of batched
products.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

MAPS = ("auto", "vmap", "sequential", "chunks")
STEPS = 3              # training steps timed per candidate
MIN_WORK = 2e9         # R · n_train · n_params below which "auto" takes vmap untimed
CACHE_FILE = "automap.json"


def cache_path() -> Path:
    """``$NNJAX_CACHE_DIR/automap.json``, else ``~/.cache/nnjax/automap.json``."""
    env = os.environ.get("NNJAX_CACHE_DIR")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "nnjax"
    return root / CACHE_FILE


def candidates(r: int) -> list:
    """Chunk sizes to try for R runs: None (vmap), 1 (sequential) and up to two chunk
    sizes c dividing R with 1 < c < R (the smallest and the largest)."""
    divisors = [c for c in range(2, r) if r % c == 0]
    return [None, 1] + sorted({divisors[0], divisors[-1]} if divisors else set())


def describe(chunk: Optional[int]) -> str:
    """``"vmap"``, ``"sequential"`` or ``"chunks of c"``."""
    return "vmap" if chunk is None else "sequential" if chunk == 1 else f"chunks of {chunk}"


def resolve(map_: str, chunk_size: Optional[int], *, model, config, x, y, runs,
            n_devices: int) -> tuple:
    """``(chunk_size, info)`` for ``fit``: an explicit ``chunk_size`` wins; ``"vmap"`` →
    None, ``"sequential"`` → 1, ``"chunks"`` needs ``chunk_size``; ``"auto"`` measures (or
    reads the cache). ``info`` is what ``FitResult.info["map"]`` reports."""
    if map_ not in MAPS:
        raise ValueError(f"fit: map must be one of {MAPS}, got {map_!r}.")
    if map_ == "chunks" and chunk_size is None:
        raise ValueError("fit: map='chunks' needs chunk_size=c (the runs per chunk).")
    if chunk_size is not None or map_ != "auto":
        chunk = chunk_size if chunk_size is not None else (1 if map_ == "sequential" else None)
        return chunk, {"choice": describe(chunk), "chunk_size": chunk, "how": "explicit"}
    r = runs.size
    n_params = sum(int(np.prod(s.shape)) for s in jax.tree.leaves(
        jax.eval_shape(lambda k: model.init(k, tuple(x.shape[1:]))[0], jax.random.key(0))))
    work = r * x.shape[0] * n_params
    if r == 1 or n_devices > 1 or work < MIN_WORK:
        why = ("one run" if r == 1 else "several devices (shard_map)" if n_devices > 1
               else f"small program (R·n·params = {work:.3g} < {MIN_WORK:.0e})")
        return None, {"choice": "vmap", "chunk_size": None, "how": f"default: {why}"}
    key = program_key(model, config, tuple(x.shape[1:]), x.dtype, r)
    cached = _read_cache().get(key)
    if cached is not None:
        return cached["chunk_size"], {**cached, "how": "cached", "key": key}
    seconds = measure(model, config, x, y, runs)
    best = min(seconds, key=seconds.get)
    chunk = None if best == "vmap" else int(best)
    entry = {"choice": describe(chunk), "chunk_size": chunk,
             "seconds_per_run_step": {describe(None if k == "vmap" else int(k)): v
                                      for k, v in seconds.items()},
             "steps": STEPS, "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_cache(key, entry)
    return chunk, {**entry, "how": "measured", "key": key}


def program_key(model, config, in_shape, dtype, r: int) -> str:
    """Hash of what decides the program's speed (not its learning rate or epoch count)."""
    from nnjax.layers import conv_ops
    from nnjax.train.config import config_dict
    cfg = config_dict(config)
    keep = ("batch_size", "optimizer", "loss", "grad", "shuffle", "target", "noise",
            "output_fn", "drop_last")
    desc = [model.name, list(in_shape), str(dtype), r, {k: cfg[k] for k in keep},
            jax.default_backend(), jax.devices()[0].device_kind, os.cpu_count(),
            jax.__version__, conv_ops.resolve()]
    return hashlib.sha256(json.dumps(desc, default=str).encode()).hexdigest()[:20]


def measure(model, config, x, y, runs) -> dict:
    """Seconds per run and training step of each :func:`candidates` mapping: the per-run
    epoch of :func:`nnjax.train.program.build` on the first ``STEPS`` batches, compiled,
    run once to warm up, then the best of two calls. Keys: ``"vmap"`` or the chunk size."""
    from nnjax.train import program as epoch_lib
    from nnjax.train.parallel import RunMapper
    from nnjax.train.program import RunSpec, Shared
    from nnjax.train.runs import hyper_arrays, keys as run_keys, select

    n = min(x.shape[0], STEPS * config.batch_size)
    xs, ys = x[:n], (None if y is None else y[:n])
    cfg = config.replace(epochs_per_call=1, epochs=1, early_stopping=None, drop_last=True)
    r = runs.size
    defaults = {"learning_rate": config.learning_rate, "momentum": config.momentum,
                "weight_decay": config.weight_decay, "noise_std": config.noise_std}
    out = {}
    for chunk in candidates(r):
        mapper = RunMapper(chunk_size=chunk)
        padded = select(runs, np.minimum(np.arange(mapper.multiple(r)), r - 1))
        specs = RunSpec(run_keys(padded.seed),
                        jax.tree.map(jnp.asarray, hyper_arrays(padded, defaults)))
        init, program = epoch_lib.build(model, cfg, tuple(x.shape[1:]), n, mapper,
                                        has_val=False)
        shared = Shared(xs, ys, None, None, None, None, jnp.int32(0))
        carry = init(specs, None)
        carry, h = program(carry, specs, shared)
        jax.block_until_ready(h)
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            carry, h = program(carry, specs, shared)
            jax.block_until_ready(h)
            best = min(best, time.perf_counter() - t0)
        out["vmap" if chunk is None else str(chunk)] = best / r / (n // config.batch_size)
    return out


def _read_cache() -> dict:
    try:
        with open(cache_path()) as f:
            got = json.load(f)
        return got if isinstance(got, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, entry: dict) -> None:
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        table = _read_cache()
        table[key] = entry
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass    # a read-only cache only means measuring again next time
