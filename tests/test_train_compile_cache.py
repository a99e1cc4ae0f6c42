"""The persistent compilation cache: on by default in a user cache directory, switchable."""
import os
import subprocess
import sys

PROBE = """
import jax, jax.numpy as jnp
from nnjax.train import compile_cache
jax.jit(lambda x: x + 1)(jnp.ones(3)).block_until_ready()   # a compile before enabling
path = compile_cache.enable()
jax.jit(lambda x: jnp.sin(x) * 3)(jnp.ones(5)).block_until_ready()   # quick: stored anyway
print(jax.config.jax_persistent_cache_min_compile_time_secs, path)
"""


def probe(env):
    full = {k: v for k, v in os.environ.items() if k != "NNJAX_COMPILATION_CACHE"}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True,
                         text=True, check=True)
    threshold, path = out.stdout.strip().splitlines()[-1].split(" ", 1)
    return path if "threshold" not in env else (float(threshold), path)


def test_cache_dir_default_path_and_off(tmp_path):
    assert probe({"XDG_CACHE_HOME": str(tmp_path)}) == str(tmp_path / "nnjax-xla")
    assert any((tmp_path / "nnjax-xla").iterdir())  # a quick program was stored (JAX: ≥ 1 s)
    assert probe({"NNJAX_COMPILATION_CACHE": "off", "XDG_CACHE_HOME": str(tmp_path / "x")}) == "None"
    assert not (tmp_path / "x").exists()
    mine = tmp_path / "mine"
    assert probe({"NNJAX_COMPILATION_CACHE": str(mine)}) == str(mine)
    assert any(mine.iterdir())


def test_a_threshold_the_user_set_is_kept(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "30",
           "threshold": "1"}
    assert probe(env) == (30.0, str(tmp_path / "nnjax-xla"))
    assert not any((tmp_path / "nnjax-xla").iterdir())    # nothing took 30 s to compile
