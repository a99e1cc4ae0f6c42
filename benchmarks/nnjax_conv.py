"""The nnjax contender on the conv-AE workload (:mod:`benchmarks.conv_ae`): ``fit`` itself.

Each repeat is one ``fit(..., epochs=1, verify=False)`` call of S runs (seeds 0..S−1,
per-run batch order, the default); its time is ``info["train_seconds"]`` divided by S
(seconds per run-epoch). The first call compiles (``compile_s`` = first minus a steady
call). Variants:

* ``alone``: one run (S = 1); ``whole_batch``: the same without ``microbatch`` (each
  step's batch in one piece);
* ``vmap``, ``sequential``, ``chunks2`` / ``chunks9``, ``one_by_one``: S runs under that
  mapping (``fit``'s ``map=``/``chunk_size=``);
* ``auto``: ``map="auto"`` with an empty cache, so it measures its candidates in this
  process; the record's notes name its choice and ``auto_choice`` holds it.
* ``<mapping>_<d>dev`` (e.g. ``auto_2dev``): the same sweep with one JAX device per CPU
  core (d = :data:`CORES`, ``Case.devices``: its own process), the runs sharded over the
  devices and each device's share mapped that way; how ``nnjax run conv-ae`` trains
  (``Study(cpu_devices=True)``, :mod:`nnjax.train.cpu_devices`).

Every variant uses the default convolution lowering of the backend
(:mod:`nnjax.layers.conv_ops`; ``lowering_<name>`` variants force one, alone) and
computes each step's gradient in chunks of :data:`benchmarks.conv_ae.MICROBATCH`
images (``TrainConfig.microbatch``).
"""
from __future__ import annotations

import os
import tempfile

from benchmarks import conv_ae
from benchmarks.common import Case, Data, Result, Workload, split_devices

MAPS = {"vmap": dict(map="vmap"), "sequential": dict(map="sequential"),
        "chunks2": dict(map="chunks", chunk_size=2), "chunks9": dict(map="chunks", chunk_size=9),
        "one_by_one": dict(map="one_by_one"), "auto": dict(map="auto"),
        "alone": dict(map="vmap")}
CORES = min(os.cpu_count() or 1, 8)     # devices of the one-device-per-core sweeps


def cases(settings) -> list:
    """Alone (and alone under each other lowering; quick mode skips ``xla``); 4 runs under
    every mapping and auto, on one device and (``auto_<d>dev``, ``sequential_<d>dev``,
    ``vmap_<d>dev``) on one device per core; 27 runs (the conv-ae grid's size): auto in quick mode (its notes list what every candidate
    measured) on one device and one per core, every mapping in full mode (vmapping 27
    conv runs at once holds 27 runs' activations and patches: several GB)."""
    from nnjax.layers import conv_ops
    r, tiny = settings.repeats, settings.mode == "tiny"
    sweep = 2 if tiny else 4
    out = [Case("conv_nnjax", "alone", 1, r)]
    if not tiny:        # the A/B of TrainConfig.microbatch: alone, the batch in one piece
        out.append(Case("conv_nnjax", "whole_batch", 1, r))
    if tiny:            # the code path only: alone, vmapped and auto (which takes vmap)
        return out + [Case("conv_nnjax", v, sweep, r) for v in ("vmap", "auto")]
    full = settings.mode == "full"
    # "alone" runs the backend's default; quick mode skips XLA's conv (≈ 10× slower on CPU)
    out += [Case("conv_nnjax", f"lowering_{name}", 1, r) for name in conv_ops.LOWERINGS
            if full or name not in ("xla", conv_ops.resolve())]
    out += [Case("conv_nnjax", v, sweep, r)
            for v in ("vmap", "sequential", "chunks2", "one_by_one", "auto")]
    grid = ("vmap", "sequential", "chunks9", "one_by_one", "auto") if full else ("auto",)
    out += [Case("conv_nnjax", v, 27, 2 if full else 1) for v in grid]
    if CORES > 1:        # one device per core, as `nnjax run conv-ae` trains
        out += [Case("conv_nnjax", f"{v}_{CORES}dev", sweep, r, devices=CORES)
                for v in ("vmap", "sequential", "auto")]
        out.append(Case("conv_nnjax", f"auto_{CORES}dev", 27, 2 if full else 1,
                        devices=CORES))
    return out



def train_config(n_images: int, *, epochs: int = 1, chunked: bool = True):
    """The conv AE's ``TrainConfig`` for ``n_images`` images: Adam at
    :data:`~benchmarks.conv_ae.LR`, MSE on the input, batches of
    :func:`~benchmarks.conv_ae.batch_size` (the last partial one dropped), each step's
    gradient in chunks of :func:`~benchmarks.conv_ae.microbatch` (``chunked=False``: the
    batch in one piece)."""
    from nnjax.train import TrainConfig
    batch = conv_ae.batch_size(n_images)
    return TrainConfig(epochs=epochs, batch_size=batch, optimizer="adam",
                       learning_rate=conv_ae.LR, loss="mse", target="input", drop_last=True,
                       microbatch=conv_ae.microbatch(batch) if chunked else None)


def flops_per_seed_epoch(data: Data) -> float:
    return conv_ae.flops_per_run_epoch(len(conv_ae.images(data.x)))


def run(case: Case, data: Data, workload: Workload) -> Result:
    from nnjax.layers import conv_ops
    from nnjax.models import conv_autoencoder
    from nnjax.train import fit

    x = conv_ae.images(data.x)
    lowering = case.variant[len("lowering_"):] if case.variant.startswith("lowering_") else None
    with conv_ops.lowering(lowering or conv_ops.resolve()):
        model = conv_autoencoder(conv_ae.CODE, channels=conv_ae.CHANNELS, hidden=conv_ae.HIDDEN)
        used = conv_ops.resolve()
    config = train_config(len(x), chunked=case.variant != "whole_batch")
    kw = MAPS.get(split_devices(case.variant)[0], MAPS["alone"])
    old = os.environ.get("NNJAX_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["NNJAX_CACHE_DIR"] = cache           # auto measures here, in this run
        try:
            call = lambda: fit(model, config, x, runs=case.seeds, verify=False,
                               progress=False, **kw)
            first = call()
            seconds, loss, res = [], None, first
            for _ in range(case.repeats):
                res = call()
                seconds.append(res.info["train_seconds"] / case.seeds)
                loss = float(res.history["train_loss"][:, -1].mean())
        finally:
            if old is None:
                os.environ.pop("NNJAX_CACHE_DIR", None)
            else:
                os.environ["NNJAX_CACHE_DIR"] = old
    steady = sorted(seconds)[len(seconds) // 2] * case.seeds
    choice = first.info["map"]["choice"]
    executed = conv_ae.executed_flops_per_image(used) * conv_ae.batch_size(len(x)) * (
        len(x) // conv_ae.batch_size(len(x)))
    notes = (f"fit, lowering {used}, microbatch {config.microbatch}, "
             f"runs mapped by {choice} ({first.info['map']['how']})"
             + (f" on {first.info['devices']} devices" if first.info["devices"] > 1 else "")
             + "; "
             f"executed {executed / steady * case.seeds / 1e9:.1f} GFLOP/s "
             f"({conv_ae.executed_flops_per_image(used) / 1e6:.2f} MFLOP per image)")
    if "seconds_per_run_step" in first.info["map"]:
        notes += "; auto measured s/run-step " + ", ".join(
            f"{k} {v:.4f}" for k, v in first.info["map"]["seconds_per_run_step"].items())
    return Result(seconds, max(0.0, first.info["train_seconds"] - steady),
                  "first fit call minus a steady one", loss, "per_run", notes)


PROFILE_VARIANTS = ("alone", "vmap", "sequential", "chunks2")


def epoch_program(x, seeds: int, variant: str):
    """The conv AE's training epoch as ``fit`` compiles it (set up by
    :func:`nnjax.train.setup.prepare`, fit's own set-up; no validation), wrapped as a
    :class:`benchmarks.jax_plain.EpochProgram` for the profiler: ``epoch((carry, e), x,
    y)``. ``variant``: one of PROFILE_VARIANTS (``alone`` is one run; the others map
    ``seeds`` runs that way)."""
    import jax.numpy as jnp

    from benchmarks.jax_plain import EpochProgram
    from nnjax.models import conv_autoencoder
    from nnjax.train.parallel import RunMapper
    from nnjax.train.runs import make_runs
    from nnjax.train.setup import prepare

    seeds = 1 if variant == "alone" else seeds
    chunk = {"alone": None, "vmap": None, "sequential": 1, "chunks2": 2}[variant]
    model = conv_autoencoder(conv_ae.CODE, channels=conv_ae.CHANNELS, hidden=conv_ae.HIDDEN)
    config = train_config(len(x), epochs=1_000_000)
    prep = prepare(model, config, make_runs(seeds), x, None, mapper=RunMapper(chunk_size=chunk))
    shared0 = prep.shared._replace(x=None)

    def epoch(carry, x, y):
        state, e = carry
        state, hist = prep.program(state, prep.specs, shared0._replace(x=x, epoch0=e))
        return (state, e + 1), hist["train_loss"][0]

    return EpochProgram(epoch, (prep.init(prep.specs, None), jnp.int32(0)), "per_run",
                        f"nnjax fit program, runs mapped by {variant}")
