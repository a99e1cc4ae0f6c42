"""One JAX device per CPU core, for a process whose sweep shards its runs over them.

XLA's CPU backend is one device by default: a vmapped sweep then runs one op after another,
each spread over the cores (a batched matmul, Adam's pass over the stacked weights, ...).
With one device per core (``jax_num_cpu_devices``), ``fit`` shards the runs over them
(:class:`~nnjax.train.parallel.RunMapper` with a mesh) and each core runs its share of the
runs' ops on its own: the whole ``nnjax run mnist-mlp --preset paper --seeds 15 --epochs
5`` took 11.2 s with two devices against 12.1 s with one on an idle 2-core VM
(``benchmarks/results/2026-12-03-end_to_end.md``), and a 4-run conv-AE sweep 0.475 s per
run-epoch against 0.706 s (``benchmarks/results/2026-12-03-vm-only-conv_torch+conv_nnjax+
roofline.md``). A fit uses at most one device per run, pads the run count to a multiple
of the devices it uses, and a run's numbers equal its one-device numbers within float32
round-off (``tests/test_sharding.py``).

The device count is fixed when JAX starts its backend, so :func:`use_cpu_cores` only acts
before the process's first JAX operation; ``nnjax sweep`` calls it, and ``nnjax run``
for a study that sets ``Study(cpu_devices=True)``. A device count the user chose (``JAX_NUM_CPU_DEVICES``,
``XLA_FLAGS=--xla_force_host_platform_device_count``) is kept, and so is a platform other
than the CPU (``JAX_PLATFORMS``). ``NNJAX_CPU_DEVICES=off`` turns this off (the test
suite does), ``NNJAX_CPU_DEVICES=N`` asks for N devices.
"""
from __future__ import annotations

import os
from typing import Optional

import jax

MAX_DEVICES = 8
ENV = "NNJAX_CPU_DEVICES"
OFF = ("0", "off", "false", "no", "none")


def use_cpu_cores(n: Optional[int] = None) -> Optional[int]:
    """Make the CPU ``n`` JAX devices (default: the cores, at most ``MAX_DEVICES``) if the
    backend has not started and the user set no device count; returns the count set, or
    None when it left JAX as it was."""
    env = os.environ.get(ENV, "").strip().lower()
    if env in OFF:
        return None
    if n is None:
        n = int(env) if env.isdigit() else min(os.cpu_count() or 1, MAX_DEVICES)
    n = int(n)
    if n < 2 or _user_chose():
        return None
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:              # the backend already started: keep its devices
        return None
    return n


def _user_chose() -> bool:
    platforms = os.environ.get("JAX_PLATFORMS", "").strip().lower()
    return (bool(os.environ.get("JAX_NUM_CPU_DEVICES", "").strip())
            or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
            or (bool(platforms) and "cpu" not in platforms.split(","))
            or jax.config.jax_num_cpu_devices not in (-1, None, 1))
