"""Registry-driven: every built-in layer, loss and model passes the three checks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import layers as L
from nnjax import losses
from nnjax.gradcheck.checks import EXACT_TOL, check_layer, rel_error, verify_objective
from nnjax.gradcheck.cases import (layer_cases, loss_cases, model_cases, run_layer_case,
                            run_loss_case)


def _assert_ok(result):
    assert result.exact <= EXACT_TOL, result
    assert result.finite_diff, result
    assert result.float32 <= 1e-4, result
    assert result.ok, result


@pytest.mark.parametrize("case", layer_cases(), ids=lambda c: c.name)
def test_layer_backward(case):
    _assert_ok(run_layer_case(case))


@pytest.mark.parametrize("case", loss_cases(), ids=lambda c: c.name)
def test_loss_gradient(case):
    _assert_ok(run_loss_case(case))


@pytest.mark.parametrize("case", model_cases(), ids=lambda c: c.name)
def test_whole_model_backward(case):
    _assert_ok(run_layer_case(case))


@pytest.mark.parametrize("case", [c for c in layer_cases() if c.name in
                                  ("Linear(5)", "Softmax", "Sigmoid", "Dropout(0.3) train")],
                         ids=lambda c: c.name)
def test_batch_of_one(case):
    _assert_ok(check_layer(case.make(), case.in_shape, batch=1, train=case.train))


def test_full_objective_matches_autodiff_for_every_loss():
    model = L.Sequential(L.Linear(6), L.BatchNorm(), L.Tanh(), L.Dropout(0.2), L.Linear(4))
    params, state, _ = model.init(jax.random.key(0), (5,))
    x = jax.random.normal(jax.random.key(1), (8, 5))
    targets = {
        losses.softmax_cross_entropy: jnp.arange(8) % 4,
        losses.mse: jax.random.normal(jax.random.key(2), (8, 4)),
        losses.binary_cross_entropy: jax.random.uniform(jax.random.key(3), (8, 4)),
    }
    for loss, target in targets.items():
        check = verify_objective(model, loss, params, state, x, target, key=jax.random.key(4))
        assert check.ok and check.max_rel_error < 1e-12, check.message


def test_verify_objective_names_a_wrong_layer():
    good = L.Tanh()
    wrong = good._replace(backward=lambda p, res, dy: ((), dy * (1 - res[1] ** 2) * 1.001),
                          name="BrokenTanh")
    model = L.Sequential(L.Linear(4), wrong, L.Linear(3))
    params, state, _ = model.init(jax.random.key(0), (5,))
    x = jax.random.normal(jax.random.key(1), (6, 5))
    check = verify_objective(model, losses.softmax_cross_entropy, params, state, x,
                             jnp.arange(6) % 3)
    assert not check.ok
    assert "BrokenTanh" in check.worst and "BrokenTanh" in check.message


def test_check_layer_catches_a_small_systematic_error():
    # A 0.1% error that float32 finite differences would miss; float64 exactness catches it.
    lin = L.Linear(3)
    broken = lin._replace(backward=lambda p, x, dy: (
        L.LinearParams(x.T @ dy * 1.001, jnp.sum(dy, 0)), dy @ p.w.T))
    result = check_layer(broken, (4,))
    assert not result.ok and result.exact > 1e-4 and not result.finite_diff


def test_relu_kink_at_zero_has_zero_derivative():
    # jax.grad of jnp.maximum(x, 0) is 0.5 at 0; ReLU's derivative at 0 is 0 (PyTorch, jax.nn.relu).
    relu = L.ReLU()
    x = jnp.array([[-1.0, 0.0, 2.0]])
    _, _, res = relu.forward((), (), x)
    _, dx = relu.backward((), res, jnp.ones_like(x))
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(jax.grad(lambda v: jnp.sum(jax.nn.relu(v)))(x), dx)
    result = check_layer(relu, (3,), x=x, batch=1)
    assert result.exact == 0.0


def test_leaky_relu_kink_uses_negative_slope_at_zero():
    leaky = L.LeakyReLU(0.2)
    x = jnp.array([[0.0]])
    _, _, res = leaky.forward((), (), x)
    np.testing.assert_allclose(leaky.backward((), res, jnp.ones_like(x))[1], [[0.2]])


def test_saturated_sigmoid_is_finite_and_exact():
    x = jnp.array([[-800.0, -40.0, 0.0, 40.0, 800.0]])
    result = check_layer(L.Sigmoid(), (5,), x=x, batch=1)
    assert result.exact <= EXACT_TOL
    y, _, res = L.Sigmoid().forward((), (), x)
    assert jnp.all(jnp.isfinite(y)) and jnp.all(jnp.isfinite(L.Sigmoid().backward((), res, y)[1]))


def test_huge_logits_stay_finite():
    logits = jnp.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]])
    labels = jnp.array([1, 2])
    value = losses.softmax_cross_entropy.value(logits, labels)
    np.testing.assert_allclose(value, 1e4, rtol=1e-6)  # row 0 pays 2e4, row 1 pays 0
    assert jnp.all(jnp.isfinite(losses.softmax_cross_entropy.grad(logits, labels)))
    bce = losses.binary_cross_entropy
    t = jnp.array([[0.0, 1.0, 0.5]])
    z = jnp.array([[1e4, -1e4, 1e4]])
    np.testing.assert_allclose(bce.value(z, t), (1e4 + 1e4 + 0.5e4) / 3, rtol=1e-6)


def test_rel_error_is_scale_aware():
    assert rel_error({"a": jnp.ones(3)}, {"a": jnp.ones(3)}) == 0.0
    assert rel_error((jnp.zeros(2),), (jnp.zeros(2),)) == 0.0
    assert rel_error((jnp.array([1.0, 1e-17]),), (jnp.array([1.0, 0.0]),)) < 1e-16
    assert rel_error((jnp.array([2.0]),), (jnp.array([1.0]),)) == 1.0


def test_gradcheck_command_prints_table_and_exit_code(capsys, monkeypatch):
    from nnjax import cli
    from nnjax.gradcheck import cases as registry

    assert cli.main(["gradcheck", "--only", "Linear(5)"]) == 0
    out = capsys.readouterr().out
    assert "Linear(5)" in out and "PASS" in out and "all gradient checks passed" in out

    broken = L.Sigmoid()._replace(backward=lambda p, res, dy: ((), dy * res[1]), name="BadSigmoid")
    monkeypatch.setattr(registry, "layer_cases",
                        lambda: [registry.LayerCase("BadSigmoid", lambda: broken, (4,))])
    assert cli.main(["gradcheck", "--only", "BadSigmoid"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 failed" in out
