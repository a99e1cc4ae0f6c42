"""``nnjax list | run | report`` (wired into ``nnjax.cli``)."""
from __future__ import annotations

from pathlib import Path


def _list(args) -> int:
    from experiments import studies
    for name, study in studies().items():
        presets = ", ".join(p for p in study.presets if p != "tiny")
        print(f"{name:24} seed {study.seed_report}  {study.title}  [presets: {presets}]")
    return 0


def _run(args) -> int:
    from experiments import get, studies
    from experiments.base import run_study
    names = list(studies()) if args.name == "all" else [args.name]
    for name in names:
        study = get(name)
        preset = args.preset or study.default_preset
        if preset not in study.presets and args.name == "all":
            preset = study.default_preset
        print(f"== {name} (seed {study.seed_report}, preset {preset})", flush=True)
        path = run_study(study, Path(args.out), preset, seeds=args.seeds, epochs=args.epochs,
                         data_dir=args.data_dir, progress=False if args.no_progress else None)
        print(f"   results: {path}\n   figures: {path.parent}/*.png", flush=True)
    return 0


def _report(args) -> int:
    from experiments.report import write_report
    path = write_report(Path(args.out))
    print(f"report: {path}")
    return 0


def add_subparsers(sub) -> None:
    p = sub.add_parser("list", help="list the studies nnjax reproduces")
    p.set_defaults(func=_list)

    p = sub.add_parser("run", help="run a study (or all) and write results.json and figures")
    p.add_argument("name", help="a study name from `nnjax list`, or 'all'")
    p.add_argument("--preset", help="quick (about two minutes), paper (the report's"
                   " configuration) or cpu where given; default: the study's default")
    p.add_argument("--seeds", type=int, help="override the number of seeds")
    p.add_argument("--epochs", type=int, help="override the (maximum) number of epochs")
    p.add_argument("--out", default="runs", help="output folder (default: runs)")
    p.add_argument("--data-dir", help="folder with the IDX files (else the cache)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)

    p = sub.add_parser("report", help="write REPORT.md from the results in --out")
    p.add_argument("--out", default="runs", help="the folder `nnjax run` wrote (default: runs)")
    p.set_defaults(func=_report)
