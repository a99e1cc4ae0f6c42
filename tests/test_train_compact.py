"""Compaction (stopped runs leave the program) equals the masked program; callbacks see
every run's metrics after every epoch."""
import csv

import jax
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.train import EarlyStopping, TrainConfig, fit
from nnjax.train.callbacks import CSVLogger, TensorBoard, callbacks_from_flag
from nnjax.train.compact import bucket
from nnjax.train.parallel import RunMapper
from nnjax.train.runs import make_runs

RNG = np.random.default_rng(2)
X = RNG.normal(size=(64, 5)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)
XV = RNG.normal(size=(32, 5)).astype(np.float32)
YV = (XV[:, 0] > 0).astype(np.int32)
MLP = L.Sequential(L.Linear(6), L.ReLU(), L.Linear(2))
# patience 1 on val_loss with rates from tiny to huge: runs stop at spread-out epochs,
# one diverges
CFG = TrainConfig(epochs=8, batch_size=16, optimizer="sgd",
                  early_stopping=EarlyStopping("val_loss", patience=1))
RUNS = make_runs([0, 1], learning_rate=[1e4, 3.0, 0.3, 1e-3])


def leaves(t):
    return [np.asarray(a) for a in jax.tree.leaves(t)]


@pytest.mark.filterwarnings("ignore:.*diverged")
def test_compacted_equals_masked():
    kw = dict(runs=RUNS, verify=False)
    masked = fit(MLP, CFG, (X, Y), (XV, YV), (XV, YV), compact=False, **kw)
    comp = fit(MLP, CFG, (X, Y), (XV, YV), (XV, YV), compact="always", **kw)
    assert masked.info["compactions"] == []
    assert comp.info["compactions"], "some runs stopped, the program should shrink"
    assert len(set(masked.epochs_run.tolist())) >= 3          # spread-out stops
    assert masked.diverged.any()
    np.testing.assert_array_equal(comp.epochs_run, masked.epochs_run)
    np.testing.assert_array_equal(comp.diverged, masked.diverged)
    np.testing.assert_array_equal(comp.best_epoch, masked.best_epoch)
    for a, b in zip(leaves(comp.params), leaves(masked.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for name in masked.history:
        np.testing.assert_allclose(comp.history[name], masked.history[name], rtol=1e-5,
                                   atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(comp.test["loss"], masked.test["loss"], rtol=1e-5,
                               equal_nan=True)


def test_bucket_sizes():
    m = RunMapper()
    assert [bucket(n, m, 16) for n in (1, 2, 3, 5, 9, 16)] == [1, 2, 4, 8, 16, 16]
    assert bucket(3, RunMapper(chunk_size=3), 12) == 6     # a multiple of the chunk


def test_callbacks_get_every_run_every_epoch(tmp_path):
    seen = []
    runs = make_runs([0, 1, 2])
    cfg = TrainConfig(epochs=3, batch_size=16)
    res = fit(MLP, cfg, (X, Y), (XV, YV), runs=runs, verify=False,
              callbacks=[lambda e, m, r: seen.append((e, m)),
                         CSVLogger(tmp_path / "log.csv"), TensorBoard(tmp_path / "tb")])
    assert [e for e, _ in seen] == [0, 1, 2]
    for e, m in seen:
        for name, v in res.history.items():
            np.testing.assert_array_equal(m[name], v[:, e])
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert len(rows) == 9 and rows[0].keys() >= {"epoch", "run", "seed", "val_loss"}
    assert float(rows[4]["val_loss"]) == pytest.approx(res.history["val_loss"][1, 1], rel=1e-6)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert callbacks_from_flag("none", tmp_path) == []
    assert isinstance(callbacks_from_flag("csv", tmp_path)[0], CSVLogger)
    with pytest.raises(ValueError, match="csv, tensorboard, none"):
        callbacks_from_flag("wandb", tmp_path)
