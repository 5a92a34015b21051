"""Paired randomization test, Holm correction and paired differences against hand values and scipy."""

import numpy as np
import pytest
from scipy import stats

from core.metrics import holm, mean_ci, paired_difference, paired_randomization_test, stars

# --- randomization test --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "p"),
    [
        # |sum| over the 8 flips of (1, 2, 3): 6, 0, 2, 4, 4, 2, 0, 6 -> only the two 6s reach 6
        ([1, 2, 3], 2 / 8),
        ([1, 1, 1, 1], 2 / 16),
        # (3, -1, 1), sum 3: |3 +- 1 +- 1| is 5, 3, 3, 1 -> 3 of 4 flips (and their mirrors) reach 3
        ([3, -1, 1], 6 / 8),
        ([1, -1], 1.0),  # observed mean 0: every flip is at least as extreme
        ([2.5], 1.0),  # one difference: both flips have the same |mean|
        ([0.0, 0.0, 0.0], 1.0),
        ([], 1.0),
    ],
)
def test_randomization_exact_p_matches_hand_enumeration(d, p):
    assert paired_randomization_test(d, n_perm=2000, seed=0) == pytest.approx(p, abs=1e-15)


def test_randomization_exact_p_is_seed_free_symmetric_and_drops_non_finite():
    d = [0.5, -0.25, 1.0, 0.75, 0.1]
    p = paired_randomization_test(d, seed=0)
    assert paired_randomization_test(d, seed=123) == p  # 2**5 <= n_perm: exact, no randomness
    assert paired_randomization_test(np.negative(d)) == p
    assert paired_randomization_test([*d, np.nan, np.inf]) == p
    assert paired_randomization_test(np.multiply(d, 1000.0)) == p  # scale-free


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_randomization_exact_matches_scipy_permutation_test(seed):
    rng = np.random.default_rng(seed)
    d = rng.normal(0.3, 1.0, size=11)
    ref = stats.permutation_test(
        (d,), np.mean, permutation_type="samples", n_resamples=np.inf, alternative="two-sided"
    )
    assert paired_randomization_test(d, n_perm=2**11) == pytest.approx(ref.pvalue, abs=1e-12)
    # The same test phrased as two paired samples (swap a and b within a pair = flip the difference's sign)
    a = rng.uniform(0, 1, size=9)
    b = a - rng.normal(0.1, 0.2, size=9)
    ref2 = stats.permutation_test(
        (a, b), lambda x, y: np.mean(x - y), permutation_type="samples", n_resamples=np.inf, vectorized=False
    )
    assert paired_randomization_test(a - b) == pytest.approx(ref2.pvalue, abs=1e-12)


def test_randomization_monte_carlo_agrees_with_exact_and_is_seeded():
    d = np.random.default_rng(7).normal(0.4, 1.0, size=15)  # 2**15 = 32768 sign vectors
    exact = paired_randomization_test(d, n_perm=2**15)
    mc = paired_randomization_test(d, n_perm=20_000, seed=0)  # 20000 < 32768: Monte Carlo
    assert mc != exact  # it really took the sampled path
    assert mc == pytest.approx(exact, abs=0.01)  # ~7 standard errors at p ~ 0.1
    assert paired_randomization_test(d, n_perm=20_000, seed=0) == mc
    assert paired_randomization_test(d, n_perm=20_000, seed=1) != mc


def test_randomization_monte_carlo_has_plus_one_correction():
    # 40 equal positive differences: no random flip (of 2000) reaches the observed mean, so p = 1 / 2001
    assert paired_randomization_test(np.ones(40), n_perm=2000, seed=0) == pytest.approx(1 / 2001)
    assert paired_randomization_test(np.ones(40), n_perm=10, seed=0) == pytest.approx(1 / 11)


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_randomization_approaches_the_t_test_for_many_normal_differences(seed):
    d = np.random.default_rng(seed).normal(0.12, 1.0, size=300)
    p_t = stats.ttest_1samp(d, 0.0).pvalue
    assert paired_randomization_test(d, n_perm=20_000, seed=0) == pytest.approx(p_t, abs=0.01)


# --- Holm ----------------------------------------------------------------------------------------------


def test_holm_hand_example():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    got = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    np.testing.assert_allclose(holm([0.3, 0.6, 0.02]), [0.6, 0.6, 0.06], rtol=1e-12)  # 0.3 x 2, cap by max
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # clipped at 1
    assert holm([]).shape == (0,)


def _holm_reference(p):
    """Straight from the definition: adj_i = min(1, max over j ranked no later than i of (m - rank_j) p_j)."""
    m = len(p)
    rank = {i: r for r, i in enumerate(sorted(range(m), key=lambda i: p[i]))}
    return [
        min(1.0, max((m - rank[j]) * p[j] for j in range(m) if rank[j] <= rank[i] or p[j] == p[i]))
        for i in range(m)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_holm_matches_definition_and_step_down_rejections(seed):
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0, 0.2, size=12) ** 2, 3)  # rounding makes ties
    adj = holm(p)
    np.testing.assert_allclose(adj, _holm_reference(p.tolist()), rtol=1e-12)
    assert np.all(adj >= p) and np.all(adj <= 1)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)  # monotone in the raw p-values
    for alpha in (0.001, 0.01, 0.05):
        # Holm's step-down: reject the sorted p_(k) while p_(k) <= alpha / (m - k), stop at the first failure
        reject = np.zeros(len(p), bool)
        for k, i in enumerate(order):
            if p[i] > alpha / (len(p) - k):
                break
            reject[i] = True
        assert np.array_equal(adj <= alpha, reject)


def test_holm_leaves_nan_out():
    got = holm([0.01, np.nan, 0.04])
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2]], holm([0.01, 0.04]))  # m = 2, not 3
    assert np.isnan(holm([np.nan, np.nan])).all()


def test_stars_thresholds():
    assert [stars(p) for p in (0.0009, 0.001, 0.0099, 0.01, 0.049, 0.05, 1.0, np.nan)] == [
        "***", "**", "**", "*", "*", "n.s.", "n.s.", "n.s.",
    ]  # fmt: skip


# --- paired difference ---------------------------------------------------------------------------------


def test_paired_difference_ci_covers_the_true_mean_and_is_seeded():
    true = 0.1
    dev = np.linspace(-0.3, 0.3, 61)  # symmetric: the sample mean of d is exactly the true mean
    b = np.random.default_rng(0).uniform(0.2, 0.8, size=61)
    a = b + true + dev
    r = paired_difference(a, b, seed=4)
    assert r.delta == pytest.approx(true) and r.n == 61
    assert r.low < true < r.high
    assert r.relative == pytest.approx(true / b.mean())
    assert r.p < 0.01  # a consistent shift of 0.1 with sd ~0.18 over 61 pairs
    assert paired_difference(a, b, seed=4) == r
    assert paired_difference(a, b, seed=5) != r
    e = mean_ci(a - b, seed=4)
    assert (r.low, r.high) == (e.low, e.high)  # the interval is mean_ci of the differences


def test_paired_difference_interval_coverage_is_near_nominal():
    rng = np.random.default_rng(11)
    hits = 0
    for trial in range(200):
        b = rng.uniform(0, 1, size=50)
        a = b + rng.normal(0.05, 0.2, size=50)
        r = paired_difference(a, b, n_boot=400, n_perm=10, seed=trial)
        hits += r.low <= 0.05 <= r.high
    assert 0.88 <= hits / 200 <= 0.99


def test_paired_difference_edges():
    r = paired_difference([1.0, np.nan, 0.5], [0.5, 0.2, np.nan], n_boot=0)
    assert r.n == 1 and r.delta == 0.5 and np.isnan(r.low) and np.isnan(r.high) and r.p == 1.0
    assert r.relative == pytest.approx(1.0)
    empty = paired_difference([], [])
    assert empty.n == 0 and np.isnan(empty.delta) and np.isnan(empty.relative) and empty.p == 1.0
    assert np.isnan(paired_difference([0.5, 0.5], [0.0, 0.0]).relative)  # mean(b) = 0
    with pytest.raises(ValueError, match="length"):
        paired_difference([1, 2], [1])
