"""Hierarchical bootstrap over training seeds, then queries: hand-enumerated distributions, the one-seed case
equal to the plain query bootstrap and paired tests, and the seed spread widening the interval."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.metrics import (
    hierarchical_drop_ci,
    hierarchical_drop_difference,
    hierarchical_mean_ci,
    hierarchical_mean_difference,
    mean_ci,
    paired_difference,
    relative_drop_ci,
    relative_drop_difference,
)

RANKS = np.array([1, 2, 1, 5, 3, 1, 1, 8, 2, 1, 4, 1])
NOISY = np.array([2, 2, 1, 9, 3, 4, 1, 8, 5, 1, 4, 2])


# --- one seed: exactly the plain functions ---------------------------------------------------------------


def test_one_seed_is_exactly_the_plain_query_bootstrap_and_tests():
    rr, nr = 1 / RANKS, 1 / NOISY
    assert hierarchical_mean_ci([rr], seed=3) == mean_ci(rr, seed=3)
    assert hierarchical_mean_ci(rr, seed=3) == mean_ci(rr, seed=3)  # 1-D: one seed
    assert hierarchical_drop_ci([rr], [nr], seed=3) == relative_drop_ci(RANKS, NOISY, seed=3)
    other, other_noisy = np.roll(rr, 1), np.roll(nr, 2)
    assert hierarchical_mean_difference([rr], [other], n_test=500, seed=3) == paired_difference(
        rr, other, n_perm=500, seed=3
    )
    assert hierarchical_drop_difference(
        [rr], [nr], [other], [other_noisy], n_test=500, seed=3
    ) == relative_drop_difference(rr, nr, other, other_noisy, n_perm=500, seed=3)


# --- degenerate cases that pin the interval ----------------------------------------------------------------


def test_identical_seeds_give_the_plain_query_bootstrap_interval():
    rr, nr = 1 / RANKS, 1 / NOISY
    plain, hier = mean_ci(rr, seed=5), hierarchical_mean_ci([rr, rr, rr], seed=5)
    assert hier.value == pytest.approx(plain.value, abs=1e-15)
    assert (hier.low, hier.high) == pytest.approx((plain.low, plain.high), abs=1e-12)
    plain, hier = relative_drop_ci(RANKS, NOISY, seed=5), hierarchical_drop_ci([rr, rr], [nr, nr], seed=5)
    assert (hier.value, hier.low, hier.high) == pytest.approx((plain.value, plain.low, plain.high), abs=1e-12)
    assert hier.n == plain.n == len(RANKS)


def test_queries_all_equal_give_the_spread_of_the_seed_resamples():
    # Seed 0 has MRR 0.4 on every query, seed 1 0.8: a replicate's mean over two drawn seeds is 0.4 (both
    # seed 0, probability 1/4), 0.6 (1/2) or 0.8 (1/4), whatever queries are drawn; the 2.5% and 97.5%
    # quantiles of 1000 replicates are the extremes (each has about 250 replicates).
    e = hierarchical_mean_ci([[0.4] * 3, [0.8] * 3], seed=0)
    assert (e.value, e.low, e.high, e.n) == pytest.approx((0.6, 0.4, 0.8, 3), abs=1e-12)
    # Relative drops: seed 0 loses half (1 -> 0.5), seed 1 a quarter (1 -> 0.75).
    d = hierarchical_drop_ci([[1.0] * 3, [1.0] * 3], [[0.5] * 3, [0.75] * 3], seed=0)
    assert (d.value, d.low, d.high) == pytest.approx((0.375, 0.25, 0.5), abs=1e-12)


def test_two_seeds_by_two_queries_match_the_enumerated_bootstrap_distribution():
    # Seed 0: reciprocal ranks (1, 0.5); seed 1: (1, 1). Value: mean(0.75, 1.0) = 0.875.
    # Query draws (q, q') in {00, 01, 10, 11} give seed 0 the means 1, .75, .75, .5 and seed 1 always 1; seed
    # draws {00: seed 0's mean, 01 and 10: the average with 1, 11: 1}. Over the 16 equally likely outcomes:
    #   0.5: 1 (seeds 00, queries 11)      0.75: 2 (00 x 01/10) + 2 (01/10 x 11)
    #   0.875: 4 (01/10 x 01/10)            1.0: 1 (00 x 00) + 2 (01/10 x 00) + 4 (11 x any) = 7
    # CDF: 0.5 -> 1/16, 0.75 -> 5/16, 0.875 -> 9/16, 1 -> 1. With 4000 replicates the 2.5% and 97.5%
    # quantiles lie in the masses of 0.5 and 1 (0.025 < 0.0625), the 25% and 75% in those of 0.75 and 1.
    table = [[1.0, 0.5], [1.0, 1.0]]
    e = hierarchical_mean_ci(table, n_boot=4000, seed=0)
    assert e.value == pytest.approx(0.875)
    assert (e.low, e.high) == pytest.approx((0.5, 1.0), abs=1e-12)
    half = hierarchical_mean_ci(table, n_boot=4000, alpha=0.5, seed=0)
    assert (half.low, half.high) == pytest.approx((0.75, 1.0), abs=1e-12)


def test_comparisons_pin_the_seed_spread_and_the_bootstrap_p():
    # A's seeds: 0.9 and 0.7 on every query, B (one seed) 0.5: delta 0.3; replicate differences are 0.4, 0.3
    # or 0.2 (A's two drawn seeds: both 0.9, one each, both 0.7), never <= 0, so p = 2 (1 + 0) / (1 + n_test).
    r = hierarchical_mean_difference([[0.9] * 4, [0.7] * 4], [[0.5] * 4], n_test=999, seed=0)
    assert (r.delta, r.low, r.high) == pytest.approx((0.3, 0.2, 0.4), abs=1e-12)
    assert r.p == pytest.approx(2 / 1000) and r.n == 4 and r.relative == pytest.approx(0.6)
    # Drops: A's seeds lose 10% and 30%, B loses 50%: delta -0.3 in [-0.4, -0.2].
    ones = [[1.0] * 4] * 2
    r = hierarchical_drop_difference(ones, [[0.9] * 4, [0.7] * 4], [[1.0] * 4], [[0.5] * 4], n_test=999)
    assert (r.delta, r.low, r.high) == pytest.approx((-0.3, -0.4, -0.2), abs=1e-12)
    assert r.p == pytest.approx(2 / 1000) and r.relative == pytest.approx(-0.6)
    # The same two-seed model on both sides: every replicate difference is 0 (the same queries and, seed by
    # seed, equal values), so p = 1.
    rr = 1 / RANKS
    same = hierarchical_mean_difference([rr, rr / 2], [rr, rr / 2], n_test=300, seed=0)
    assert same.delta == 0 and same.p == 1.0


def test_seeds_straddling_zero_are_not_significant_and_the_p_follows_the_interval():
    # A's seeds lose 0.6 and 0.4 of clean; B loses 0.5: A's replicate means 0.6, 0.5, 0.4 minus 0.5 give
    # differences +0.1 (1/4), 0 (1/2), -0.1 (1/4): the interval straddles 0 and p = 1.
    ones = [[1.0] * 5] * 2
    r = hierarchical_drop_difference(ones, [[0.4] * 5, [0.6] * 5], [[1.0] * 5], [[0.5] * 5], n_test=2000)
    assert r.delta == pytest.approx(0.0, abs=1e-12) and (r.low, r.high) == pytest.approx((-0.1, 0.1))
    assert r.p == 1.0
    # A noisy case: p < 0.05 exactly when the 95% interval of the same bootstrap (more replicates) excludes 0.
    rng = np.random.default_rng(4)
    clean = rng.uniform(0.5, 1, size=(3, 80))
    for shift, significant in ((0.0, False), (0.25, True)):
        noisy_a = clean * rng.uniform(0.5 - shift, 0.8 - shift, size=(3, 80))
        noisy_b = clean[:1] * rng.uniform(0.5, 0.8, size=(1, 80))
        r = hierarchical_drop_difference(clean, noisy_a, clean[:1], noisy_b, n_boot=4000, n_test=4000, seed=2)
        assert (r.p < 0.05) == significant == (not r.low <= 0 <= r.high)


def test_non_finite_queries_are_dropped_deterministic_and_bad_shapes_raise():
    table = np.array([[1.0, 0.5, np.nan, 0.25], [0.5, 0.5, 1.0, np.inf]])
    e = hierarchical_mean_ci(table, seed=1)
    assert e.n == 2 and e.value == pytest.approx((0.75 + 0.5) / 2)
    assert hierarchical_mean_ci(table, seed=1) == e
    assert hierarchical_mean_ci(np.empty((2, 0))).n == 0
    with pytest.raises(ValueError, match="number of queries"):
        hierarchical_mean_difference([[1.0, 1.0]], [[1.0]])
    with pytest.raises(ValueError, match="seeds x queries"):
        hierarchical_mean_ci(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="number of seeds"):
        hierarchical_drop_ci([[1.0], [1.0]], [[0.5]])
    empty = hierarchical_drop_difference(
        np.empty((2, 0)), np.empty((2, 0)), np.empty((1, 0)), np.empty((1, 0))
    )
    assert empty.n == 0 and np.isnan(empty.delta) and empty.p == 1.0


# --- property: differing seeds widen the interval ------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=40),
    factor=st.floats(1.5, 6.0),
    seed=st.integers(0, 2**16),
)
def test_differing_seeds_give_a_wider_interval_than_one_seed(values, factor, seed):
    # Seed 1 is seed 0 shifted by delta, more than the one-seed interval's width. The query draws are the
    # plain bootstrap's, so a replicate is (that replicate) + delta * k / 2 with k ~ Binomial(2, 1/2): the
    # interval gains about delta in width whatever the values.
    x = np.asarray(values)
    plain = mean_ci(x, seed=seed)
    delta = factor * (plain.high - plain.low) + 1e-3
    hier = hierarchical_mean_ci([x, x + delta], seed=seed)
    assert hier.high - hier.low > plain.high - plain.low
    assert hier.value == pytest.approx(x.mean() + delta / 2)
    assert hier.low <= x.mean() + delta / 2 <= hier.high


def test_shared_query_draws_change_no_number(monkeypatch):
    # Comparisons over the same queries reuse the last query draws (kept up to CACHE_BYTES); draws that are
    # not kept are made again from the same stream: the results are the same either way, and in any order.
    from core.metrics import hierarchical

    rng = np.random.default_rng(9)
    a, b = rng.uniform(0.2, 1, size=(3, 50)), rng.uniform(0.2, 1, size=(2, 50))
    na, nb = a * rng.uniform(0.3, 1, size=a.shape), b * rng.uniform(0.3, 1, size=b.shape)

    def run():
        return (hierarchical_mean_ci(a, seed=1), hierarchical_drop_difference(a, na, b, nb, n_test=2500, seed=1),
                hierarchical_mean_difference(a, b, n_boot=0, n_test=1500, seed=1))  # fmt: skip

    kept = run()
    assert run() == kept
    monkeypatch.setattr(hierarchical, "CACHE_BYTES", 0)
    hierarchical._LAST.clear()
    assert run() == kept
