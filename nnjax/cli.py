"""The ``nnjax`` command: ``gradcheck``, ``data``, ``list``, ``run``, ``report``."""
from __future__ import annotations

import argparse
import sys

from nnjax.gradcheck.cli import add_gradcheck


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnjax", description="Neural networks from first principles in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)

    add_gradcheck(sub)

    try:
        from nnjax.data.cli import add_subparser as add_data
    except ImportError:  # pragma: no cover
        add_data = None
    if add_data is not None:
        add_data(sub)
    from nnjax.study_cli import add_subparsers as add_studies
    add_studies(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
