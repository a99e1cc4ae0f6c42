"""``nnjax gradcheck [FILE.py[:NAME]] [--in-shape 5] [--batch 3] [--train] [--plot OUT.png]``.

Without FILE: every built-in layer, loss and model (``--only TEXT`` filters them). With
FILE: the layers that file defines (:mod:`nnjax.gradcheck.userfile`), with the same three
checks. A failed check prints where and how the backward is wrong
(:mod:`nnjax.gradcheck.diagnose`); ``--plot`` saves its figure
(:mod:`nnjax.gradcheck.figures`). Exit status: 0 all pass, 1 a check failed, 2 bad input
(a file, name or shape that cannot be checked), with a one-line error.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

WIDTH = 58          # of the name column for the built-ins; a file's layers get what they need
LEGEND = ("exact: max rel. error of the manual backward vs jax.vjp in float64 (≤ 1e-10);"
          " finite diff: jax.test_util.check_grads on the custom_vjp adapter;"
          " float32 jit: rel. error of the jitted float32 backward (≤ 1e-4).")


def add_gradcheck(sub) -> None:
    """Register the ``gradcheck`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("gradcheck", help="check the backward of every built-in, or of the"
                       " layers in FILE.py, and explain a failure")
    p.add_argument("target", nargs="?", metavar="FILE.py[:NAME]",
                   help="check the layers this file defines (or only NAME)")
    p.add_argument("--only", help="built-ins only: cases whose name contains this text")
    p.add_argument("--in-shape", type=parse_shape, default=(5,), metavar="5 | 6,6,2",
                   help="input shape without the batch axis (default 5)")
    p.add_argument("--batch", type=int, default=3, help="batch size of the check (default 3)")
    p.add_argument("--train", action="store_true", help="check train mode (Dropout, BatchNorm)")
    p.add_argument("--plot", metavar="OUT.png", help="save the figure of each check (one"
                   " layer: OUT.png; several: OUT-<name>.png)")
    p.set_defaults(func=run)


def parse_shape(text: str) -> tuple:
    """``"5"`` → (5,); ``"6,6,2"`` or ``"6x6x2"`` → (6, 6, 2)."""
    import argparse
    parts = [t for t in re.split(r"[,x× ]+", text.strip()) if t]
    if not parts or not all(t.isdigit() and int(t) > 0 for t in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a shape; give positive integers, e.g. 5 or 6,6,2")
    return tuple(int(t) for t in parts)


def _header(width=WIDTH) -> str:
    return f"{'':6} {'name':{width}} {'exact (f64)':>12} {'finite diff':>11} {'float32 jit':>12}  ok"


def _row(section, r, width=WIDTH) -> str:
    return (f"{section:6} {r.name[:width]:{width}} {r.exact:12.1e}"
            f" {'ok' if r.finite_diff else 'FAIL':>11} {r.float32:12.1e}  "
            f"{'PASS' if r.ok else 'FAIL'}")


def _report(section, r, out, width=WIDTH) -> None:
    print(_row(section, r, width), file=out, flush=True)
    if r.detail:
        print(f"{'':6}   ↳ {r.detail}", file=out)
    if r.diagnosis is not None:
        for line in r.diagnosis.explain().splitlines()[1:]:
            print(f"{'':6}   {line}", file=out)


def _plot_path(plot: str, name: str, many: bool) -> Path:
    path = Path(plot)
    if not many:
        return path
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return path.with_name(f"{path.stem}-{slug}{path.suffix or '.png'}")


def check_file(target, in_shape=(5,), batch=3, train=False, plot=None, out=None) -> int:
    """Check the layers of ``target`` (``FILE.py[:NAME]``), print the table; exit status."""
    import jax
    from nnjax.gradcheck.checks import check_layer, layer_inputs
    from nnjax.gradcheck.userfile import UserFileError, load_layers
    out = out or sys.stdout
    try:
        layers = load_layers(target)
    except UserFileError as err:
        return _error(str(err))
    for name, layer in layers:   # a shape that does not fit is bad input, not a failure
        try:
            with jax.enable_x64(True):
                layer_inputs(layer, in_shape, batch=batch, train=train)
        except Exception as err:
            return _error(f"{name}: cannot run on input shape (batch={batch}, "
                          f"{', '.join(map(str, in_shape))}): {type(err).__name__}: {err}."
                          f" Give --in-shape (and --batch/--train) that fit the layer.")
    width = max(20, *(len(name) for name, _ in layers))
    print(_header(width), file=out)
    print("-" * len(_header(width)), file=out)
    failures = 0
    for name, layer in layers:
        try:
            r = check_layer(layer, in_shape, batch=batch, train=train, name=name)
        except Exception as err:  # the backward itself crashed
            failures += 1
            print(f"{'layer':6} {name:{width}} {'':12} {'':11} {'':12}  FAIL", file=out)
            print(f"{'':6}   ↳ backward raised {type(err).__name__}: {err}", file=out)
            continue
        failures += not r.ok
        _report("layer", r, out, width)
        diagnosis = r.diagnosis or _grid_note(layer, name, in_shape, batch, train, out, plot)
        if plot:
            from nnjax.gradcheck.figures import plot_diagnosis
            path = plot_diagnosis(_plot_path(plot, name, len(layers) > 1), diagnosis)
            print(f"{'':6}   figure: {path}", file=out)
    return _footer(failures, out, width)


def _grid_note(layer, name, in_shape, batch, train, out, plot):
    """Print what the derivative of a layer that passed shows on the grid (a kink where
    autodiff takes another convention, NaN in saturation): a note, not a failure. Only
    the grid probe runs, unless ``plot`` asks for the whole diagnosis (returned)."""
    from nnjax.gradcheck.diagnose import curve_check, diagnose_check
    from nnjax.gradcheck.report import GRID
    if plot:
        diagnosis = diagnose_check(layer, in_shape, batch=batch, train=train, name=name)
        curve = diagnosis.curve
    else:
        diagnosis, curve = None, curve_check(layer, in_shape, batch=batch, train=train)
    if curve is not None and curve.findings:
        print(f"{'':6}   ↳ note: the checks pass at random x, but the derivative at dy = 1 on"
              f" x ∈ [{GRID[0]:g}, {GRID[-1]:g}] (and ±20, ±50, ±1000) differs:", file=out)
        for f in curve.findings:
            print(f"{'':6}     → {f}", file=out)
    return diagnosis


def _footer(failures, out, width=WIDTH) -> int:
    print("-" * len(_header(width)), file=out)
    print(LEGEND, file=out)
    print(f"{failures} failed" if failures else "all gradient checks passed", file=out)
    return 1 if failures else 0


def _error(message: str) -> int:
    print(f"nnjax gradcheck: error: {message}", file=sys.stderr)
    return 2


def check_builtins(only=None, out=None) -> int:
    """Every built-in case whose name contains ``only``; the table; exit status."""
    from nnjax.gradcheck.cases import run_all
    out = out or sys.stdout
    print(_header(), file=out)
    print("-" * len(_header()), file=out)
    failures = 0
    for section, r in run_all(only):
        failures += not r.ok
        _report(section, r, out)
    return _footer(failures, out)


def run(args) -> int:
    if args.target is None:
        if args.plot:
            return _error("--plot needs FILE.py[:NAME] (the layers to draw).")
        return check_builtins(args.only)
    if args.only:
        return _error("--only filters the built-ins; with FILE.py use FILE.py:NAME.")
    return check_file(args.target, args.in_shape, args.batch, args.train, args.plot)
