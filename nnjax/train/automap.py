"""How to map a sweep's runs, chosen by measuring: ``fit(..., map="auto")``.

Training R runs in one program can map them three ways (:class:`~nnjax.train.parallel.
RunMapper`): ``vmap`` (all at once: batched matmuls, one wide first layer with a shared
batch order), ``sequential`` (``lax.map``, one run after another, each unbatched) or
``chunks`` of c runs (``lax.map`` over vmapped groups). A fourth, ``one by one``, calls
the one-run program once per run and epoch (:func:`one_by_one`): each run then costs
exactly what it costs alone. Which is fastest depends on the program: vmap wins for the
MLP, while a vmapped convolution network turns every matmul into a small batched one and
can cost more per run than the runs one by one.

``map="auto"`` times each candidate on a few training steps (the same per-run epoch
``fit`` compiles, on the first k batches of the data, k from :func:`timed_steps` so that
one run's call does about ``CALL_FLOPS`` of work; the fixed cost of a call is measured
apart and counted once per epoch, :func:`measure`), picks the lowest time per
run (one by one unless another leads by ``MARGIN``, :func:`choose`) and caches the
choice by program shape (model, input shape, run count, device count, the settings that
change the computation, backend and JAX version) in ``<cache>/automap.json``
(``$NNJAX_CACHE_DIR`` or ``~/.cache/nnjax``). A program smaller than ``MIN_WORK``
(R · n_train · 3 × XLA's FLOP estimate of one example's forward: a sweep epoch of about
0.1 s) is not worth the extra compilations and takes ``vmap``; so does one run (per
device), or a fit over several processes (each would measure its own timings, and they
must agree on one program).

With runs sharded over several devices (one per CPU core:
:mod:`nnjax.train.cpu_devices`) every device maps its share of the runs, and auto times
the sharded program under each mapping of that share (vmap, sequential, chunks; one by
one is a one-device mapping): for the conv autoencoder, whose vmapped convolutions cost
more than runs one after another, the two cores then each train their own runs.
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

MAPS = ("auto", "vmap", "sequential", "chunks", "one_by_one")
STEPS = 3              # fewest training steps timed per candidate
CALL_FLOPS = 2e9       # work of one run's timed call (≈ 20–40 ms on a CPU core; see timed_steps)
METHOD = 2             # in the cache key: choices measured by an older method are not reused
MIN_WORK = 1e10        # FLOPs per epoch (≈ 0.1 s at 100 GFLOP/s) below which "auto" takes vmap
CACHE_FILE = "automap.json"
MARGIN = 0.05          # lead another mapping needs over one by one (see choose)


def cache_path() -> Path:
    """``automap.json`` in nnjax's cache folder (:func:`nnjax.data.sources.cache_root`:
    ``$NNJAX_CACHE_DIR``, else ``~/.cache/nnjax``)."""
    from nnjax.data.sources import cache_root
    return cache_root() / CACHE_FILE


ONE_BY_ONE = "one by one"


def candidates(r: int, one_device: bool = True) -> list:
    """Mappings to try for R runs (on each device): None (vmap), 1 (sequential), up to two
    chunk sizes c dividing R with 1 < c < R (the smallest and the largest) and, on one
    device, ``ONE_BY_ONE``."""
    divisors = [c for c in range(2, r) if r % c == 0]
    return ([None, 1] + sorted({divisors[0], divisors[-1]} if divisors else set())
            + ([ONE_BY_ONE] if one_device else []))


def describe(chunk) -> str:
    """``"vmap"``, ``"sequential"``, ``"chunks of c"`` or ``"one by one"``."""
    if chunk == ONE_BY_ONE:
        return ONE_BY_ONE
    return "vmap" if chunk is None else "sequential" if chunk == 1 else f"chunks of {chunk}"


def one_by_one(program1):
    """``program(carry, specs, shared)`` over R runs from the one-run ``program1``
    (built with a plain :class:`RunMapper`): one call per run, the carries sliced out
    and the results concatenated (history (k, R) on axis 1). A run computes exactly
    what it computes alone."""
    def split_leaf(a, r):      # key arrays through their data (a slice would use the keys)
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            return [jax.random.wrap_key_data(p, impl=jax.random.key_impl(a))
                    for p in jnp.split(jax.random.key_data(a), r)]
        return jnp.split(a, r)

    split = lambda tree, r: [jax.tree.unflatten(jax.tree.structure(tree), parts) for parts in
                             zip(*[split_leaf(a, r) for a in jax.tree.leaves(tree)])]
    memo = {}

    def program(carry, specs, shared):
        r = jax.tree.leaves(carry)[0].shape[0]
        if memo.get("specs") is not specs:
            memo.update(specs=specs, parts=split(specs, r))
        outs = [program1(c, s, shared) for c, s in zip(split(carry, r), memo["parts"])]
        carry = jax.tree.map(lambda *a: jnp.concatenate(a), *[o[0] for o in outs])
        hist = jax.tree.map(lambda *a: jnp.concatenate(a, axis=1), *[o[1] for o in outs])
        return carry, hist
    return program


def wrap(map_info: dict, program, build_one):
    """``program``, or for the ``one by one`` choice :func:`one_by_one` of
    ``build_one()`` (the one-run program): fit's hook."""
    return one_by_one(build_one()) if map_info["choice"] == ONE_BY_ONE else program


def resolve(map_: str, chunk_size: Optional[int], *, model, config, x, y, runs,
            mesh=None) -> tuple:
    """``(chunk_size, info)`` for ``fit``: an explicit ``chunk_size`` wins; ``"vmap"`` →
    None, ``"sequential"`` → 1, ``"chunks"`` needs ``chunk_size``; ``"auto"`` measures (or
    reads the cache) the program sharded over ``mesh`` (None: one device);
    ``"one_by_one"``: see :func:`one_by_one`. ``info`` is what ``FitResult.info["map"]``
    reports."""
    from nnjax import distributed
    n_devices = 1 if mesh is None else mesh.devices.size
    if map_ not in MAPS:
        raise ValueError(f"fit: map must be one of {MAPS}, got {map_!r}.")
    if map_ == "chunks" and chunk_size is None:
        raise ValueError("fit: map='chunks' needs chunk_size=c (the runs per chunk).")
    if map_ == "one_by_one" and chunk_size is None:
        if n_devices > 1:
            raise ValueError("fit: map='one_by_one' runs on one device; pass devices=[one]"
                             " or another map.")
        return None, {"choice": ONE_BY_ONE, "chunk_size": ONE_BY_ONE, "how": "explicit"}
    if chunk_size is not None or map_ != "auto":
        chunk = chunk_size if chunk_size is not None else (1 if map_ == "sequential" else None)
        return chunk, {"choice": describe(chunk), "chunk_size": chunk, "how": "explicit"}
    # "one by one" maps as vmap for everything but the training program (init, test)
    r = runs.size
    local = -(-r // n_devices)                       # runs per device
    several = distributed.process_count() > 1
    flops = forward_flops(model, x) if local > 1 and not several else 0.0
    work = r * x.shape[0] * 3 * flops
    if local == 1 or several or work < MIN_WORK:
        why = ("one run" if r == 1 else "one run per device" if local == 1
               else "several processes" if several
               else f"small program (≈ {work:.2g} FLOPs per epoch < {MIN_WORK:.0e})")
        return None, {"choice": "vmap", "chunk_size": None, "how": f"default: {why}"}
    key = program_key(model, config, tuple(x.shape[1:]), x.dtype, r, n_devices)
    cached = _read_cache().get(key)
    if cached is not None:
        return _chunk(cached["chunk_size"]), {**cached, "how": "cached", "key": key}
    steps = timed_steps(flops, config.batch_size, x.shape[0])
    seconds = measure(model, config, x, y, runs, steps, mesh=mesh)
    best = choose(seconds)
    entry = {"choice": describe(_key_chunk(best)), "chunk_size": _key_chunk(best),
             "seconds_per_run_step": {describe(_key_chunk(k)): v for k, v in seconds.items()},
             "steps": steps, "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_cache(key, entry)
    return _chunk(entry["chunk_size"]), {**entry, "how": "measured", "key": key}


def choose(seconds: dict) -> str:
    """The fastest key of :func:`measure`'s estimates, except that one by one (which costs
    by construction what each run costs alone) stays the choice unless another mapping
    measured at least ``MARGIN`` faster: a smaller lead is within the short measurement's
    noise, and the sweep must not cost more per run than a run alone."""
    best = min(seconds, key=seconds.get)
    if ONE_BY_ONE in seconds and seconds[best] > (1 - MARGIN) * seconds[ONE_BY_ONE]:
        return ONE_BY_ONE
    return best


def _key_chunk(k: str):
    return None if k == "vmap" else k if k == ONE_BY_ONE else int(k)


def _chunk(chunk):
    """The RunMapper chunk size of a choice (``one by one``: the mapper vmaps)."""
    return None if chunk == ONE_BY_ONE else chunk


def forward_flops(model, x) -> float:
    """XLA's FLOP estimate of the model's forward on one example (lowered, not compiled);
    inf when the backend gives none (then "auto" measures)."""
    try:
        params, state = jax.eval_shape(lambda k: model.init(k, tuple(x.shape[1:]))[:2],
                                       jax.random.key(0))
        one = jax.ShapeDtypeStruct((1,) + tuple(x.shape[1:]), x.dtype)
        cost = jax.jit(lambda p, s, v: model.forward(p, s, v)[0]).lower(
            params, state, one).cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return float(cost["flops"])
    except Exception:  # noqa: BLE001 - no estimate: measure rather than guess
        return float("inf")


def program_key(model, config, in_shape, dtype, r: int, n_devices: int = 1) -> str:
    """Hash of what decides the program's speed (not its learning rate or epoch count)."""
    from nnjax.layers import conv_ops
    from nnjax.train.config import config_dict
    cfg = config_dict(config)
    keep = ("batch_size", "optimizer", "loss", "grad", "shuffle", "target", "noise",
            "output_fn", "drop_last")
    desc = [model.name, list(in_shape), str(dtype), r, {k: cfg[k] for k in keep},
            jax.default_backend(), jax.devices()[0].device_kind, os.cpu_count(),
            jax.__version__, conv_ops.resolve(), METHOD] + ([n_devices] if n_devices > 1 else [])
    return hashlib.sha256(json.dumps(desc, default=str).encode()).hexdigest()[:20]


def timed_steps(forward: float, batch_size: int, n_train: int) -> int:
    """Training steps k each candidate is timed on: enough that one run's call does
    ``CALL_FLOPS`` (3 × batch × ``forward``, the FLOPs of one example's forward, per
    step), at least ``STEPS``, at most the epoch's steps. A call also pays a fixed cost
    (dispatch, the shuffle, cold caches), estimated from two step counts and extrapolated
    E/k-fold (:func:`measure`): on a cheap step (the MNIST MLP's: ≈ 0.04 GFLOP) three
    steps take a few milliseconds, timer and load noise swamp the per-step cost, and the
    extrapolation can rank the mappings the wrong way round."""
    step = 3 * batch_size * forward
    k = int(np.ceil(CALL_FLOPS / step)) if np.isfinite(step) and step > 0 else STEPS
    return int(min(max(k, STEPS), max(1, n_train // batch_size)))


def measure(model, config, x, y, runs, k1: int = STEPS, mesh=None) -> dict:
    """Estimated seconds per run and training step of a full epoch for each
    :func:`candidates` mapping (of each device's share of the runs when ``mesh`` shards
    them). Each is the per-run epoch of
    :func:`nnjax.train.program.build` on the first ``k1`` (:func:`timed_steps`) batches,
    compiled and run once to warm up, then timed (best of at least two calls) in
    interleaved rounds (up to ten, until each was timed for 0.5 s). Keys: ``"vmap"``, the chunk size or ``"one by
    one"``.

    A call costs ``f + k·c`` for k steps: f, fixed per call (dispatch, the epoch's
    shuffle, the first step's cold caches), weighs E/k times more on k steps
    than in fit's epoch of E steps, and one by one pays it once per run where the other
    mappings pay it once per R runs. So the one-run program is also timed on
    k₂ = min(E, 2·k) batches, ``f = (k₂·t₁ − k·t₂)/(k₂ − k)`` (clipped to [0, t₁]),
    and a candidate whose call of r runs took t is estimated at
    ``(f + (t − f)·E/k)/(r·E)`` per run-step of the epoch."""
    from nnjax.train.parallel import RunMapper
    from nnjax.train.runs import select
    from nnjax.train.setup import prepare

    epoch_steps = max(1, x.shape[0] // config.batch_size)
    k1 = min(k1, epoch_steps)
    k2 = min(epoch_steps, 2 * k1)
    cfg = config.replace(epochs_per_call=1, epochs=1, early_stopping=None, drop_last=True)
    r = runs.size
    d = 1 if mesh is None else mesh.devices.size
    live = {}
    plan = [(chunk, k1) for chunk in candidates(-(-r // d), one_device=d == 1)]
    plan += [("fixed", k2)] if k2 > k1 and d == 1 else []
    for chunk, k in plan:
        n = k * config.batch_size
        xs, ys = x[:n], (None if y is None else y[:n])
        one = chunk in (ONE_BY_ONE, "fixed")
        mapper = RunMapper(chunk_size=None if one else chunk, mesh=mesh)
        subset = select(runs, np.arange(1)) if one else runs      # one run's program
        prep = prepare(model, cfg, subset, xs, ys, mapper=mapper)
        init, program, specs, shared = prep.init, prep.program, prep.specs, prep.shared
        carry, h = program(init(specs, None), specs, shared)      # compile and warm up
        jax.block_until_ready(h)
        live[chunk] = [program, carry, specs, shared, [], prep.n_train // config.batch_size]
    # interleaved rounds (outside load hits every candidate alike): at least 2, more (≤ 10)
    # until every candidate was timed for 0.5 s
    rounds = 0
    while rounds < 2 or (rounds < 10 and min(sum(v[4]) for v in live.values()) < 0.5):
        for entry in live.values():
            program, carry, specs, shared, times, _ = entry
            t0 = time.perf_counter()
            entry[1], h = program(carry, specs, shared)
            jax.block_until_ready(h)
            times.append(time.perf_counter() - t0)
        rounds += 1
    fixed = 0.0
    if "fixed" in live:
        *_, times2, s2 = live.pop("fixed")
        fixed = fixed_cost(min(live[ONE_BY_ONE][4]), live[ONE_BY_ONE][5], min(times2), s2)
    return {"vmap" if chunk is None else str(chunk):
            per_run_step(min(times), steps, 1 if chunk == ONE_BY_ONE else r, fixed, epoch_steps)
            for chunk, (*_, times, steps) in live.items()}


def fixed_cost(t1: float, k1: int, t2: float, k2: int) -> float:
    """f of ``t = f + k·c`` from calls of k1 and k2 > k1 steps (t1, t2), clipped to
    [0, t1]; 0 when k2 ≤ k1."""
    if k2 <= k1:
        return 0.0
    return min(max((k2 * t1 - k1 * t2) / (k2 - k1), 0.0), t1)


def per_run_step(t: float, k: int, runs: int, fixed: float, epoch_steps: int) -> float:
    """Seconds per run and step of an epoch of ``epoch_steps`` steps, from a call of
    ``runs`` runs × k steps that took t: ``(f + (t − f)·E/k)/(runs·E)``."""
    return (fixed + (t - fixed) * epoch_steps / k) / (runs * epoch_steps)


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
