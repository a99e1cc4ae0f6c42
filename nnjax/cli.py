"""The ``nnjax`` command: ``gradcheck``, ``data``, ``list``, ``run``, ``report``."""
from __future__ import annotations

import argparse
import sys


def _gradcheck(args) -> int:
    from nnjax.gradcheck.cases import run_all

    header = f"{'':6} {'name':58} {'exact (f64)':>12} {'finite diff':>11} {'float32 jit':>12}  ok"
    print(header)
    print("-" * len(header))
    failures = 0
    for section, r in run_all(args.only):
        mark = "PASS" if r.ok else "FAIL"
        failures += not r.ok
        print(f"{section:6} {r.name[:58]:58} {r.exact:12.1e} {'ok' if r.finite_diff else 'FAIL':>11}"
              f" {r.float32:12.1e}  {mark}", flush=True)
        if r.detail:
            print(f"{'':6}   ↳ {r.detail}")
    print("-" * len(header))
    print("exact: max rel. error of the manual backward vs jax.vjp in float64 (≤ 1e-10);"
          " finite diff: jax.test_util.check_grads on the custom_vjp adapter;"
          " float32 jit: rel. error of the jitted float32 backward (≤ 1e-4).")
    print(f"{failures} failed" if failures else "all gradient checks passed")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnjax", description="Neural networks from first principles in JAX.")
    from nnjax import __version__
    parser.add_argument("--version", action="version", version=f"nnjax {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("gradcheck", help="check every built-in layer, loss and model's backward")
    p.add_argument("--only", help="only cases whose name contains this text")
    p.set_defaults(func=_gradcheck)

    from nnjax.sweep.cli import add_subparser as add_sweep
    add_sweep(sub)
    try:
        from nnjax.data.cli import add_subparser as add_data
    except ImportError:  # pragma: no cover
        add_data = None
    if add_data is not None:
        add_data(sub)
    try:
        from experiments.cli import add_subparsers as add_experiments
    except ImportError:  # pragma: no cover
        add_experiments = None
    if add_experiments is not None:
        add_experiments(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
