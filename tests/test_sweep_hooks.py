"""Problem's optional hooks: per-point fit arguments and ``analyse(result)``, whose dict is
stored in the point's record (and not recomputed when the point is resumed)."""
import numpy as np

from nnjax import layers as L
from nnjax.sweep import Grid, Problem, sweep
from nnjax.train import TrainConfig

RNG = np.random.default_rng(4)
X = RNG.normal(size=(96, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)
CFG = TrainConfig(epochs=1, batch_size=32, optimizer="sgd", learning_rate=0.1)


def test_fit_kwargs_and_analyse_per_point(tmp_path):
    calls = []

    def build(point):
        def analyse(res):
            calls.append(point["width"])
            return {"width_seen": point["width"], "seeds": [int(s) for s in res.runs.seed],
                    "first_layer_out": int(res.params[0].w.shape[-1])}
        return Problem(L.Sequential(L.Linear(point["width"]), L.Tanh(), L.Linear(2)), CFG,
                       (X, Y), test=(X, Y), analyse=analyse,
                       fit_kwargs={"progress": False, "verify": point["width"] == 3})

    grid = Grid(static={"width": [3, 5]}, seeds=2)
    recs = sweep(build, grid, tmp_path, name="hooks")
    assert [r["analysis"] for r in recs] == [
        {"width_seen": 3, "seeds": [0, 1], "first_layer_out": 3},
        {"width_seen": 5, "seeds": [0, 1], "first_layer_out": 5}]
    assert recs[0]["info"]["gradcheck"]["ok"] and recs[1]["info"]["gradcheck"] == "off"
    again = sweep(build, grid, tmp_path, name="hooks")           # resumed: not analysed again
    assert calls == [3, 5] and [r["analysis"] for r in again] == [r["analysis"] for r in recs]
