"""nnjax.train.cpu_devices: one JAX device per core, set only before the backend starts and
only when the user chose no device count. Each case runs in a fresh process (the device
count is fixed when JAX starts); that sharded runs equal one-device runs is
tests/test_sharding.py."""
import os

from jax_process import run_json

SCRIPT = r"""
import json, jax
from nnjax.train.cpu_devices import use_cpu_cores
first = use_cpu_cores(2)
count = jax.device_count()
again = use_cpu_cores(3)           # the backend has started: nothing changes
print("RESULT", json.dumps([first, count, again, jax.device_count()]))
"""


def _run(**env_extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("JAX_NUM_CPU_DEVICES", "NNJAX_CPU_DEVICES")}
    env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split()
                                if "device_count" not in f)
    env.update(env_extra)
    return run_json(SCRIPT, env=env, timeout=120)


def test_sets_the_device_count_before_the_backend_starts_and_not_after():
    assert _run() == [2, 2, None, 2]


def test_a_device_count_the_user_chose_is_kept():
    assert _run(JAX_NUM_CPU_DEVICES="1") == [None, 1, None, 1]


def test_off_by_environment():
    assert _run(NNJAX_CPU_DEVICES="off") == [None, 1, None, 1]
