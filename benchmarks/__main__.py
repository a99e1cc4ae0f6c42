"""``python -m benchmarks [--quick | --tiny] [--only NAME[,NAME]] [--out DIR]``

Times seed 001's MNIST MLP (one epoch, S seeds) with every contender, each case in its
own subprocess, and writes ``DIR/<date>-<host>.json``, ``.md``, ``.png`` and
``DIR/LATEST.md`` (a subset run, ``--only``, writes ``DIR/<date>-<host>-only-<names>.*``
and leaves the day's full run and LATEST.md alone). Contenders (each module's docstring says how it trains): nnjax (with
its grad=autodiff and 1-vs-2-devices comparison cases), jax_plain, torch_mlp, torch_func,
flax_nnx, numpy, roofline. The "What was tried" section comes from benchmarks/TRIED.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys

from benchmarks import report, runner
from benchmarks.common import Settings


def parse(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="S = 1 and 15, 2 repeats, smaller fractions (a few minutes)")
    mode.add_argument("--tiny", action="store_true",
                      help="512 images, S ≤ 2, 1 repeat: checks the code path, not speed")
    p.add_argument("--only", default="",
                   help=f"comma-separated subset of: {', '.join(runner.FAMILIES)}")
    p.add_argument("--out", default=os.path.join("benchmarks", "results"),
                   help="output directory (default benchmarks/results)")
    p.add_argument("--data", choices=("auto", "mnist", "random"), default=None,
                   help="MNIST via nnjax.data, random float32 of the same shape, or auto "
                        "(MNIST if it loads; default; --tiny defaults to random)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run the whole plan this many times, one pass after another, and "
                        "pool each case's repeats (spreads outside load over all contenders)")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="run every case in this process (faster; memory is then only an "
                        "RSS delta)")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(sys.argv[1:] if argv is None else argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    settings = Settings.for_mode(mode)
    data_source = args.data or ("random" if mode == "tiny" else "auto")
    only = [n.strip() for n in args.only.split(",") if n.strip()] or None
    cases, skipped = runner.plan(settings, only)
    for name, why in skipped.items():
        print(f"skipping {name}: {why}")
    load_start = os.getloadavg()
    now = datetime.datetime.now()
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    records, used = runner.run_all(cases, settings, data_source, args.isolate, args.rounds)
    payload = report.build_payload(records, settings, used, skipped, load_start, now,
                                   args.rounds, only)
    paths = report.write_all(args.out, payload)
    print()
    for g in payload["goals"]:
        res = {True: "pass", False: "MISS", None: "n/a"}[g["passed"]]
        val = "–" if g["measured"] is None else f"{g['measured']:.2f}"
        print(f"{res:5s} {g['goal']}: {val} (target {g['target']})")
    print("\nwrote " + ", ".join(paths.values()))
    return paths


if __name__ == "__main__":
    main()
