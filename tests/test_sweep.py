"""Sweeps: static × vmapped grids into a result store, resumed without rerunning, with
diverged runs excluded visibly from the summaries."""
import json

import jax
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.results import ResultStore, load_checkpoint
from nnjax.sweep.core import Grid, Problem, group_summaries, params_path, point_key, sweep
from nnjax.train import TrainConfig

RNG = np.random.default_rng(2)
X = RNG.normal(size=(192, 6)).astype(np.float32)
Y = (X[:, 0] * X[:, 1] > 0).astype(np.int32)
CFG = TrainConfig(epochs=2, batch_size=32, optimizer="sgd", learning_rate=0.1, drop_last=True)
MODELS = {w: L.Sequential(L.Linear(w), L.Tanh(), L.Linear(2)) for w in (3, 5)}


def build_with(calls):
    def build(point):
        calls.append(dict(point))
        return Problem(MODELS[point["width"]], CFG, (X[:128], Y[:128]), (X[128:], Y[128:]),
                       (X[128:], Y[128:]))
    return build


def test_grid_points_and_runs():
    grid = Grid(static={"width": [3, 5], "act": ["relu", "tanh"]},
                vmapped={"learning_rate": [0.1, 0.2], "weight_decay": [0.0, 1e-4]}, seeds=3)
    assert grid.points() == [{"width": 3, "act": "relu"}, {"width": 3, "act": "tanh"},
                             {"width": 5, "act": "relu"}, {"width": 5, "act": "tanh"}]
    assert grid.runs().size == 12 and grid.runs().labels()[-1] == {
        "learning_rate": 0.2, "weight_decay": 1e-4, "seed": 2}
    assert point_key("mlp", {"width": 3, "lr": 1e-3}) == "mlp/width=3,lr=0.001"


def test_sweep_stores_each_point_once_and_resumes(tmp_path):
    grid = Grid(static={"width": [3, 5]}, vmapped={"learning_rate": [0.1, 1e37]}, seeds=2)
    calls = []
    with pytest.warns(RuntimeWarning, match="2 of 4 runs diverged"):
        records = sweep(build_with(calls), grid, tmp_path, name="toy",
                        fit_kwargs={"verify": False}, save_params=True)
    assert [c["width"] for c in calls] == [3, 5] and len(records) == 2
    files = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(files) == 2 and all(f.startswith("toy_width=") for f in files)
    rec = records[0]
    assert rec["static"] == {"width": 3} and rec["n_diverged"] == 2
    assert np.asarray(rec["history"]["val_accuracy"]).shape == (4, 2)
    assert rec["diverged"] == [False, False, True, True]
    acc = {s["learning_rate"]: s for s in rec["summary"]["test_accuracy"]}
    assert acc[0.1]["n"] == 2 and acc[0.1]["n_excluded"] == 0
    assert acc[1e37]["n"] == 0 and acc[1e37]["n_excluded"] == 2 and acc[1e37]["iqm"] is None
    assert rec["info"]["gradcheck"] == "off" and rec["info"]["shuffle"] == "per_run"
    template = {"params": MODELS[3].init(jax.random.key(0), (6,))[0], "model_state": ((), (), ())}
    saved = load_checkpoint(params_path(ResultStore(tmp_path), point_key("toy", {"width": 3})),
                            template)
    assert np.asarray(saved["params"][0].w).shape == (4, 6, 3)      # stacked over 4 runs
    again_calls = []
    again = sweep(build_with(again_calls), grid, tmp_path, name="toy", fit_kwargs={"verify": False})
    assert again_calls == [] and json.dumps(again) == json.dumps(records)
    doc = json.loads((tmp_path / files[0]).read_text())
    assert doc["format"] == "nnjax.result/1" and doc["record"]["test"]["accuracy"][2] == "NaN"


def test_group_summaries_pool_seeds_and_folds():
    labels = [{"learning_rate": lr, "fold": f, "seed": s}
              for lr in (0.1, 0.2) for f in (0, 1) for s in (0, 1)]
    values = np.arange(8.0)
    values[5] = np.nan
    out = group_summaries(labels, values, by=["learning_rate"])
    assert [g["learning_rate"] for g in out] == [0.1, 0.2]
    assert out[0]["n"] == 4 and out[1]["n"] == 3 and out[1]["excluded_index"] == [1]
