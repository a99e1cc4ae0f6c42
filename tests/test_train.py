"""The training engine: vmapped runs equal solo runs, gradient modes agree, early stopping,
divergence, the verify-before-training gate, and learning on real data (sklearn digits).

Models and configs are module constants so tests share compiled programs (``build`` is
cached per model/config/shapes).
"""
import jax
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.analysis import stats
from nnjax.gradcheck.checks import ObjectiveCheck
from nnjax.train.runs import make_runs, select
from nnjax.train import (EarlyStopping, GradientCheckError, TrainConfig, evaluate, fit,
                         predict)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(256, 8)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int32)
XV = RNG.normal(size=(64, 8)).astype(np.float32)
YV = (XV[:, 0] + XV[:, 1] > 0).astype(np.int32)
MLP = L.Sequential(L.Linear(16), L.ReLU(), L.Dropout(0.1), L.Linear(2))
CFG = TrainConfig(epochs=3, batch_size=32, learning_rate=1e-2, drop_last=True)


def leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def max_diff(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(leaves(a), leaves(b)))


def run(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def test_lr_seed_grid_in_one_program_equals_solo_runs():
    runs = make_runs([3, 11], learning_rate=[1e-2, 5e-2])
    res = fit(MLP, CFG, (X, Y), (XV, YV), runs=runs, verify=False)
    assert res.history["val_loss"].shape == (4, 3)
    assert [r["learning_rate"] for r in res.runs.labels()] == [1e-2, 1e-2, 5e-2, 5e-2]
    for i in range(runs.size):
        solo = fit(MLP, CFG, (X, Y), (XV, YV), runs=select(runs, [i]), verify=False)
        assert max_diff(run(res.params, i), run(solo.params, 0)) < 1e-6
        np.testing.assert_allclose(res.history["val_loss"][i], solo.history["val_loss"][0],
                                   rtol=1e-5)
    lr_runs = np.asarray(jax.tree.leaves(res.train_state.opt_state)[0])  # injected per run
    assert lr_runs.shape[0] == 4


def test_seed_is_the_run_identity_not_its_position():
    a = fit(MLP, CFG, (X, Y), (XV, YV), runs=[5, 9, 2], verify=False)
    b = fit(MLP, CFG, (X, Y), (XV, YV), runs=[2, 5, 9], verify=False)
    assert a.test_outputs is None                       # not asked for
    with pytest.raises(ValueError, match="test data"):
        fit(MLP, CFG, (X, Y), (XV, YV), runs=2, verify=False, test_outputs=True)
    assert max_diff(run(a.params, 0), run(b.params, 1)) < 1e-6
    assert max_diff(run(a.params, 2), run(b.params, 0)) < 1e-6
    assert max_diff(run(a.params, 0), run(a.params, 1)) > 1e-3   # different seeds differ


def test_manual_and_autodiff_give_the_same_trajectory():
    """MLP with BatchNorm and Dropout, 320 steps (same keys: same dropout masks)."""
    model = L.Sequential(L.Linear(16), L.BatchNorm(), L.ReLU(), L.Dropout(0.2), L.Linear(2))
    out = {}
    for grad in ("manual", "autodiff"):
        cfg = TrainConfig(epochs=20, batch_size=16, optimizer="momentum", learning_rate=0.05,
                          grad=grad, drop_last=True)
        out[grad] = fit(model, cfg, (X, Y), (XV, YV), runs=2, verify=False)
    m, a = out["manual"], out["autodiff"]
    assert max_diff((m.params, m.model_state), (a.params, a.model_state)) < 1e-4
    np.testing.assert_allclose(m.history["train_loss"], a.history["train_loss"], atol=1e-5)
    np.testing.assert_allclose(m.history["val_accuracy"], a.history["val_accuracy"], atol=1e-6)


def test_early_stopping_keeps_the_best_params_and_others_go_on():
    model = L.Sequential(L.Linear(16), L.ReLU(), L.Linear(2))
    cfg = TrainConfig(epochs=15, batch_size=32, optimizer="sgd",
                      early_stopping=EarlyStopping("val_loss", patience=2))
    runs = make_runs([0], learning_rate=[3.0, 0.05])           # run 0 overshoots
    res = fit(model, cfg, (X, Y), (XV, YV), runs=runs, verify=False)
    assert res.stopped_early.tolist() == [True, False]
    assert res.epochs_run[1] == 15 and res.epochs_run[0] < 15
    best = int(res.best_epoch[0])
    assert res.epochs_run[0] == best + 3                        # patience 2 after the best
    h = res.history["val_loss"]
    assert np.all(np.isnan(h[0, res.epochs_run[0]:])) and np.all(np.isfinite(h[1]))
    assert h[0, best] == np.nanmin(h[0])
    # the restored params are those after epoch `best`: retrain that long without stopping
    again = fit(model, cfg.replace(epochs=best + 1, early_stopping=None), (X, Y), (XV, YV),
                runs=select(runs, [0]), verify=False)
    assert max_diff(run(res.params, 0), run(again.params, 0)) < 1e-6
    assert res.final("val_loss")[0] == h[0, best]


def test_a_diverging_run_is_frozen_counted_and_leaves_the_others_bit_identical():
    clean = fit(MLP, CFG, (X, Y), (XV, YV), runs=make_runs([1], learning_rate=[1e-2] * 3),
                test=(XV, YV), verify=False)
    with pytest.warns(RuntimeWarning, match=r"1 of 3 runs diverged.*runs \[1\]"):
        bad = fit(MLP, CFG, (X, Y), (XV, YV), test=(XV, YV), verify=False,
                  runs=make_runs([1], learning_rate=[1e-2, 1e30, 1e-2]))
    assert bad.diverged.tolist() == [False, True, False] and bad.n_diverged == 1
    assert not clean.diverged.any()
    for i in (0, 2):
        for u, v in zip(leaves(run(bad.params, i)), leaves(run(clean.params, i))):
            np.testing.assert_array_equal(u, v)
        for k in clean.history:
            np.testing.assert_array_equal(bad.history[k][i], clean.history[k][i])
    assert np.isnan(bad.history["train_loss"][1, 0]) and np.all(np.isnan(bad.test["accuracy"][1]))
    assert all(np.all(np.isfinite(a)) for a in leaves(run(bad.params, 1)))  # frozen: last finite
    s = stats.summary(bad.test["accuracy"])
    assert s["n"] == 2 and s["n_excluded"] == 1 and s["excluded_index"] == [1]


def test_verify_before_training_stops_a_wrong_backward(monkeypatch):
    import nnjax.gradcheck.checks as gc
    calls = []

    def fake(model, loss, params, state, x, target, *, key=None):
        calls.append(x.shape)
        return ObjectiveCheck(False, 0.5, "[1] ReLU",
                              "gradient check FAILED: [1] ReLU has rel. error 5e-01")

    monkeypatch.setattr(gc, "verify_objective", fake)
    with pytest.raises(GradientCheckError, match=r"\[1\] ReLU"):
        fit(MLP, CFG, (X, Y), runs=1)
    assert calls == [(8, 8)]
    res = fit(MLP, CFG, (X, Y), runs=1, verify=False)             # the flag turns it off
    assert res.info["gradcheck"] == "off" and len(calls) == 1


def test_verify_names_the_layer_with_a_wrong_backward():
    relu = L.ReLU()
    broken = relu._replace(backward=lambda p, r, dy: ((), 2.0 * relu.backward(p, r, dy)[1]),
                           name="BrokenReLU")
    model = L.Sequential(L.Linear(4), broken, L.Linear(2))
    with pytest.raises(GradientCheckError, match="BrokenReLU"):
        fit(model, CFG, (X, Y), runs=1)


def test_digits_mlp_reaches_95_percent_test_accuracy():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int32)
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm], y[perm]
    model = L.Sequential(L.Linear(128), L.ReLU(), L.Linear(10))
    cfg = TrainConfig(epochs=40, batch_size=32, learning_rate=2e-3, epochs_per_call=5,
                      early_stopping=EarlyStopping("val_accuracy", patience=8))
    res = fit(model, cfg, (x[:1200], y[:1200]), (x[1200:1450], y[1200:1450]),
              (x[1450:], y[1450:]), runs=3, test_outputs=True)
    assert res.info["gradcheck"]["ok"]
    assert np.all(res.test["accuracy"] >= 0.95), res.test["accuracy"]
    best = res.best_run("val_accuracy")
    assert res.final("val_accuracy")[best] == np.nanmax(res.final("val_accuracy"))
    again = evaluate(model, cfg, res.params, res.model_state, x[1450:], y[1450:])
    np.testing.assert_allclose(again["accuracy"], res.test["accuracy"])
    logits = predict(model, res.params, res.model_state, x[1450:], batch_size=100)
    assert logits.shape == (3, len(x) - 1450, 10)
    acc = np.mean(np.argmax(np.asarray(logits), -1) == y[1450:], axis=1)
    np.testing.assert_allclose(acc, res.test["accuracy"], atol=1e-6)
    # the outputs the test metrics came from: predict's, run by run (other batches: rounding)
    assert res.test_outputs.shape == (3, len(x) - 1450, 10)
    np.testing.assert_allclose(res.test_outputs, logits, rtol=1e-5, atol=1e-5)
    hit = np.argmax(res.test_outputs, -1) == y[1450:]
    np.testing.assert_array_equal(np.mean(hit, axis=1, dtype=np.float32), res.test["accuracy"])
