"""The gradient check before training, remembered once passed (nnjax.train.check)."""
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.gradcheck import checks as gc
from nnjax.gradcheck.checks import ObjectiveCheck
from nnjax.train import GradientCheckError, TrainConfig, fit
from nnjax.train import check

CFG = TrainConfig(epochs=1, batch_size=16)
X = np.random.default_rng(0).normal(size=(32, 6)).astype(np.float32)
Y = np.arange(32) % 3


def mlp(width=5):
    return L.Sequential(L.Linear(width), L.ReLU(), L.Linear(3))


def first_params(model, seed=0):
    params, state, _ = model.init(jax.random.key(seed), (6,))
    return params, state


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """The cache in tmp_path; every real gradient check is counted."""
    monkeypatch.setenv(check.ENV, str(tmp_path / "gc"))
    calls, real = [], gc.verify_objective

    def counting(model, *args, **kwargs):
        calls.append(model.name)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(gc, "verify_objective", counting)
    return calls


def test_digest_is_by_content():
    d = check.digest((mlp(), CFG.loss))
    assert d is not None and d == check.digest((mlp(), CFG.loss))   # built twice: same
    assert check.digest((mlp(4), CFG.loss)) != d                       # a width
    assert check.digest((L.Sequential(L.Linear(5), L.Tanh(), L.Linear(3)), CFG.loss)) != d
    relu = L.ReLU()
    broken = relu._replace(backward=lambda p, r, dy: ((), 2.0 * relu.backward(p, r, dy)[1]))
    assert check.digest((L.Sequential(L.Linear(5), broken, L.Linear(3)), CFG.loss)) != d
    assert check.digest((mlp(), TrainConfig(loss="mse").loss)) != d
    x = np.ones((2, 3))
    assert check.digest(x) != check.digest(x + 1e-12) and check.digest(x) != check.digest(x.T)


def test_digest_follows_helpers_reached_by_global_name():
    scope = {"SCALE": 2.0}
    exec("def helper(v):\n    return SCALE * v\n\ndef backward(v):\n    return helper(v)\n", scope)
    before = check.digest(scope["backward"])
    scope["SCALE"] = 3.0                       # the helper's constant changed
    assert check.digest(scope["backward"]) != before
    exec("def helper(v):\n    return SCALE * v * v\n", scope)       # the helper's code
    scope["SCALE"] = 2.0
    assert check.digest(scope["backward"]) != before
    assert check.digest(object()) is None      # not describable: no digest, the check runs


def test_digest_is_the_same_in_another_process():
    code = ("from tests.test_train_check import mlp, CFG; from nnjax.train import check;"
            " print(check.digest((mlp(), CFG.loss)))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == check.digest((mlp(), CFG.loss))


def test_a_passed_check_is_read_back_only_for_the_identical_check(counted):
    p, s = first_params(mlp())
    first = check.verify_model(mlp(), CFG, p, s, X, Y)
    again = check.verify_model(mlp(), CFG, p, s, X, Y)       # same model, params, data
    assert len(counted) == 1 and "cached" not in first
    assert again == {**first, "cached": True}
    check.verify_model(mlp(4), CFG, *first_params(mlp(4)), X, Y)        # a layer changed
    check.verify_model(mlp(), CFG, *first_params(mlp(), seed=1), X, Y)  # other params
    check.verify_model(mlp(), CFG, p, s, X[8:], Y[8:])                  # other examples
    assert len(counted) == 4


def test_a_failed_check_is_never_stored(monkeypatch, tmp_path):
    monkeypatch.setenv(check.ENV, str(tmp_path / "gc"))
    calls = []

    def failing(model, loss, params, state, x, target, *, key=None):
        calls.append(1)
        return ObjectiveCheck(False, 0.5, "[1] ReLU", "gradient check FAILED: [1] ReLU")

    monkeypatch.setattr(gc, "verify_objective", failing)
    p, s = first_params(mlp())
    for _ in range(2):
        with pytest.raises(GradientCheckError, match=r"\[1\] ReLU"):
            check.verify_model(mlp(), CFG, p, s, X, Y)
    assert len(calls) == 2 and not list((tmp_path / "gc").glob("*.json"))


def test_fit_says_when_the_check_was_read_from_the_cache(counted):
    a = fit(mlp(), CFG, (X, Y), runs=2)
    b = fit(mlp(), CFG, (X, Y), runs=2)
    assert a.info["gradcheck"]["ok"] and "cached" not in a.info["gradcheck"]
    assert b.info["gradcheck"] == {**a.info["gradcheck"], "cached": True}
    assert len(counted) == 1
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_array_equal(u, v)


def test_off_switch(monkeypatch, counted):
    monkeypatch.setenv(check.ENV, "off")
    assert check.cache_dir() is None
    p, s = first_params(mlp())
    for _ in range(2):
        assert "cached" not in check.verify_model(mlp(), CFG, p, s, X, Y)
    assert len(counted) == 2
