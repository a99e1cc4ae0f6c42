"""TrainConfig.microbatch (nnjax.train.microbatch): a step's gradient computed in chunks of
the batch is the whole batch's, to round-off, for layers that treat examples independently."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import layers as L
from nnjax.backprop import value_and_grad
from nnjax.losses import get as loss_named
from nnjax.models import conv_autoencoder
from nnjax.train import TrainConfig, fit
from nnjax.train import microbatch


def test_chunks_only_when_the_chunk_divides_the_batch():
    assert microbatch.chunks(1000, 50) == 20
    assert microbatch.chunks(1000, None) == 1
    assert microbatch.chunks(1000, 300) == 1          # 300 does not divide 1000: unchunked
    assert microbatch.chunks(50, 50) == 1
    assert microbatch.chunks(40, 100) == 1            # the chunk is larger than the batch


def test_config_refuses_a_microbatch_that_does_not_divide_the_batch():
    with pytest.raises(ValueError, match=r"microbatch=300 does not divide batch_size=1000"
                                         r" .*use a divisor \(e\.g\. 250\)"):
        TrainConfig(batch_size=1000, microbatch=300)
    with pytest.raises(ValueError, match=r"microbatch=200 does not divide batch_size=128"):
        TrainConfig(batch_size=128, microbatch=200)
    assert TrainConfig(batch_size=1000, microbatch=1000).microbatch == 1000


@pytest.mark.parametrize("bad", [0, -4, 2.5, True, "50"])
def test_config_rejects_a_bad_microbatch(bad):
    with pytest.raises(ValueError, match="microbatch must be a positive int"):
        TrainConfig(microbatch=bad)


CASES = {  # (model, input shape, loss, target is the input)
    "conv_ae": (conv_autoencoder(4, channels=(2, 3, 4), hidden=5), (8, 28, 28, 1), "mse", True),
    "mlp_ce": (L.Sequential(L.Linear(7), L.Tanh(), L.Linear(3)), (12, 5),
               "softmax_cross_entropy", False),
}


@pytest.mark.parametrize("grad", ["manual", "autodiff"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_chunked_step_equals_the_whole_batch_in_float64(name, grad):
    model, shape, loss, autoencoder = CASES[name]
    with jax.enable_x64(True):
        kx, kt, kp = jax.random.split(jax.random.key(0), 3)
        x = jax.random.uniform(kx, shape, jnp.float64)
        target = x if autoencoder else jax.random.randint(kt, (shape[0],), 0, 3)
        params, state, _ = model.init(kp, shape[1:])
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        vg = value_and_grad(model, loss_named(loss), grad)
        (v, aux), g = vg(params, state, x, target)
        for m in (shape[0] // 4,):                    # 4 chunks
            (vc, auxc), gc = jax.jit(microbatch.wrap(vg, m))(params, state, x, target)
            np.testing.assert_allclose(vc, v, rtol=1e-12)
            np.testing.assert_allclose(auxc.output, aux.output, rtol=1e-12, atol=1e-14)
            for a, b in zip(jax.tree.leaves(gc), jax.tree.leaves(g)):
                assert a.dtype == np.float64
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
        # a wrong combination (the sum instead of the mean of the chunks) would differ
        assert not np.allclose(vc * 2, v)


def test_fit_with_microbatches_follows_the_same_trajectory(monkeypatch):
    """Two runs, 3 epochs of 4 steps of 16 images: per-epoch losses and final parameters
    agree with the unchunked fit to float32 round-off; the chunked step is the one that
    ran (its trace asked for 4 chunks of 4)."""
    model = conv_autoencoder(4, channels=(2, 3, 4), hidden=5)
    x = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    cfg = TrainConfig(epochs=3, batch_size=16, optimizer="adam", learning_rate=1e-2,
                      loss="mse", target="input", drop_last=True)
    asked, chunks = [], microbatch.chunks
    monkeypatch.setattr(microbatch, "chunks", lambda b, m: asked.append((b, m)) or chunks(b, m))
    out = {m: fit(model, cfg.replace(microbatch=m), x, runs=2, verify=False, progress=False)
           for m in (None, 4)}
    assert (16, 4) in asked and chunks(16, 4) == 4
    base = out[None]
    np.testing.assert_allclose(out[4].history["train_loss"], base.history["train_loss"],
                               rtol=2e-5)
    for a, b in zip(jax.tree.leaves(out[4].params), jax.tree.leaves(base.params)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
