"""Strict test configuration: rank-promotion errors and JAX's key-reuse checker.

Both are applied with JAX's context managers around every test (never a global flip).
A test that must run without them (e.g. through Optax internals) is marked
``@pytest.mark.lenient``.

The suite compiles some hundred small XLA programs and runs each on tiny data, so LLVM's
optimisation of the generated CPU code costs far more than it saves: tests run with
``--xla_backend_optimization_level=0`` (appended to ``XLA_FLAGS`` unless a level is set
there already). The HLO passes are unchanged; the kernels LLVM emits round differently:
one manual gradient of the MNIST MLP (batch 128) differs from the default level's in the
last bits of 87% of its entries, by at most 4e-9 of the largest entry. Measured on the
2-core machine: `python -m benchmarks --tiny --no-isolate` 108 s at the default level,
57 s at 0; the whole suite 12.8 → 8.2 min.
"""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NNJAX_COMPILATION_CACHE", "off")   # tests write nothing to ~/.cache
os.environ.setdefault("NNJAX_GRADCHECK_CACHE", "off")
os.environ.setdefault("NNJAX_CPU_DEVICES", "off")         # one device, whichever test runs first
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()

import jax
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "lenient: run without the strict JAX checks")


@pytest.fixture(autouse=True)
def strict_jax(request):
    if request.node.get_closest_marker("lenient"):
        yield
        return
    with jax.numpy_rank_promotion("raise"), jax.debug_key_reuse(True):
        yield
