"""Independent workers on one folder (``--shard I/N``, :mod:`nnjax.sweep.claims`): every
point trained exactly once by 3 workers and merged into the same outputs as one worker's;
stale claims retaken after the timeout or with ``--reclaim``, live ones never; bad flags."""
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnjax.cli import main
from nnjax.results import ResultStore
from nnjax.sweep import claims
from nnjax.sweep.claims import Claim, Held, Pending, Workers, acquire, claim_path

ROOT = Path(__file__).resolve().parents[1]
FILE = """\
name = "shared"
data = "digits"
model = "mlp"
[model_args]
activation = "tanh"
[static]
hidden = {hidden}
[train]
epochs = 1
batch_size = 256
optimizer = "adam"
[vmapped]
learning_rate = [1e-2, 3e-2]
[runs]
seeds = 2
"""
TRAINED = re.compile(r"^point \d+/\d+, \d+ resumed: (hidden=\S+)$")


def _foreign(path: Path, age: float, host: str = "elsewhere", pid: int = 12345,
             pidns: str = "pid:[1]") -> dict:
    """A claim file of another worker whose heartbeat is ``age`` seconds old."""
    doc = {"host": host, "pid": pid, "pidns": pidns, "shard": "1/2", "token": "theirs"}
    path.write_text(json.dumps(doc))
    t = time.time() - age
    os.utime(path, (t, t))
    return doc


# --------------------------------------------------------------------------- flags

@pytest.mark.parametrize("argv", [["--shard", "3/2"], ["--shard", "x"], ["--shard", "1/0"],
                                  ["--shard=-1/2"], ["--claim-timeout", "soon"]])
def test_bad_worker_flags_end_in_one_line_naming_the_flag(tmp_path, capsys, argv):
    path = tmp_path / "s.toml"
    path.write_text(FILE.format(hidden="[[4]]"))
    for cmd in (["sweep", str(path)], ["run", "mnist-mlp"]):
        assert main([*cmd, "--out", str(tmp_path / "out"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        flag = argv[0].split("=")[0]
        assert len(err.splitlines()) == 1 and flag in err
        assert ("I/N" in err) if flag == "--shard" else ("seconds" in err)
    assert not (tmp_path / "out").exists()


def test_shard_order_owns_its_points_then_takes_others_from_the_end():
    assert Workers(1, 3).order(7) == [1, 4, 6, 5, 3, 2, 0]
    assert Workers(1, 3, steal=False).order(7) == [1, 4]
    assert claims.parse_shard(" 2 / 5 ") == (2, 5)


# --------------------------------------------------------------------------- claims

def test_a_claim_is_exclusive_and_a_live_one_is_never_retaken(tmp_path):
    store = ResultStore(tmp_path)
    path = claim_path(store, "p")
    w = Workers(0, 2, timeout=1.0, heartbeat=0.05)
    mine = acquire(path, w, "p")
    assert isinstance(mine, Claim) and json.loads(path.read_text())["pid"] == os.getpid()
    assert isinstance(acquire(path, w, "p"), Held)                  # this live process
    with mine:                                                      # heartbeat keeps it live
        t = time.time() - 5
        os.utime(path, (t, t))
        time.sleep(0.3)
        assert time.time() - path.stat().st_mtime < 0.2
        assert isinstance(acquire(path, Workers(1, 2, timeout=1.0, heartbeat=0.05,
                                                reclaim=True), "p"), Held)
    assert not path.exists()                                        # released

    _foreign(path, age=0.0)                                         # another host, beating
    for reclaim in (False, True):
        got = acquire(path, Workers(0, 2, timeout=1.0, heartbeat=0.05, reclaim=reclaim), "p")
        assert isinstance(got, Held) and str(got) == "elsewhere:12345"


def test_a_stale_claim_is_retaken_after_the_timeout_or_with_reclaim(tmp_path):
    store = ResultStore(tmp_path)
    path = claim_path(store, "p")
    plain = Workers(0, 2, timeout=1.0, heartbeat=0.05)
    reclaim = Workers(0, 2, timeout=1.0, heartbeat=0.05, reclaim=True)

    _foreign(path, age=0.5)              # silent for 0.5 s: > 2 heartbeats, < the timeout
    assert isinstance(acquire(path, plain, "p"), Held)
    got = acquire(path, reclaim, "p")
    assert isinstance(got, Claim) and got.retaken[0]["host"] == "elsewhere"
    assert json.loads(path.read_text())["pid"] == os.getpid()
    got.release()

    _foreign(path, age=2.0)              # silent longer than the timeout
    got = acquire(path, plain, "p")
    assert isinstance(got, Claim) and got.retaken[0]["token"] == "theirs"
    assert isinstance(acquire(path, plain, "p"), Held)              # now ours, and live
    got.release()

    # a worker of this host (same pid namespace) that no longer exists: retaken at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    _foreign(path, age=0.0, host=socket.gethostname(), pid=int(dead.stdout),
             pidns=claims._pidns())
    if claims._pidns():
        assert isinstance(acquire(path, plain, "p"), Claim)


# --------------------------------------------------------------------------- end to end

def _sweep_file(tmp_path, hidden) -> Path:
    path = tmp_path / "shared.toml"
    path.write_text(FILE.format(hidden=json.dumps(hidden)))
    return path


def test_three_workers_train_every_point_once_and_merge_like_one(tmp_path):
    hidden = [[4], [5], [6], [7]]
    path = _sweep_file(tmp_path, hidden)
    out = tmp_path / "shared-out"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "JAX_PLATFORMS": "cpu"}
    procs = [subprocess.Popen([sys.executable, "-m", "nnjax.cli", "sweep", str(path),
                               "--out", str(out), "--no-progress", "--shard", f"{i}/3"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path) for i in range(3)]
    logs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e[-2000:] for _, e in logs]

    trained = [m[1] for _, err in logs for line in err.splitlines()
               if (m := TRAINED.match(line.strip()))]
    points = [f"hidden={json.dumps(h, separators=(',', ':'))}" for h in hidden]
    assert sorted(trained) == sorted(points)                 # each point exactly once
    assert not any("stored by someone else" in err for _, err in logs)
    folder = out / "shared"
    records = ResultStore(folder / "points").records()
    assert len(records) == len(hidden)
    assert not list((folder / "points").glob("*.claim*"))    # every claim released
    # who trained which point is in its record; the first point is shard 0's own
    shards = {r["static"]["hidden"]: r["provenance"]["worker"]["shard"]
              for r in records.values()}
    assert shards["[4]"] == "0/3"

    # the merged outputs (by the last worker to finish) are those of one worker alone
    from nnjax.sweep.file import load
    from nnjax.sweep.run import run_file
    single = run_file(load(path), tmp_path / "single", progress=False, verify=False,
                      log=lambda line: None)
    assert (folder / "runs.csv").read_text() == (single / "runs.csv").read_text()
    assert (folder / "summary.md").read_text() == (single / "summary.md").read_text()
    merged, alone = (json.loads((f / "results.json").read_text()) for f in (folder, single))
    assert merged["runs"] == alone["runs"] and merged["summary"] == alone["summary"]
    assert [p["static"] for p in merged["points"]] == [p["static"] for p in alone["points"]]


def test_a_held_point_leaves_the_outputs_to_its_worker_a_dead_one_is_retaken(tmp_path,
                                                                            capsys):
    from nnjax.sweep.file import load
    from nnjax.sweep.run import run_file
    path = _sweep_file(tmp_path, [[4], [5]])
    spec, out = load(path), tmp_path / "out"
    store = ResultStore(out / "shared" / "points")
    from nnjax.sweep.core import point_key, settings_digest
    key = point_key("shared", {"hidden": [5]}) + "@" + settings_digest(spec.settings())
    claim = claim_path(store, key)
    lines = []
    _foreign(claim, age=90.0)            # quiet for 90 s: live for the 600 s timeout
    with pytest.raises(Pending, match="1/2 point"):
        run_file(spec, out, progress=False, verify=False, log=lines.append)
    assert any("held by elsewhere:12345" in line for line in lines)
    assert not store.has(key) and not (out / "shared" / "results.json").exists()
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 0   # Pending
    assert "1/2 point(s) finished" in capsys.readouterr().err
    assert claim.exists() and not store.has(key)

    # --reclaim: a heartbeat silent for 90 s (> 2 heartbeats) is a dead worker's
    assert main(["sweep", str(path), "--out", str(out), "--no-progress", "--reclaim"]) == 0
    err = capsys.readouterr().err
    assert "retaking the stale claim of elsewhere:12345" in err
    assert store.has(key) and not claim.exists()
    assert (out / "shared" / "results.json").exists()


def test_threads_sharing_a_store_train_each_point_once_and_all_return_it(tmp_path):
    """run_points under contention (3 workers × 12 points, slow points): every point
    runs once; workers that run out while others train get Pending, the last one all."""
    import threading
    from nnjax.sweep.claims import run_points
    store = ResultStore(tmp_path)
    items = [(f"p{i}", i) for i in range(12)]
    calls, lock, outcomes = [], threading.Lock(), {}

    def run_fn(i):
        with lock:
            calls.append(i)
        time.sleep(0.02 * (1 + i % 3))
        return {"i": i}

    def worker(w):
        try:
            outcomes[w] = [r["i"] for r in run_points(store, items, run_fn, Workers(w, 3))]
        except Pending as e:
            outcomes[w] = e

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == list(range(12))
    assert any(v == list(range(12)) for v in outcomes.values())
    assert all(v == list(range(12)) or isinstance(v, Pending) for v in outcomes.values())
    assert not list(tmp_path.glob("*.claim*"))


def test_training_outside_a_sweep_runs_in_one_worker_only(tmp_path):
    calls = []
    stem = tmp_path / "fit-final"
    assert claims.once(stem, Workers(0, 2), lambda: calls.append(1) or "trained") == "trained"
    with pytest.raises(Pending, match="carries the study on"):
        claims.once(stem, Workers(1, 2), lambda: calls.append(2))
    _foreign(tmp_path / "fit-other.claim", age=0.0)
    with pytest.raises(Pending, match="elsewhere:12345"):
        claims.once(tmp_path / "fit-other", Workers(1, 2), lambda: calls.append(3))
    assert calls == [1]


STUDY = r'''
import numpy as np
from nnjax import layers as L
from nnjax.study import Study
from nnjax.sweep import Grid, Problem
from nnjax.train import TrainConfig


def run(ctx):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) > 0).astype(np.int32)
    train, test = (x[:64], y[:64]), (x[64:], y[64:])
    cfg = TrainConfig(epochs=2, batch_size=16, learning_rate=0.5, optimizer="sgd")
    recs = ctx.sweep(lambda p: Problem(L.Sequential(L.Linear(p["width"]), L.Tanh(),
                                                    L.Linear(2)), cfg, train, test, test,
                                       fit_kwargs={"verify": False}),
                     Grid(static={"width": [3, 4]}, seeds=2))
    return {"widths_run": [r["static"]["width"] for r in recs]}


STUDY = Study("shard-study", "mine", "A sharded study", {"quick": {"seeds": 2}}, run,
              lambda r: "section")
'''


def test_a_sharded_study_waits_for_a_live_claim_and_retakes_a_dead_one(tmp_path, capsys):
    from nnjax.study import Context
    from nnjax.sweep.core import point_key
    path = tmp_path / "shard_study.py"
    path.write_text(STUDY)
    out = tmp_path / "out"
    store = Context("shard-study", "quick", {"seeds": 2}, out / "shard-study").store
    claim = claim_path(store, point_key("shard-study", {"width": 4}))
    _foreign(claim, age=90.0)
    argv = ["run", str(path), "--out", str(out), "--no-progress", "--shard", "0/2"]
    assert main(argv) == 0
    assert "being trained by elsewhere:12345" in capsys.readouterr().out
    assert not (out / "shard-study" / "results.json").exists()
    assert main([*argv, "--reclaim"]) == 0                  # silent for 90 s: retaken
    assert "retaking the stale claim" in capsys.readouterr().err
    res = json.loads((out / "shard-study" / "results.json").read_text())
    assert res["widths_run"] == [3, 4] and not claim.exists()
