"""Strict test configuration: rank-promotion errors and JAX's key-reuse checker.

Both are applied with JAX's context managers around every test (never a global flip).
A test that must run without them (e.g. through Optax internals) is marked
``@pytest.mark.lenient``.
"""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

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
