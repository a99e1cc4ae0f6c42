"""``nnjax sweep FILE.toml [--out DIR]``: a user's own sweep, no study module needed.

A malformed file or missing data ends with one line on stderr and exit code 2 (``--debug``
shows the traceback); nothing is written before the whole file has been checked.
"""
from __future__ import annotations

import sys

from nnjax.cli_guard import guarded


def _errors() -> tuple:
    from nnjax.data import DataNotFoundError
    from nnjax.distributed import DistributedError
    from nnjax.sweep.claims import ShardError
    from nnjax.sweep.file import SweepFileError
    from nnjax.train import GradientCheckError
    return (ShardError, DistributedError, SweepFileError, GradientCheckError,
            DataNotFoundError)


def _message(err, args) -> str:
    from nnjax.train import GradientCheckError
    if isinstance(err, GradientCheckError):   # a user's layer whose backward is wrong
        return f"{args.file}: {err}".replace("\n", " ")
    return str(err)


def _sweep(args) -> int:
    from nnjax.data import DataNotFoundError
    from nnjax.sweep.claims import Pending, workers_from_args
    from nnjax.sweep.file import load
    from nnjax.sweep.run import run_file
    from nnjax.distributed import from_args, is_writer
    if not from_args(args):               # jax.distributed first, before any device is used
        from nnjax.train.cpu_devices import use_cpu_cores
        use_cpu_cores()                   # one JAX device per CPU core: runs sharded over them
    workers = workers_from_args(args)
    spec = load(args.file)
    try:
        folder = run_file(spec, args.out, fetch=not args.no_fetch, data_dir=args.data_dir,
                          progress=False if args.no_progress else None, epoch_log=args.log,
                          workers=workers)
    except Pending as e:                  # other workers hold the rest; one of them merges
        print(f"nnjax sweep: {e}", file=sys.stderr)
        return 0
    except DataNotFoundError as e:
        if not args.no_fetch:
            raise
        first = str(e).splitlines()[0]
        raise DataNotFoundError(f"{first} Not fetched (--no-fetch): run `nnjax data fetch "
                                f"{spec.data}` or drop --no-fetch.") from e
    if is_writer():                       # with several processes, process 0 reports
        print(f"results: {folder}/results.json, runs.csv, summary.md, curves-*.png", flush=True)
    return 0


def add_subparser(sub) -> None:
    from nnjax.distributed import add_arguments as add_distributed
    from nnjax.sweep.claims import add_worker_flags
    from nnjax.train.callbacks import add_log_flag
    p = sub.add_parser("sweep", help="run your own sweep from a TOML file (see the README)",
                       description="Train every point of a sweep file; resumes finished points.")
    p.add_argument("file", help="the sweep file (.toml)")
    p.add_argument("--out", default="runs",
                   help="output folder; results go to OUT/NAME (default: runs)")
    p.add_argument("--data-dir", help="folder with the IDX files (else $NNJAX_DATA_DIR, the cache)")
    p.add_argument("--no-fetch", action="store_true",
                   help="do not download missing data (fail instead)")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch progress bar")
    add_log_flag(p)
    add_worker_flags(p)
    add_distributed(p)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    p.set_defaults(func=guarded(_sweep, _errors, _message))

