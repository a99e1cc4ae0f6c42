"""A zoo of wrong backwards, each diagnosed as the mistake it is (and right ones as right)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import Layer
from nnjax import layers as L
from nnjax import losses
from nnjax.gradcheck import mistakes
from nnjax.gradcheck.checks import check_layer, check_loss
from nnjax.gradcheck.diagnose import diagnose_check


def Swish(wrong: bool) -> Layer:
    def init(key, in_shape):
        return (), (), tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        s = jax.nn.sigmoid(x)
        return x * s, state, (x, s)

    def backward(params, res, dy):
        x, s = res
        return (), dy * (s + x * s) if wrong else dy * (s + x * s * (1 - s))

    return Layer(init, forward, backward, name="Swish")


def _with_backward(layer, backward, name):
    return layer._replace(backward=backward, name=name)


def _bn_backward(drop):
    """BatchNorm's train backward without one of its two batch terms."""
    def backward(p, res, dy):
        axes = tuple(range(dy.ndim - 1))
        g = dy * p.gamma.reshape((1,) * (dy.ndim - 1) + (-1,))
        m = dy.size // dy.shape[-1]
        mean_term = 0.0 if drop == "mean" else jnp.sum(g, axis=axes, keepdims=True)
        xhat_term = 0.0 if drop == "xhat" else res.xhat * jnp.sum(g * res.xhat, axis=axes,
                                                                  keepdims=True)
        dx = (res.inv_std / m) * (m * g - mean_term - xhat_term)
        return L.BatchNormParams(jnp.sum(dy * res.xhat, axis=axes), jnp.sum(dy, axis=axes)), dx
    return backward


RELU, TANH, LEAKY, LIN, BN = L.ReLU(), L.Tanh(), L.LeakyReLU(0.1), L.Linear(5), L.BatchNorm()
X_WITH_ZERO = jnp.array([[-1.5, -0.2, 0.0, 0.7, 2.0], [0.0, 1.1, -3.0, 0.4, -0.6]])

# (id, layer, check_layer kwargs, gradient named, text the diagnosis must contain)
ZOO = [
    ("factor ×2", _with_backward(RELU, lambda p, r, dy: ((), 2 * RELU.backward(p, r, dy)[1]),
                                 "ReLU×2"), dict(in_shape=(7,)), "dx",
     "manual = 2 × autodiff everywhere"),
    ("sign", _with_backward(TANH, lambda p, r, dy: ((), -TANH.backward(p, r, dy)[1]),
                            "Tanh−"), dict(in_shape=(7,)), "dx", "the sign is flipped"),
    ("transposed dW", _with_backward(LIN, lambda p, x, dy: (
        L.LinearParams(dy.T @ x, jnp.sum(dy, 0)), dy @ p.w.T), "LinearT"),
     dict(in_shape=(4,)), "dw", "transposed gradient (shape (5, 4), expected (4, 5))"),
    ("transposed square dW", _with_backward(L.Linear(4), lambda p, x, dy: (
        L.LinearParams((x.T @ dy).T, jnp.sum(dy, 0)), dy @ p.w.T), "LinearT4"),
     dict(in_shape=(4,)), "dw", "transposed gradient (shape (4, 4)"),
    ("1/N in a layer", _with_backward(LIN, lambda p, x, dy: (
        L.LinearParams(x.T @ dy / x.shape[0], jnp.sum(dy, 0)), dy @ p.w.T), "Linear/N"),
     dict(in_shape=(4,)), "dw", "manual = 1/3 × autodiff everywhere: a 1/N too few or too"
     " many, N = 3 (batch size)"),
    ("zero", _with_backward(TANH, lambda p, r, dy: ((), jnp.zeros_like(dy)), "Tanh0"),
     dict(in_shape=(7,)), "dx", "manual is zero everywhere"),
    ("wrong only for x ≤ 0", _with_backward(LEAKY, lambda p, r, dy: (
        (), dy * (r[0] > 0).astype(dy.dtype)), "LeakyNoSlope"), dict(in_shape=(7,)), None,
     "wrong only where x ≤ 0: 164 of 327 entries"),
    ("wrong only at the kink", L.ReLU()._replace(
        forward=lambda p, s, x, *, key=None, train=False: (jnp.maximum(x, 0.0), s, (x, x)),
        name="ReLU(max)"), dict(in_shape=(5,), x=X_WITH_ZERO, batch=2), None,
     "wrong only where x = 0 (the kink)"),
    ("NaN at 0", _with_backward(Swish(False), lambda p, r, dy: (
        (), dy * (r[0] * r[1] / r[0] + r[0] * r[1] * (1 - r[1]))), "Swish0/0"),
     dict(in_shape=(5,), x=X_WITH_ZERO, batch=2), "dx", "manual is NaN/inf at 2 of 10 entries"),
    ("NaN in saturation", _with_backward(L.Sigmoid(), lambda p, r, dy: (
        (), dy * jnp.exp(-r[0]) / (1 + jnp.exp(-r[0])) ** 2), "Sigmoid(naive)"),
     dict(in_shape=(3,), x=jnp.array([[-1000.0, 0.5, 3.0]]), batch=1), None,
     "wrong only where x ≤ −1e+03 (saturation)"),
    ("missing term", Swish(True), dict(in_shape=(5,)), None, "manual − autodiff = x·σ(x)²"),
    ("missing term, two parts", _with_backward(TANH, lambda p, r, dy: ((), dy * (1 - r[1])),
                                               "Tanh(1−y)"), dict(in_shape=(7,)), None,
     "manual − autodiff = −tanh(x) + tanh(x)²"),
    ("BatchNorm without the mean term", _with_backward(BN, _bn_backward("mean"), "BN−mean"),
     dict(in_shape=(5,), train=True, batch=6), "dx", "batch-mean term"),
    ("BatchNorm without the x̂ term", _with_backward(BN, _bn_backward("xhat"), "BN−xhat"),
     dict(in_shape=(5,), train=True, batch=6), "dx", "affine in x within each feature"),
]


@pytest.mark.parametrize("case", ZOO, ids=lambda c: c[0])
def test_wrong_backward_is_diagnosed_as_what_it_is(case):
    _, layer, kwargs, leaf, text = case
    kwargs = dict(kwargs)
    result = check_layer(layer, kwargs.pop("in_shape"), **kwargs)
    assert not result.ok and result.diagnosis is not None
    findings = (result.diagnosis.findings if leaf is None else
                next(r.findings for r in result.diagnosis.leaves if r.name == leaf))
    assert any(text in f for f in findings), (text, result.explain())
    assert text in result.explain()


def test_the_right_versions_are_not_diagnosed():
    for layer, kw in ((Swish(False), {}), (L.Tanh(), {}), (BN, dict(train=True, batch=6))):
        assert check_layer(layer, (5,), **kw).ok
        d = diagnose_check(layer, (5,), **kw)
        assert d.findings == () and not d.wrong()
        assert "every gradient matches autodiff" in d.explain()


def test_worst_entries_hold_the_real_numbers():
    result = check_layer(Swish(True), (5,))
    dx = result.diagnosis.leaves[0]
    assert dx.name == "dx" and dx.rel_error == pytest.approx(result.exact, rel=1e-12)
    worst = dx.worst[0]
    assert worst.rel_error == pytest.approx(dx.rel_error, rel=1e-12)
    assert [e.rel_error for e in dx.worst] == sorted([e.rel_error for e in dx.worst], reverse=True)
    # the entries' x and autodiff agree with an independent computation at that x
    with jax.enable_x64(True):
        from nnjax.gradcheck.checks import layer_inputs
        _, _, x, dy, _ = layer_inputs(Swish(True), (5,))
        for e in dx.worst:
            xv, g = float(x[e.index]), float(dy[e.index])
            s = 1 / (1 + np.exp(-xv))
            assert e.value == xv
            assert e.autodiff == pytest.approx(g * (s + xv * s * (1 - s)), rel=1e-12)
            assert e.manual == pytest.approx(g * (s + xv * s), rel=1e-12)
            assert e.finite_diff == pytest.approx(e.autodiff, rel=1e-6)


def test_finite_difference_detail_carries_its_number():
    result = check_layer(Swish(True), (5,))
    assert "finite differences: manual vs central differences rel. error 8.49e-01" in result.detail


def test_loss_missing_its_one_over_n():
    bad = losses.mse._replace(grad=lambda p, t: 2 * (p - t), name="mse(sum)")
    pred, target = jax.random.normal(jax.random.key(0), (5, 6)), jnp.zeros((5, 6))
    result = check_loss(bad, pred, target)
    assert not result.ok
    assert ("manual = 30 × autodiff everywhere: a 1/N too few or too many, N = 30"
            in result.explain())


def test_fit_error_carries_the_diagnosis():
    from nnjax.train import TrainConfig, fit
    from nnjax.train.fit import GradientCheckError
    x = np.asarray(jax.random.normal(jax.random.key(0), (16, 5)), np.float32)
    model = L.Sequential(L.Linear(6), Swish(True), L.Linear(3))
    with pytest.raises(GradientCheckError) as err:
        fit(model, TrainConfig(epochs=1, batch_size=8), (x, np.arange(16) % 3), runs=1)
    text = str(err.value)
    assert "[1] Swish" in text and "manual − autodiff = x·σ(x)²" in text
    assert "finite diff" in text and "Training was not started" in text


@pytest.mark.parametrize("c, counts, text", [
    (-1.0, {}, "−1"), (2.0, {}, "2"), (0.5, {}, "1/2"), (1 / 6, {"batch size": 6}, "1/6"),
    (-8.0, {"batch size": 8}, "−8"), (0.731, {"batch size": 3}, "0.731")])
def test_name_factor(c, counts, text):
    assert mistakes.name_factor(c, counts)[0] == text


def test_region_and_missing_term_need_an_exact_pattern():
    x = np.linspace(-8, 8, 321)
    assert mistakes.region(x < 0, x).startswith("wrong only where x < 0")
    assert mistakes.region(np.abs(x) >= 5, x).startswith("wrong only where |x| ≥ 5 (saturation)")
    assert mistakes.region(np.ones_like(x, bool), x) is None
    noise = np.random.default_rng(0).normal(size=x.size)
    assert mistakes.missing_term(noise, x) is None       # no simple function fits noise
    assert mistakes.missing_term(3 * x ** 2, x).startswith("manual − autodiff = 3·x²")


def test_verify_objective_diagnoses_a_wrong_loss_gradient():
    from nnjax.gradcheck.checks import verify_objective
    model = L.Sequential(L.Linear(4), L.Tanh(), L.Linear(3))
    params, state, _ = model.init(jax.random.key(0), (5,))
    x = jax.random.normal(jax.random.key(1), (6, 5))
    target = jax.random.normal(jax.random.key(2), (6, 3))
    bad = losses.mse._replace(grad=lambda p, t: -losses.mse.grad(p, t), name="mse(−)")
    check = verify_objective(model, bad, params, state, x, target)
    assert not check.ok and check.worst == "objective"
    assert "loss mse(−)" in check.explain() and "the sign is flipped" in check.explain()
