"""The machine's practical roofline: large float32 matmul throughput.

``C = A @ B`` for square n×n float32 matrices (2n³ FLOPs) with NumPy (whatever BLAS
threadpoolctl reports) and with XLA (``jnp.dot`` under ``jax.jit``, results blocked on).
The best of the large sizes is the roofline the MLP contenders' GFLOP/s are held against.
Also reported: the BLAS NumPy runs (threadpoolctl), and the OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE variables as found (never changed here).
"""
from __future__ import annotations

import os
import statistics

import numpy as np

from benchmarks.common import timed


def blas_info() -> dict:
    """threadpoolctl's view of NumPy's BLAS plus the OpenBLAS environment variables."""
    info = {"env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                   "OMP_NUM_THREADS", "XLA_FLAGS")}}
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                   "threading_layer", "architecture", "prefix")}
            for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    return info


def _rate(fn, n: int, repeats: int) -> dict:
    fn()  # warm-up
    seconds = [timed(fn)[0] for _ in range(repeats)]
    flops = 2.0 * n ** 3
    return {"n": n, "median_s": statistics.median(seconds), "min_s": min(seconds),
            "max_s": max(seconds), "gflops": flops / statistics.median(seconds) / 1e9,
            "gflops_best": flops / min(seconds) / 1e9}


def numpy_matmul(n: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    return {"backend": "numpy", **_rate(lambda: a @ b, n, repeats)}


def xla_matmul(n: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    a = jax.device_put(rng.random((n, n), dtype=np.float32))
    b = jax.device_put(rng.random((n, n), dtype=np.float32))
    dot = jax.jit(jnp.dot)
    return {"backend": "xla", **_rate(lambda: dot(a, b).block_until_ready(), n, repeats)}


def run_roofline(sizes, repeats: int) -> dict:
    """Every (backend, n) measurement and the roofline (best median GFLOP/s)."""
    rows = [f(n, repeats) for n in sizes for f in (numpy_matmul, xla_matmul)]
    best = max(rows, key=lambda r: r["gflops"])
    return {"rows": rows, "roofline_gflops": best["gflops"],
            "roofline_source": f"{best['backend']} n={best['n']}", "blas": blas_info()}
