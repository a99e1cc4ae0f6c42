"""Resuming: a fit continues from its checkpoint; a killed sweep (a real subprocess) is
re-run and ends with every configuration exactly once and the same results."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.train.progress import Progress
from nnjax.train import TrainConfig, fit

RNG = np.random.default_rng(3)
X = RNG.normal(size=(128, 6)).astype(np.float32)
Y = (X[:, 0] > X[:, 1]).astype(np.int32)
MODEL = L.Sequential(L.Linear(8), L.ReLU(), L.Dropout(0.2), L.Linear(2))
CFG = TrainConfig(epochs=5, batch_size=16, learning_rate=1e-2, drop_last=True)


def test_fit_continues_from_its_checkpoint(tmp_path, monkeypatch):
    ckpt = tmp_path / "run.msgpack"
    straight = fit(MODEL, CFG, (X, Y), (X, Y), runs=3, verify=False)
    real_update = Progress.update

    def interrupt(self, epoch, row, n_active):
        if epoch == 2:
            raise KeyboardInterrupt
        real_update(self, epoch, row, n_active)

    monkeypatch.setattr(Progress, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fit(MODEL, CFG, (X, Y), (X, Y), runs=3, verify=False, checkpoint=ckpt)
    monkeypatch.setattr(Progress, "update", real_update)
    assert ckpt.exists()
    resumed = fit(MODEL, CFG, (X, Y), (X, Y), runs=3, verify=False, checkpoint=ckpt)
    assert resumed.info["first_call_seconds"] is not None
    for a, b in zip(jax.tree.leaves(straight.train_state), jax.tree.leaves(resumed.train_state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for k in straight.history:
        np.testing.assert_array_equal(straight.history[k], resumed.history[k])
    done = fit(MODEL, CFG, (X, Y), (X, Y), runs=3, verify=False, checkpoint=ckpt)
    assert done.info["first_call_seconds"] is None              # nothing left to train
    with pytest.raises(ValueError, match="another model, config or set of runs"):
        fit(MODEL, CFG, (X, Y), (X, Y), runs=[7, 8, 9], verify=False, checkpoint=ckpt)


SWEEP = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from nnjax import layers as L
    from nnjax.sweep.core import Grid, Problem, sweep
    from nnjax.train import TrainConfig
    store, log, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    cfg = TrainConfig(epochs=2, batch_size=32, learning_rate=1e-2, drop_last=True)

    def build(point):
        with open(log, "a") as f:
            f.write(json.dumps(point) + "\\n")
        time.sleep(delay)
        model = L.Sequential(L.Linear(point["width"]), L.ReLU(), L.Linear(2))
        return Problem(model, cfg, (x[:128], y[:128]), (x[128:], y[128:]), (x[128:], y[128:]))

    grid = Grid(static={"width": [3, 4, 5, 6]}, vmapped={"learning_rate": [1e-2, 3e-2]}, seeds=2)
    sweep(build, grid, store, name="resume", fit_kwargs={"verify": False, "progress": False})
    print("DONE")
""")


def _sweep(store, log, delay, env):
    return subprocess.Popen([sys.executable, "-c", SWEEP, str(store), str(log), str(delay)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _records(store):
    return {json.loads(p.read_text())["key"]: json.loads(p.read_text())["record"]
            for p in sorted(store.glob("*.json"))}


def _comparable(record):
    return json.dumps({k: v for k, v in record.items() if k not in ("info", "provenance")},
                      sort_keys=True)


def test_killed_sweep_resumes_with_every_configuration_once(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax-cache"),   # later runs reuse programs
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    store, log = tmp_path / "store", tmp_path / "built.log"
    first = _sweep(store, log, 1.0, env)
    deadline = time.time() + 240
    while len(list(store.glob("*.json"))) < 2:
        assert first.poll() is None, first.communicate()[1][-3000:]
        assert time.time() < deadline, "the sweep made no progress"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    n_done = len(list(store.glob("*.json")))
    assert 2 <= n_done < 4                                        # killed mid-way
    # a half-written result file (what a kill during a write leaves) is never read
    (store / ".resume_width=6-000000000000.json.999-dead.tmp").write_text('{"format": "nnjax.res')
    built_before = [json.loads(l)["width"] for l in log.read_text().splitlines()]
    second = _sweep(store, log, 0.0, env)
    out, err = second.communicate(timeout=240)
    assert second.returncode == 0 and "DONE" in out, err[-3000:]
    built_after = [json.loads(l)["width"] for l in log.read_text().splitlines()][len(built_before):]
    records = _records(store)
    assert len(records) == 4 and len(list(store.glob("*.json"))) == 4
    finished_first = {r["static"]["width"] for r in list(records.values())}
    assert sorted(built_after) == sorted(set(built_after))       # each at most once
    assert len(built_after) == 4 - n_done                        # only the missing ones
    assert finished_first == {3, 4, 5, 6}
    reference = tmp_path / "reference"
    third = _sweep(reference, tmp_path / "ref.log", 0.0, env)
    out, err = third.communicate(timeout=240)
    assert third.returncode == 0, err[-3000:]
    ref = _records(reference)
    assert sorted(ref) == sorted(records)
    for key in ref:
        assert _comparable(ref[key]) == _comparable(records[key]), key
