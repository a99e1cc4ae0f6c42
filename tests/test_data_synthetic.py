"""Seed 001's synthetic sets and the corruptions: shapes, statistics, keys, vmap.

Run under rank-promotion errors and the key-reuse checker (each test gets fresh keys).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax.data import (blobs, gaussian_noise, linear_regression, occlude, psnr,
                        uniform_noise, xor_blobs)


@pytest.fixture(autouse=True)
def strict():
    with jax.numpy_rank_promotion("raise"), jax.debug_key_reuse(True):
        yield


def keys(seed, n):
    return jax.random.split(jax.random.key(seed), n)


# ---------------------------------------------------------------- synthetic sets

def test_linear_regression():
    x, y, line = linear_regression(jax.random.key(0), n=4000)
    assert x.shape == (4000, 1) and y.shape == (4000, 1) and x.dtype == jnp.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 10.0
    assert -5 <= float(line.w) <= 5 and -10 <= float(line.b) <= 10
    residual = np.asarray(y - (line.w * x + line.b))
    assert abs(residual.std() - 0.5) < 0.03 and abs(residual.mean()) < 0.03


def test_linear_regression_vmaps_over_keys():
    x, y, line = jax.jit(jax.vmap(linear_regression))(keys(1, 25))
    assert x.shape == (25, 400, 1) and y.shape == (25, 400, 1) and line.w.shape == (25,)
    assert len(np.unique(np.asarray(line.w))) == 25
    w = np.asarray(line.w)
    assert w.min() < -2 and w.max() > 2  # spread over U(-5, 5)
    x0, _, line0 = linear_regression(keys(1, 25)[3])
    np.testing.assert_allclose(x0, x[3], rtol=1e-6)
    assert float(line0.b) == pytest.approx(float(line.b[3]), rel=1e-6)


def test_blobs():
    x, y = blobs(jax.random.key(2), n=4000)
    assert x.shape == (4000, 2) and y.shape == (4000,) and y.dtype == jnp.int32
    x, y = np.asarray(x), np.asarray(y)
    assert (y == 0).sum() == 2000 and (y == 1).sum() == 2000
    np.testing.assert_allclose(x[y == 0].mean(0), [-3, -3], atol=0.1)
    np.testing.assert_allclose(x[y == 1].mean(0), [3, 3], atol=0.1)
    np.testing.assert_allclose(x[y == 1].std(0), [1, 1], atol=0.06)
    assert 0 < y[:20].sum() < 20  # shuffled, not sorted by class
    assert ((x.sum(1) > 0) == (y == 1)).mean() > 0.999  # linearly separable in practice


def test_xor_blobs():
    x, y = xor_blobs(jax.random.key(3), n=4000)
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == (4000, 2) and np.bincount(y).tolist() == [2000, 2000]
    for cx, cy, label in [(3, 3, 0), (-3, -3, 0), (3, -3, 1), (-3, 3, 1)]:
        near = (np.abs(x[:, 0] - cx) < 2) & (np.abs(x[:, 1] - cy) < 2)
        assert near.sum() > 800 and (y[near] == label).mean() > 0.99
    assert ((x[:, 0] * x[:, 1] < 0) == (y == 1)).mean() > 0.99


def test_sets_vmap_and_differ_by_key():
    for make in (blobs, xor_blobs):
        x, y = jax.vmap(make)(keys(4, 5))
        assert x.shape == (5, 400, 2) and y.shape == (5, 400)
        assert not np.allclose(x[0], x[1])
        x2, _ = make(keys(4, 5)[2])
        np.testing.assert_allclose(x2, x[2], rtol=1e-6)


# ---------------------------------------------------------------- corruptions

def test_gaussian_noise_statistics_and_clip():
    x = jnp.full((64, 28, 28, 1), 0.5)
    noisy = gaussian_noise(jax.random.key(5), x, 0.1, clip=False)
    assert noisy.shape == x.shape and noisy.dtype == x.dtype
    assert float(jnp.std(noisy - x)) == pytest.approx(0.1, rel=0.02)
    assert abs(float(jnp.mean(noisy - x))) < 0.002
    clipped = gaussian_noise(jax.random.key(6), x, 0.6)
    assert float(clipped.min()) == 0.0 and float(clipped.max()) == 1.0
    raw = gaussian_noise(jax.random.key(6), x, 0.6, clip=False)
    np.testing.assert_array_equal(clipped, jnp.clip(raw, 0, 1))  # same key, same noise
    assert float(raw.min()) < 0 and float(raw.max()) > 1


def test_gaussian_noise_vmaps_over_keys_and_sigma():
    x = jnp.full((32, 784), 0.5)
    sigmas = jnp.array([0.1, 0.3, 0.5])
    noisy = jax.jit(jax.vmap(lambda k, s: gaussian_noise(k, x, s, clip=False)))(keys(7, 3), sigmas)
    assert noisy.shape == (3, 32, 784)
    stds = np.asarray(jnp.std(noisy - x[None], axis=(1, 2)))
    np.testing.assert_allclose(stds, sigmas, rtol=0.03)
    a, b = jax.vmap(lambda k: gaussian_noise(k, x, 0.2))(keys(8, 2))
    assert not np.allclose(a, b)


def test_uniform_noise():
    x = jnp.zeros((64, 28, 28, 1))
    noisy = uniform_noise(jax.random.key(9), x + 0.25)
    noise = np.asarray(noisy - 0.25)
    assert noise.min() >= 0.0 and noise.max() < 1.0
    assert noise.mean() == pytest.approx(0.5, abs=0.005)
    assert noise.var() == pytest.approx(1 / 12, rel=0.03)
    assert float(uniform_noise(jax.random.key(10), x + 0.8, clip=True).max()) <= 1.0
    a, b = jax.vmap(lambda k: uniform_noise(k, x))(keys(11, 2))
    assert not np.allclose(a, b)


@pytest.mark.parametrize("shape", [(50, 28, 28, 1), (50, 28, 28, 3), (50, 28, 28), (50, 784)])
def test_occlude_zeroes_one_square(shape):
    x = jnp.ones(shape)
    out = np.asarray(occlude(jax.random.key(12), x))
    assert out.shape == shape
    images = out.reshape(50, 28, 28, -1)
    channels = images.shape[-1]
    zero = images == 0
    assert (zero.sum(axis=(1, 2, 3)) == 14 * 14 * channels).all()
    tops = []
    for z in zero[..., 0]:
        rows, cols = np.nonzero(z.any(1))[0], np.nonzero(z.any(0))[0]
        assert rows[-1] - rows[0] == 13 and cols[-1] - cols[0] == 13  # one 14×14 square
        assert z[rows[0]:rows[0] + 14, cols[0]:cols[0] + 14].all()
        tops.append(rows[0])
    assert len(set(tops)) > 5  # random positions, independent per image


def test_occlude_covers_all_positions_and_vmaps():
    x = jnp.ones((2000, 8, 8, 1))
    out = np.asarray(occlude(jax.random.key(13), x, size=4))
    top = np.argmax((out == 0).any(axis=(2, 3)), axis=1)
    assert set(top.tolist()) == set(range(5))  # 0..H-size, all reachable
    batch = jax.vmap(lambda k: occlude(k, x[:10], size=3))(keys(14, 4))
    assert batch.shape == (4, 10, 8, 8, 1) and not np.array_equal(batch[0], batch[1])


def test_occlude_errors():
    with pytest.raises(ValueError, match="not square"):
        occlude(jax.random.key(15), jnp.ones((2, 10)))
    with pytest.raises(ValueError, match="size=30"):
        occlude(jax.random.key(16), jnp.ones((2, 28, 28, 1)), size=30)


def test_psnr():
    x = jnp.zeros((3, 28, 28, 1))
    y = x.at[1].set(0.1).at[2].set(1.0)
    values = np.asarray(psnr(x, y))
    assert values.shape == (3,) and np.isinf(values[0])
    np.testing.assert_allclose(values[1:], [20.0, 0.0], atol=1e-4)
    assert float(psnr(x[:1] + 10, x[:1] + 12, max_val=255.0)[0]) == pytest.approx(
        10 * np.log10(255.0**2 / 4), rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, x[:2])
