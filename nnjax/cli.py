"""The ``nnjax`` command: ``gradcheck``, ``sweep``, ``data``, ``list``, ``run``, ``report``."""
from __future__ import annotations

import argparse
import gc
import sys

from nnjax.data.cli import add_subparser as add_data
from nnjax.gradcheck.cli import add_gradcheck
from nnjax.study_cli import add_subparsers as add_studies
from nnjax.sweep.cli import add_subparser as add_sweep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnjax", description="Neural networks from first principles in JAX.")
    from nnjax import __version__
    parser.add_argument("--version", action="version", version=f"nnjax {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    add_gradcheck(sub)

    add_sweep(sub)
    add_data(sub)
    add_studies(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from nnjax.train import compile_cache
    compile_cache.enable()          # before any compilation (data staging included)
    return int(args.func(args) or 0)


def entry() -> None:
    """The ``nnjax`` command (console script and ``python -m nnjax.cli``): :func:`main`,
    then exit. Every output is written and closed by then, so the objects alive now are
    frozen (``gc.freeze``): interpreter shutdown would otherwise run the cycle collector
    over everything jax and matplotlib built, a noticeable part of a short command."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
