"""The per-run shuffle is a permutation (every example once per epoch), depends on the key,
and looks shuffled."""
import jax
import numpy as np
import pytest

from nnjax.train.permute import feistel_permutation


@pytest.mark.parametrize("n", [1, 2, 3, 7, 128, 1000, 4097, 60000])
def test_is_a_permutation(n):
    for seed in range(3):
        p = np.asarray(feistel_permutation(jax.random.key(seed), n))
        assert p.dtype == np.int32
        np.testing.assert_array_equal(np.sort(p), np.arange(n))


def test_depends_on_the_key_and_mixes():
    n = 10000
    a = np.asarray(feistel_permutation(jax.random.key(0), n))
    b = np.asarray(feistel_permutation(jax.random.key(1), n))
    assert np.mean(a == b) < 0.01                     # other key, other order
    assert np.mean(a == np.arange(n)) < 0.01          # not the identity
    # neighbouring positions land far apart: |corr(i, π(i))| small, first batch spread
    assert abs(np.corrcoef(np.arange(n), a)[0, 1]) < 0.05
    assert np.ptp(a[:128]) > 0.9 * n


def test_vmapped_equals_one_by_one():
    def keys():
        return jax.random.split(jax.random.key(3), 4)
    many = np.asarray(jax.vmap(lambda k: feistel_permutation(k, 777))(keys()))
    for i in range(4):
        np.testing.assert_array_equal(many[i], np.asarray(feistel_permutation(keys()[i], 777)))
