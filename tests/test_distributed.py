"""One sweep across processes (:mod:`nnjax.distributed`): 2 local CPU processes (gloo) give
every run the metrics, epochs and parameters of one process; killed and restarted, they
resume from process 0's checkpoint; bad flags end with one line."""
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from nnjax import distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# one process of a sweep: python -c WORKER PID N PORT OUT [CHECKPOINT [SLEEP]]
WORKER = r"""
import sys, time
pid, n, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ckpt = sys.argv[5] if len(sys.argv) > 5 else None
pause = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
import nnjax.distributed as dist
if n > 1:
    dist.initialize(f"localhost:{port}", n, pid)
import jax, numpy as np
from tests.test_distributed import flat, problem
from nnjax.train import fit
model, cfg, train, val, runs = problem()
cbs = [lambda e, m, r: time.sleep(pause)] if pause else []
res = fit(model, cfg, train, val, val, runs=runs, progress=False, compact="always",
          checkpoint=ckpt, callbacks=cbs, verify=False)
arrays = flat(res, model, cfg, val)      # evaluate, predict: collective, every process
if dist.is_writer():
    np.savez(out, **arrays)
"""


def problem():
    """5 runs (not a multiple of 2 devices: padded), dropout, per-run order, early stopping."""
    from nnjax import layers as L
    from nnjax.train import TrainConfig
    from nnjax.train.early_stopping import EarlyStopping
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    model = L.Sequential(L.Linear(8), L.ReLU(), L.Dropout(0.3), L.Linear(2))
    cfg = TrainConfig(epochs=12, batch_size=16, learning_rate=0.05, shuffle="per_run",
                      early_stopping=EarlyStopping(patience=2, min_delta=0.02))
    return model, cfg, (x, y), (x[:32], y[:32]), 5


def flat(res, model, cfg, val) -> dict:
    """A FitResult as named arrays: history, epochs, test metrics, every parameter, and
    ``evaluate``/``predict`` of its parameters (on every device: the global mesh)."""
    from nnjax.train.evaluate import evaluate, predict
    out = {f"h_{k}": v for k, v in res.history.items()}
    out.update({f"e_{k}": v for k, v in evaluate(model, cfg, res.params, res.model_state,
                                                 *val).items()})
    out["e_predict"] = np.asarray(predict(model, res.params, res.model_state, val[0][:8]))
    out.update({f"t_{k}": np.asarray(v) for k, v in res.test.items()})
    out.update({f"p_{i}": np.asarray(v) for i, v in enumerate(jax.tree.leaves(res.params))})
    out["epochs_run"] = np.asarray(res.epochs_run)
    out["best_epoch"] = np.asarray(res.best_epoch)
    out["calls"] = np.int32(len(res.info["call_seconds"]))
    out["compactions"] = np.asarray(res.info["compactions"]).reshape(-1, 2)
    return out


def _port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(out, ckpt=None, pause=0.0, n=2):
    port = str(_port())
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "JAX_PLATFORMS": "cpu"}          # XLA_FLAGS inherited: the reference's compiler
    args = [str(a) for a in ([out] + ([ckpt] if ckpt else []) + ([pause] if pause else []))]
    return [subprocess.Popen([sys.executable, "-c", WORKER, str(i), str(n), port, *args],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True) for i in range(n)]


def _wait(procs, timeout=400):        # generous: a loaded CI machine
    for p in procs:
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                os.killpg(q.pid, signal.SIGKILL)
            pytest.fail("a distributed worker hung")
        assert p.returncode == 0, err[-3000:]


def _assert_same(one: dict, got: dict):
    np.testing.assert_array_equal(got["epochs_run"], one["epochs_run"])
    np.testing.assert_array_equal(got["best_epoch"], one["best_epoch"])
    for k in one:
        if k.startswith(("h_", "t_", "p_", "e_")):
            assert got[k].shape == one[k].shape, k
            np.testing.assert_allclose(got[k], one[k], rtol=2e-5, atol=1e-6, err_msg=k)


@pytest.fixture(scope="module")
def reference():
    """The sweep in this process, on one device."""
    from nnjax.train import fit
    model, cfg, train, val, runs = problem()
    res = fit(model, cfg, train, val, val, runs=runs, progress=False, compact="always",
              devices=jax.devices()[:1], verify=False)
    one = flat(res, model, cfg, val)
    # the setting exercises what could differ: some runs stop early, at different epochs
    assert (one["epochs_run"] < cfg.epochs).any() and len(set(one["epochs_run"])) > 1
    return one


def test_two_processes_train_every_run_as_one_process(reference, tmp_path):
    _wait(_start(tmp_path / "two.npz"))
    got = dict(np.load(tmp_path / "two.npz"))
    _assert_same(reference, got)
    assert len(got["compactions"]) >= 1          # compacted on the gathered state


def test_killed_processes_resume_from_the_checkpoint(reference, tmp_path):
    ckpt = tmp_path / "fit.ckpt"
    procs = _start(tmp_path / "first.npz", ckpt, pause=0.3)
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and procs[0].poll() is None:
        time.sleep(0.1)
    time.sleep(0.4)                                  # a checkpoint or two later
    for p in procs:                                  # kill every process, as a scheduler does
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
    assert ckpt.exists() and not (tmp_path / "first.npz").exists()
    _wait(_start(tmp_path / "again.npz", ckpt))
    got = dict(np.load(tmp_path / "again.npz"))
    _assert_same(reference, got)
    assert got["calls"] < got["epochs_run"].max()    # it resumed: fewer epochs trained


@pytest.mark.parametrize("flags, message", [
    (dict(coordinator="h:1", num_processes=2, process_id=2), "--process-id must be in 0..1"),
    (dict(coordinator=None, num_processes=2, process_id=0), "needs --coordinator HOST:PORT"),
    (dict(coordinator="h:1", num_processes=None, process_id=None),
     "needs --num-processes N, --process-id I"),
    (dict(coordinator="node01", num_processes=2, process_id=0), "must be HOST:PORT"),
    (dict(coordinator="h:1", num_processes=0, process_id=0), "integer ≥ 1"),
])
def test_bad_settings_are_named(flags, message):
    with pytest.raises(dist.DistributedError, match=message.replace(".", r"\.")):
        dist.check(**flags)


def test_one_process_is_a_no_op():
    dist.initialize("localhost:1", 1, 0)          # nothing to start
    assert not jax.distributed.is_initialized()
    assert dist.process_count() == 1 and dist.is_writer()
    tree = {"a": np.arange(3.0)}
    assert dist.agree(7) == 7 and dist.local(tree) is tree


def test_cli_bad_flags_end_with_one_line(tmp_path, capsys):
    from nnjax.cli import main
    spec = tmp_path / "s.toml"
    spec.write_text("")
    assert main(["sweep", str(spec), "--num-processes", "2", "--process-id", "3",
                 "--coordinator", "localhost:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--process-id must be in 0..1" in err[0]
    assert main(["run", "whatever", "--distributed", "--process-id", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--distributed" in err[0]


SWEEP = """\
name = "tiny"
data = "digits"
model = "mlp"
[static]
hidden = [[8], [16]]
[train]
epochs = 2
batch_size = 128
[vmapped]
learning_rate = [1e-2, 3e-2]
[runs]
seeds = 2
"""


def test_cli_sweep_on_two_processes_writes_once_what_one_process_writes(tmp_path):
    """``nnjax sweep`` with the distributed flags: process 0 alone writes and reports; its
    files hold what one process writes (every run's test metrics and epochs)."""
    import csv
    from nnjax.sweep.file import load
    from nnjax.sweep.run import run_file
    spec = tmp_path / "tiny.toml"
    spec.write_text(SWEEP)
    port = str(_port())
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "JAX_PLATFORMS": "cpu"}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "nnjax.cli", "sweep", str(spec), "--out", str(tmp_path / "two"),
         "--no-progress", "--coordinator", f"localhost:{port}", "--num-processes", "2",
         "--process-id", str(i)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True) for i in range(2)]
    try:
        outs = [p.communicate(timeout=400) for p in procs]
    except subprocess.TimeoutExpired:
        for q in procs:
            os.killpg(q.pid, signal.SIGKILL)
        pytest.fail("a distributed worker hung")
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert "results:" in outs[0][0] and "results:" not in outs[1][0]
    run_file(load(spec), tmp_path / "one", progress=False, log=lambda line: None)
    one, two = tmp_path / "one" / "tiny", tmp_path / "two" / "tiny"
    names = lambda d: sorted(str(p.relative_to(d)) for p in d.rglob("*"))  # noqa: E731
    assert names(two) == names(one)                    # no temp file, nothing twice
    rows = [list(csv.DictReader(open(d / "runs.csv", newline=""))) for d in (one, two)]
    assert len(rows[0]) == len(rows[1]) == 8
    for a, b in zip(*rows):
        assert {k: a[k] for k in ("hidden", "learning_rate", "seed", "epochs_run")} == \
               {k: b[k] for k in ("hidden", "learning_rate", "seed", "epochs_run")}
        np.testing.assert_allclose([float(b["test_loss"]), float(b["test_accuracy"])],
                                   [float(a["test_loss"]), float(a["test_accuracy"])],
                                   rtol=1e-5, atol=1e-6)
