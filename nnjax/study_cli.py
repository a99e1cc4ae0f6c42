"""``nnjax list | run | report``: the studies, built-in and a user's, found by path
(:mod:`nnjax.studies`). A user's mistake ends with one line on stderr and exit code 2;
``--debug`` shows the traceback instead."""
from __future__ import annotations

from pathlib import Path

from nnjax import distributed, preload, studies as finder
from nnjax.cli_guard import guarded
from nnjax.results import read_json, write_bytes_atomic
from nnjax.sweep.claims import add_worker_flags
from nnjax.train.callbacks import add_log_flag
from nnjax.study import (RESULTS_BEGIN, RESULTS_END, StudyError, headline_lines,
                         replace_results_table, results_table, resolve_settings, run_study,
                         write_report)


def _user_errors():
    from nnjax.data.idx import IdxError
    from nnjax.data.registry import IntegrityError
    from nnjax.data.resolve import DataNotFoundError
    from nnjax.data.sources import SourceError
    from nnjax.results import CorruptResultError
    from nnjax.sweep.claims import ShardError
    from nnjax.distributed import DistributedError
    return (DistributedError, StudyError, ShardError, DataNotFoundError, SourceError,
            IntegrityError, IdxError,
            CorruptResultError)


def _guarded(func):
    return guarded(func, _user_errors)


def _folders(args) -> list:
    return list(getattr(args, "studies", None) or [])


def _list(args) -> int:
    sources = finder.folder_attribute("SOURCES", {}, _folders(args))
    for name, study in finder.discover(finder.search_path(_folders(args))).items():
        presets = ", ".join(p for p in study.presets if p != "tiny")
        print(f"{name:24} {sources.get(study.seed_report, study.seed_report):18}"
              f" {study.title}  [presets: {presets}]")
    return 0


def _run(args) -> int:
    from nnjax.sweep.claims import Pending, workers_from_args
    workers = workers_from_args(args)
    folders = _folders(args)
    in_cluster = distributed.from_args(args)
    quiet = in_cluster and not distributed.is_writer()  # process 0 reports
    if args.name == "all":
        chosen = list(finder.discover(finder.search_path(folders)).values())
    else:
        chosen = [finder.find(args.name, folders)]
        if chosen[0].cpu_devices and not in_cluster:
            from nnjax.train.cpu_devices import use_cpu_cores
            use_cpu_cores()                    # before the study's first JAX operation
    preload.in_background("nnjax.analysis.plots")   # matplotlib, while the data loads
    for study in chosen:
        preset = args.preset or study.default_preset
        if preset not in study.presets and args.name == "all":
            preset = study.default_preset
        resolve_settings(study, preset, args.seeds, args.epochs)     # a mistake: before any output
        if not quiet:
            print(f"== {study.name} (preset {preset})", flush=True)
        try:
            path = run_study(study, Path(args.out), preset, seeds=args.seeds,
                             epochs=args.epochs, data_dir=args.data_dir,
                             progress=False if args.no_progress else None,
                             fetch=not args.no_fetch, epoch_log=args.log, workers=workers)
        except Pending as e:          # other workers hold the rest; the last one finishes
            print(f"   {e}", flush=True)
            continue
        if quiet:
            continue
        lines = headline_lines(study, read_json(path))
        if lines:
            print("   ours: IQM [Q1–Q3]; 95% CI of the IQM; runs; published:")
            print("\n".join(lines))
        print(f"   results: {path}\n   figures: {path.parent}/*.png", flush=True)
    return 0


def _report(args) -> int:
    folders = _folders(args)
    path = write_report(Path(args.out), finder.discover(finder.search_path(folders)),
                        intro=finder.folder_attribute("REPORT_INTRO", None, folders),
                        sources=finder.folder_attribute("SOURCES", {}, folders))
    print(f"report: {path}")
    if args.readme:
        readme = Path(args.readme)
        table = results_table(Path(args.out), finder.discover(finder.search_path(folders)),
                              finder.folder_attribute("SOURCES", {}, folders))
        write_bytes_atomic(readme, replace_results_table(readme.read_text(), table).encode())
        print(f"results table: {readme}")
    return 0


def _studies_option(p) -> None:
    p.add_argument("--studies", action="append", metavar="DIR",
                   help="a folder of study files, searched first (repeatable; also"
                        " $NNJAX_STUDIES, then ./experiments and the built-in studies)")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def add_subparsers(sub) -> None:
    p = sub.add_parser("list", help="list the studies (built-in and yours)")
    _studies_option(p)
    p.set_defaults(func=_guarded(_list))

    p = sub.add_parser("run", help="run a study (by name or FILE.py, or all) and write"
                                   " results.json and figures")
    p.add_argument("name", help="a study name from `nnjax list`, the path of a study file,"
                                " or 'all'")
    p.add_argument("--preset", help="quick (about two minutes), paper (the report's"
                   " configuration) or cpu where given; default: the study's default")
    p.add_argument("--seeds", type=int, help="override the number of seeds (≥ 1)")
    p.add_argument("--epochs", type=int, help="override the (maximum) number of epochs (≥ 1)")
    p.add_argument("--out", default="runs", help="output folder (default: runs)")
    p.add_argument("--data-dir", help="folder with the IDX files (else the cache)")
    p.add_argument("--no-fetch", action="store_true",
                   help="do not download missing datasets (fail instead)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_log_flag(p)
    add_worker_flags(p)
    distributed.add_arguments(p)
    _studies_option(p)
    p.set_defaults(func=_guarded(_run))

    p = sub.add_parser("report", help="write REPORT.md from the results in --out")
    p.add_argument("--out", default="runs", help="the folder `nnjax run` wrote (default: runs)")
    p.add_argument("--readme", metavar="FILE", help="also fill the results table between"
                   f" the {RESULTS_BEGIN} and {RESULTS_END} markers of FILE")
    _studies_option(p)
    p.set_defaults(func=_guarded(_report))
