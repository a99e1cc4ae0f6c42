"""Layer semantics beyond gradients: conventions, modes, errors, jit behaviour."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import layers as L
from nnjax import losses
from nnjax.backprop import autodiff, backprop, value_and_grad
from nnjax.layer import ShapeError, as_function
from nnjax.layers.hyperparam import set_values


def _init(layer, shape, seed=0):
    return layer.init(jax.random.key(seed), shape)


def test_sequential_threads_shapes_and_matches_autodiff():
    model = L.Sequential(L.Flatten(), L.Linear(16), L.ReLU(), L.Linear(3))
    params, state, out = _init(model, (4, 4, 1))
    assert out == (3,) and len(params) == 4 and params[1].w.shape == (16, 16)
    x = jax.random.normal(jax.random.key(1), (5, 4, 4, 1))
    y = jnp.array([0, 1, 2, 0, 1])
    (v1, a1), g1 = backprop(model, losses.softmax_cross_entropy)(params, state, x, y)
    (v2, a2), g2 = autodiff(model, losses.softmax_cross_entropy)(params, state, x, y)
    np.testing.assert_allclose(v1, v2, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_batchnorm_follows_pytorch_conventions():
    bn = L.BatchNorm()
    params, state, _ = _init(bn, (2,))
    x = jnp.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    y, new_state, _ = bn.forward(params, state, x, train=True)
    # batch mean (3, 6); biased var (8/3, 32/3) normalises; unbiased (4, 16) is tracked
    np.testing.assert_allclose(new_state.mean, [0.3, 0.6], rtol=1e-6)
    np.testing.assert_allclose(new_state.var, [0.9 + 0.1 * 4, 0.9 + 0.1 * 16], rtol=1e-6)
    np.testing.assert_allclose(y[:, 0], (x[:, 0] - 3) / np.sqrt(8 / 3 + 1e-5), rtol=1e-5)
    # eval uses running statistics and leaves the state unchanged
    y_eval, s_eval, _ = bn.forward(params, new_state, x, train=False)
    expected = (x - new_state.mean[None, :]) / jnp.sqrt(new_state.var[None, :] + 1e-5)
    np.testing.assert_allclose(y_eval, expected, rtol=1e-5)
    assert s_eval is new_state


def test_batchnorm_over_channels_of_images():
    bn = L.BatchNorm()
    params, state, _ = _init(bn, (3, 3, 2))
    x = jax.random.normal(jax.random.key(0), (4, 3, 3, 2)) * 3 + 1
    y, _, _ = bn.forward(params, state, x, train=True)
    np.testing.assert_allclose(jnp.mean(y, axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(jnp.var(y, axis=(0, 1, 2)), 1, rtol=1e-3)


def test_dropout_scales_and_needs_a_key():
    drop = L.Dropout(0.25)
    x = jnp.ones((1000, 10))
    y, _, _ = drop.forward((), (), x, key=jax.random.key(0), train=True)
    np.testing.assert_allclose(np.unique(np.asarray(y)), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs(float(jnp.mean(y == 0)) - 0.25) < 0.02
    y_eval, _, _ = drop.forward((), (), x)
    np.testing.assert_array_equal(y_eval, x)
    with pytest.raises(ValueError, match="Dropout.*key"):
        drop.forward((), (), x, train=True)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_out_of_range(rate):
    with pytest.raises(ValueError, match=r"rate.*\[0, 1\)"):
        L.Dropout(rate)


def test_shape_errors_name_the_layer_and_shapes():
    lin = L.Linear(4)
    params, state, _ = _init(lin, (3,))
    with pytest.raises(ShapeError, match=r"Linear\(4\).*\(batch, 3\).*\(2, 5\)"):
        lin.forward(params, state, jnp.ones((2, 5)))
    with pytest.raises(ShapeError, match=r"Linear\(4\).*rank 2.*\(3,\)"):
        lin.forward(params, state, jnp.ones((3,)))
    with pytest.raises(ValueError, match=r"Linear\(4\).*Flatten"):
        lin.init(jax.random.key(0), (2, 3))
    with pytest.raises(ValueError, match="out_features must be a positive integer"):
        L.Linear(0)
    with pytest.raises(ValueError, match="Reshape.*cannot reshape"):
        L.Reshape((5,)).init(jax.random.key(0), (2, 3))
    with pytest.raises(TypeError, match="not a Layer.*ReLU"):
        L.Sequential(L.Linear(3), L.ReLU)


def test_batchnorm_batch_of_one_in_train_mode_is_a_clear_error():
    bn = L.BatchNorm()
    params, state, _ = _init(bn, (3,))
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn.forward(params, state, jnp.ones((1, 3)), train=True)


def test_labels_outside_class_range_are_rejected():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\).*\[0, 3\]"):
        losses.softmax_cross_entropy.value(jnp.zeros((2, 3)), jnp.array([0, 3]))
    # labels closed over by a jitted function are concrete: checked, not a tracer error
    bad, good = jnp.array([0, 3]), jnp.array([0, 2])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        jax.jit(lambda z: losses.softmax_cross_entropy.value(z, bad))(jnp.zeros((2, 3)))
    ok = jax.jit(lambda z: losses.softmax_cross_entropy.value(z, good))
    assert jnp.isclose(ok(jnp.zeros((2, 3))), jnp.log(3.0))
    with pytest.raises(ValueError, match="prediction shape"):
        losses.mse.value(jnp.zeros((2, 3)), jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="grad must be"):
        value_and_grad(L.ReLU(), losses.mse, grad="numeric")


def test_soft_targets_equal_integer_labels():
    logits = jax.random.normal(jax.random.key(0), (4, 5))
    labels = jnp.array([0, 4, 2, 2])
    onehot = jax.nn.one_hot(labels, 5)
    for f in (losses.softmax_cross_entropy.value, losses.softmax_cross_entropy.grad):
        np.testing.assert_allclose(f(logits, labels), f(logits, onehot), rtol=1e-6)


def test_activity_l1_penalty_enters_value_and_gradient():
    model = L.Sequential(L.Linear(3), L.ActivityL1(0.5), L.Linear(2))
    params, state, _ = _init(model, (4,))
    x = jax.random.normal(jax.random.key(1), (6, 4))
    t = jnp.zeros((6, 2))
    (v, _), g = backprop(model, losses.mse)(params, state, x, t)
    (v_ref, _), g_ref = autodiff(model, losses.mse)(params, state, x, t)
    code = x @ params[0].w + params[0].b[None, :]
    y = code @ params[2].w + params[2].b[None, :]
    np.testing.assert_allclose(v, jnp.mean(y ** 2) + 0.5 * jnp.sum(jnp.abs(code)) / 6, rtol=1e-6)
    np.testing.assert_allclose(v, v_ref, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # the strength is a traced state leaf: a vmapped sweep over λ needs no recompilation
    lams = jnp.array([0.0, 0.5, 1.0])
    sweep = jax.vmap(lambda lam: backprop(model, losses.mse)(
        params, set_values(state, {"l1": lam}), x, t)[0][0])(lams)
    np.testing.assert_allclose(sweep[1], v, rtol=1e-6)
    assert sweep[0] < sweep[1] < sweep[2]


def test_adapter_derivative_is_the_manual_backward():
    tanh = L.Tanh()
    # a deliberately wrong backward shows up through jax.grad of the adapter
    wrong = tanh._replace(backward=lambda p, res, dy: ((), 2 * dy))
    f = as_function(wrong)
    g = jax.grad(lambda x: jnp.sum(f((), x)))(jnp.ones((2, 3)))
    np.testing.assert_array_equal(g, 2 * jnp.ones((2, 3)))


def test_jitted_forward_backward_does_not_recompile():
    model = L.Sequential(L.Linear(8), L.BatchNorm(), L.ReLU(), L.Dropout(0.1), L.Linear(3))
    params, state, _ = _init(model, (5,))
    step = jax.jit(backprop(model, losses.softmax_cross_entropy))
    x = jax.random.normal(jax.random.key(1), (4, 5))
    y = jnp.array([0, 1, 2, 0])
    step(params, state, x, y, jax.random.key(2))
    before = step._cache_size()
    step(params, state, x + 1, y, jax.random.key(3))
    assert step._cache_size() == before == 1
