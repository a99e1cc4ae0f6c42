"""Run a checked sweep file on :func:`nnjax.sweep.core.sweep` and write its outputs.

``DIR/NAME/points/`` holds one atomic record per static point (keyed by the point and a
digest of the file's other settings, so an edited file never reuses a stale record);
``results.json``, ``runs.csv``, ``summary.md`` and ``curves-*.png`` are written from the
records when every point is done (see :mod:`nnjax.sweep.output`): with ``--shard I/N``,
by the worker that finishes the last point (:mod:`nnjax.sweep.claims`).
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from nnjax.sweep.claims import Claim, Workers, acquire
from nnjax.sweep.core import Problem, sweep
from nnjax.sweep.file import SweepSpec
from nnjax.train.validate.data import model_output_shape


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_data(spec: SweepSpec, *, fetch: bool = True, data_dir=None):
    """The file's data set: ``digits`` is bundled; MNIST-like sets are read from verified
    files, fetched first when missing and ``fetch`` (raises DataNotFoundError otherwise)."""
    from nnjax import data
    if spec.data == "digits":
        return data.digits()
    return data.load(spec.data, data_dir=data_dir, fetch=fetch)


def _pair(split, flat: bool):
    x = np.asarray(split.x)
    return (x.reshape(len(x), -1) if flat else x), np.asarray(split.y)


def run_file(spec: SweepSpec, out, *, fetch: bool = True, data_dir=None,
             progress: Optional[bool] = None, verify: bool = True,
             log: Callable[[str], None] = _stderr, epoch_log: Optional[str] = None,
             workers=None) -> Path:
    """Train every point of ``spec`` not yet done under ``out/NAME`` and write the outputs.

    Returns the folder. ``progress``: the per-epoch bar of :func:`nnjax.train.fit`;
    ``verify``: gradient-check each point's model first; ``log``: one line per point;
    ``epoch_log``: ``"csv"``/``"tensorboard"`` per-epoch metrics of every run, beside each
    point's record in ``NAME/points/``; ``workers``: this worker's shard of the points
    (:mod:`nnjax.sweep.claims`); raises :class:`~nnjax.sweep.claims.Pending` when other
    workers still hold points (the last of them writes the outputs).
    """
    from nnjax.sweep.output import write_outputs
    wall, cpu = time.perf_counter(), time.process_time()
    ds = load_data(spec, fetch=fetch, data_dir=data_dir)
    folder = Path(out) / spec.name

    def build(point):
        model, config = spec.model(point), spec.config(point)
        flat = False
        if config.target == "input":         # the output shape, traced: no weights drawn
            out_shape, _ = model_output_shape(model, spec.info.shape, str(spec.path))
            flat = out_shape == (math.prod(spec.info.shape),)
        val = None if spec.folds else _pair(ds.val, flat)
        return Problem(model, config, _pair(ds.train, flat), val, _pair(ds.test, flat))

    grid = spec.grid()
    log(f"{spec.name}: {len(grid.points())} point(s) × {grid.runs().size} runs on {spec.data}"
        f" -> {folder}")
    records = sweep(build, grid, folder / "points", name=spec.name, settings=spec.settings(),
                    log=log, fit_kwargs={"progress": progress, "verify": verify},
                    epoch_log=epoch_log, workers=workers)
    from nnjax import distributed
    if not distributed.is_writer():      # in a jax.distributed run process 0 writes them
        return folder
    got = acquire(folder / "outputs.claim", workers or Workers(), "outputs")
    if not isinstance(got, Claim):       # another worker writes the same merged outputs
        log(f"{spec.name}: every point is finished; {got or 'another worker'} is writing"
            " the outputs")
        return folder
    with got:
        write_outputs(spec, grid.points(), records, folder,
                      wall_seconds=time.perf_counter() - wall,
                      cpu_seconds=time.process_time() - cpu)
    return folder
