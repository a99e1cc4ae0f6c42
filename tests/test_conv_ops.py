"""Convolution lowerings (nnjax.layers.conv_ops): how one is chosen, and that every
lowering gives the same forward and gradients on CPU for seed 004's conv autoencoder.
(Each lowering's layer backward is checked against jax.vjp, finite differences and PyTorch
in float64 in tests/test_conv.py.)"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.backprop import value_and_grad
from nnjax.layers import conv_ops
from nnjax.losses import mse
from nnjax.models import conv_autoencoder


def test_selection_order(monkeypatch):
    monkeypatch.delenv(conv_ops.ENV, raising=False)
    default = conv_ops.BACKEND_DEFAULT.get(jax.default_backend(), "xla")
    assert conv_ops.resolve() == default
    monkeypatch.setenv(conv_ops.ENV, "im2col")
    assert conv_ops.resolve() == "im2col"
    with conv_ops.lowering("xla"):
        assert conv_ops.resolve() == "xla"                 # the block beats the variable
        with conv_ops.lowering("phase"):
            assert conv_ops.resolve() == "phase"
        assert conv_ops.resolve() == "xla"
        assert conv_ops.resolve("im2col") == "im2col"      # the argument beats the block
    assert conv_ops.resolve() == "im2col"
    monkeypatch.setenv(conv_ops.ENV, "fft")
    with pytest.raises(ValueError, match=r"NNJAX_CONV_LOWERING.*'fft'.*xla, im2col, phase"):
        conv_ops.resolve()


def test_backend_defaults():
    assert conv_ops.BACKEND_DEFAULT["cpu"] in conv_ops.LOWERINGS
    assert "gpu" not in conv_ops.BACKEND_DEFAULT and "tpu" not in conv_ops.BACKEND_DEFAULT


def test_bad_names():
    with pytest.raises(ValueError, match=r"Conv2D.*'winograd'.*choose one of xla, im2col"):
        L.Conv2D(4, 3, lowering="winograd")
    with pytest.raises(ValueError, match=r"ConvTranspose2D.*unknown.*'x'"):
        L.ConvTranspose2D(4, 3, lowering="x")
    with pytest.raises(ValueError, match="unknown convolution lowering"):
        with conv_ops.lowering("none"):
            pass


def test_context_manager_reaches_the_layer():
    """The lowering is fixed when the layer is built: a layer built in a block traces to a
    different program per lowering (XLA's conv has convolution ops, the matmul lowerings
    none), and leaving the block does not change a layer already built."""
    x = jax.ShapeDtypeStruct((2, 8, 8, 2), jnp.float32)
    texts = {}
    for name in conv_ops.LOWERINGS:
        with conv_ops.lowering(name):
            layer = L.Conv2D(4, 3, 2, 1)
        params, _, _ = jax.eval_shape(lambda k: layer.init(k, (8, 8, 2)), jax.random.key(0))
        texts[name] = str(jax.make_jaxpr(lambda p, x: layer.forward(p, (), x)[0])(params, x))
    assert "conv_general_dilated" in texts["xla"]
    assert "conv_general_dilated" not in texts["im2col"] + texts["phase"]
    assert texts["im2col"] != texts["phase"]


def test_every_lowering_same_forward_and_gradients():
    """Seed 004's autoencoder (float32, batch 4): loss, output and every gradient agree
    across lowerings to float32 rounding (1e-5 of the largest entry)."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(size=(4, 28, 28, 1)), jnp.float32)
    out = {}
    for name in conv_ops.LOWERINGS:
        with conv_ops.lowering(name):
            model = conv_autoencoder(8)
        params, state, _ = model.init(jax.random.key(0), (28, 28, 1))
        (loss, aux), grads = jax.jit(value_and_grad(model, mse, "manual"))(
            params, state, x, x, jax.random.key(1))
        out[name] = (loss, aux.output, grads)
    ref = out["xla"]
    for name, got in out.items():
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref)):
            a, b = np.asarray(a), np.asarray(b)
            scale = max(float(np.max(np.abs(b))), 1e-30)
            assert np.max(np.abs(a - b)) <= 1e-5 * scale, name
            assert a.shape == b.shape
    # the programs really differ: XLA's lowering is not bit-identical to the matmul ones
    assert any(not np.array_equal(a, b) for a, b in
               zip(jax.tree.leaves(out["phase"]), jax.tree.leaves(ref)))


def test_kernel_gradient_dot_keeps_its_fast_orientation():
    """``rows_contracted`` is colsᵀ·dy (float64, exact up to round-off), and XLA compiles it
    as one dot into a row-major (O, K) result followed by a transpose: without the
    barrier XLA folds the transpose into the dot's output layout, the (K, O) orientation
    that took ≈ 1.6–1.75× the time (benchmarks/TRIED.md, fifth pass)."""
    rng = np.random.default_rng(0)
    cols, dy = rng.normal(size=(3, 7, 7, 72)), rng.normal(size=(3, 7, 7, 16))
    with jax.enable_x64(True):
        got = conv_ops.rows_contracted(jnp.asarray(cols), jnp.asarray(dy))
    np.testing.assert_allclose(got, cols.reshape(-1, 72).T @ dy.reshape(-1, 16), rtol=1e-12)
    text = jax.jit(conv_ops.rows_contracted).lower(
        jnp.zeros((3, 7, 7, 72), jnp.float32), jnp.zeros((3, 7, 7, 16), jnp.float32)
    ).compile().as_text()
    dots = [line for line in text.splitlines() if " dot(" in line]
    assert len(dots) == 1 and "f32[16,72]{1,0} dot(" in dots[0], dots
