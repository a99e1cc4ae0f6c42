"""The persistent compilation cache: on by default in a user cache directory, switchable."""
import os
import subprocess
import sys

PROBE = """
import jax, jax.numpy as jnp
from nnjax.train import compile_cache
jax.jit(lambda x: x + 1)(jnp.ones(3)).block_until_ready()   # a compile before enabling
path = compile_cache.enable()
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.jit(lambda x: jnp.sin(x) * 3)(jnp.ones(5)).block_until_ready()
print(path)
"""


def probe(env):
    full = {k: v for k, v in os.environ.items() if k != "NNJAX_COMPILATION_CACHE"}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_cache_dir_default_path_and_off(tmp_path):
    assert probe({"XDG_CACHE_HOME": str(tmp_path)}) == str(tmp_path / "nnjax-xla")
    assert any((tmp_path / "nnjax-xla").iterdir())          # a program was stored
    assert probe({"NNJAX_COMPILATION_CACHE": "off", "XDG_CACHE_HOME": str(tmp_path / "x")}) == "None"
    assert not (tmp_path / "x").exists()
    mine = tmp_path / "mine"
    assert probe({"NNJAX_COMPILATION_CACHE": str(mine)}) == str(mine)
    assert any(mine.iterdir())
