"""nnjax.analysis.stats: IQM definition, visible NaN exclusion, stratified bootstrap."""
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from nnjax.analysis import stats


def test_iqm_of_15_values_averages_the_middle_9():
    x = np.arange(1.0, 16.0)                       # 1..15
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(x)
    # trim 3 from each end → 4..12 (nine values); seed 001 averaged 7 (5..11).
    assert stats.iqm(shuffled) == pytest.approx(np.mean(np.arange(4.0, 13.0)))
    # ranks 4 and 12 (1 and 28) are in the middle 9 but not in the middle 7
    y = np.array([100, -100, 10, 1, 10, 100, 10, 10, -100, 28, 10, 10, 100, -100, 10], float)
    assert stats.iqm(y) == pytest.approx((1 + 7 * 10 + 28) / 9)   # = 11
    assert stats.iqm(y) != pytest.approx(10.0)     # what averaging the middle 7 would give


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 15, 16, 25])
def test_iqm_matches_scipy_trim_mean(n):
    x = np.random.default_rng(n).normal(size=(n, 6))
    np.testing.assert_allclose(stats.iqm(x, axis=0), sps.trim_mean(x, 0.25, axis=0))
    np.testing.assert_allclose(stats.iqm(x, axis=1), sps.trim_mean(x, 0.25, axis=1))
    assert stats.iqm(x[:, 0]) == pytest.approx(sps.trim_mean(x[:, 0], 0.25))
    assert isinstance(stats.iqm(x), float)          # axis=None pools everything


def test_iqm_nan_policy():
    x = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, np.inf], [4.0, 7.0], [np.nan, np.nan]])
    assert np.isnan(stats.iqm(x[:, 0]))                          # propagate by default
    np.testing.assert_allclose(stats.iqm(x, axis=0, nan_policy="omit"), [2.5, 6.0])
    allnan = stats.iqm(np.full((3, 2), np.nan), axis=0, nan_policy="omit")
    assert np.isnan(allnan).all()
    with pytest.raises(ValueError, match="nan_policy"):
        stats.iqm(x, nan_policy="ignore")


def test_quartiles():
    assert stats.quartiles(np.arange(9.0)) == (2.0, 4.0, 6.0)
    q1, med, q3 = stats.quartiles(np.array([[0.0, 1], [4, np.nan], [8, 3]]), axis=0,
                                  nan_policy="omit")
    np.testing.assert_allclose(med, [4.0, 2.0])
    np.testing.assert_allclose(q1, [2.0, 1.5])


def test_summary_excludes_nan_visibly_and_is_json():
    vals = np.array([0.97, 0.971, np.nan, 0.969, np.inf, 0.972])
    s = stats.summary(vals, n_boot=500)
    assert (s["n"], s["n_excluded"], s["excluded_index"]) == (4, 2, [2, 4])
    assert s["mean"] == pytest.approx(np.mean([0.97, 0.971, 0.969, 0.972]))
    assert s["values"][2] is None and s["values"][4] is None and s["values"][0] == 0.97
    assert s["ci_low"] is None and s["ci_high"] is None          # 4 finite runs: no CI
    json.dumps(s, allow_nan=False)                                # strict JSON
    assert all(isinstance(s[k], float) for k in ("iqm", "std", "q1", "q3", "min", "max"))


def test_summary_when_everything_diverged_or_single_run():
    s = stats.summary([np.nan, np.nan])
    assert s["n"] == 0 and s["n_excluded"] == 2
    assert all(s[k] is None for k in ("iqm", "mean", "std", "median", "ci_low", "ci_high"))
    json.dumps(s, allow_nan=False)
    one = stats.summary([0.5])
    assert one["iqm"] == 0.5 and one["std"] is None and one["ci_low"] is None


def test_bootstrap_ci_contains_iqm_and_is_deterministic():
    x = np.random.default_rng(1).normal(0.97, 0.002, size=15)
    a = stats.bootstrap_ci(x, n_boot=2000, seed=3)
    assert a == stats.bootstrap_ci(x, n_boot=2000, seed=3)
    assert a != stats.bootstrap_ci(x, n_boot=2000, seed=4)
    assert a[0] < stats.iqm(x) < a[1]
    narrow = stats.bootstrap_ci(x, n_boot=2000, seed=3, confidence=0.5)
    assert a[0] <= narrow[0] <= narrow[1] <= a[1]


def test_bootstrap_other_statistics_and_errors():
    x = np.arange(20.0)
    lo, hi = stats.bootstrap_ci(x, np.mean, n_boot=300)
    assert lo < 9.5 < hi
    lo2, hi2 = stats.bootstrap_ci(x, lambda v: float(np.mean(v)), n_boot=300)
    assert (lo, hi) == pytest.approx((lo2, hi2))                  # fast path = slow path
    with pytest.raises(ValueError, match="no finite"):
        stats.bootstrap_ci(np.array([[1.0, np.nan], [2.0, np.nan]]))
    with pytest.raises(ValueError, match="confidence"):
        stats.bootstrap_ci(x, confidence=95)


def test_stratified_resampling_keeps_strata_sizes():
    rng = np.random.default_rng(2)
    low = rng.uniform(0, 1, size=7)                # stratum A: values in [0, 1)
    high = rng.uniform(100, 101, size=4)           # stratum B: values in [100, 101)
    counts = stats.bootstrap_replicates([low, high], lambda v: np.sum(v >= 100), n_boot=400)
    assert set(counts.tolist()) == {4.0}           # every replicate: exactly 4 from B
    sizes = stats.bootstrap_replicates([low, high], len, n_boot=50)
    assert set(sizes.tolist()) == {11.0}
    # a (runs, tasks) matrix: each column is a stratum of its own
    m = np.stack([low[:4], high], axis=1)          # (4 runs, 2 tasks)
    counts = stats.bootstrap_replicates(m, lambda v: np.sum(v >= 100), n_boot=400)
    assert set(counts.tolist()) == {4.0}
    # pooled (unstratified) resampling of the same 8 values would vary this count
    pooled = stats.bootstrap_replicates(m.reshape(-1), lambda v: np.sum(v >= 100), n_boot=400)
    assert len(set(pooled.tolist())) > 1


def test_bootstrap_of_strata_drops_nonfinite_runs():
    m = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 12.0]])
    reps = stats.bootstrap_replicates(m, len, n_boot=20)
    assert set(reps.tolist()) == {5.0}
    assert not math.isnan(stats.bootstrap_ci(m)[0])
