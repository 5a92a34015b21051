"""Spearman's rho of resource class and per-language drop, and its two-level bootstrap interval: hand-computed
values, a loop-by-loop reference of the documented procedure, and the degenerate cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from core.metrics import drop_replicates, query_draws, relative_drop_ci, spearman, spearman_ci


def test_spearman_equals_the_hand_computed_values():
    # No ties: rank differences (1-4, 2-2, 3-3, 4-1) -> 1 - 6 * 18 / (4 * 15).
    assert spearman([0, 1, 2, 3], [0.4, 0.3, 0.35, 0.1]) == pytest.approx(-0.8, abs=1e-15)
    # Ties in x share their mean rank: x ranks (1.5, 1.5, 3, 4), y ranks (4, 3, 2, 1); the Pearson
    # correlation of the ranks is -4.5 / sqrt(4.5 * 5) = -sqrt(0.9).
    assert spearman([0, 0, 1, 2], [0.5, 0.3, 0.2, 0.1]) == pytest.approx(-math.sqrt(0.9), abs=1e-15)
    assert spearman([3, 1, 2], [30, 10, 20]) == pytest.approx(1.0)
    x, y = np.random.default_rng(0).integers(0, 6, 50), np.random.default_rng(1).random(50)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_is_nan_where_it_is_undefined_and_drops_non_finite_pairs():
    assert math.isnan(spearman([1, 1, 1], [0.1, 0.2, 0.3]))  # one class: nothing to rank
    assert math.isnan(spearman([0, 1, 2], [0.2, 0.2, 0.2]))  # one drop
    assert math.isnan(spearman([1], [0.5])) and math.isnan(spearman([], []))
    assert spearman([0, 1, np.nan, 2], [0.3, 0.2, 9.0, np.inf]) == pytest.approx(-1.0)  # (0, .3), (1, .2)
    with pytest.raises(ValueError, match="differ in length"):
        spearman([1, 2], [1.0])


def test_drop_replicates_are_the_draws_of_relative_drop_ci():
    rng = np.random.default_rng(3)
    clean = rng.integers(1, 4, 60)
    noisy = clean + rng.integers(0, 5, 60)
    value, reps = drop_replicates(1 / clean, 1 / noisy, n_boot=400, seed=7)
    e = relative_drop_ci(clean, noisy, n_boot=400, seed=7)
    assert value == e.value and reps.shape == (400,)
    assert (np.nanquantile(reps, 0.025), np.nanquantile(reps, 0.975)) == (e.low, e.high)  # to the bit
    assert (query_draws(7, 60, 400) == np.random.default_rng(7).integers(0, 60, (400, 60))).all()
    nan, reps = drop_replicates([0.0, 0.0], [0.0, 0.0], n_boot=5)  # clean MRR 0: undefined, not an error
    assert math.isnan(nan) and np.isnan(reps).all()
    one, reps = drop_replicates([0.5], [0.25], n_boot=3)
    assert one == 0.5 and (reps == 0.5).all()


def _reference_ci(x, values, reps, alpha=0.05, seed=0):
    """The module docstring's procedure, loop by loop, with scipy's Spearman."""
    x, values, reps = np.asarray(x, float), np.asarray(values, float), np.asarray(reps, float)
    n, n_boot = reps.shape
    langs = np.random.default_rng([seed, 2]).integers(0, n, size=(n_boot, n))
    rhos = []
    for b in range(n_boot):
        copies: dict[int, int] = {}
        xs, ys = [], []
        for j in langs[b]:
            k = copies.get(j, 0)
            copies[j] = k + 1
            xs.append(x[j])
            ys.append(reps[j, (b + k) % n_boot])
        if len(set(xs)) > 1 and len(set(ys)) > 1:
            rhos.append(spearmanr(xs, ys).statistic)
    return np.quantile(rhos, [alpha / 2, 1 - alpha / 2])


def test_spearman_ci_equals_the_documented_two_level_bootstrap():
    rng = np.random.default_rng(5)
    x = np.array([0, 1, 1, 2, 2, 3, 4, 5, 5, 1])
    values = 0.6 - 0.08 * x + rng.normal(0, 0.05, len(x))
    reps = values[:, None] + rng.normal(0, 0.04, (len(x), 300))  # each language's query replicates
    e = spearman_ci(x, values, reps, seed=11)
    assert e.value == pytest.approx(spearmanr(x, values).statistic, abs=1e-12) and e.n == 10
    low, high = _reference_ci(x, values, reps, seed=11)
    assert (e.low, e.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert -1 <= e.low <= e.high <= 1 and e.high < 0  # a clear negative correlation
    assert spearman_ci(x, values, reps, seed=11) == e  # deterministic for a seed
    assert spearman_ci(x, values, reps, seed=12) != e


def test_spearman_ci_degenerate_cases():
    one = spearman_ci([2], [0.3], np.full((1, 50), 0.3))
    assert one.n == 1 and all(math.isnan(v) for v in (one.value, one.low, one.high))
    same = spearman_ci([2, 2, 2], [0.1, 0.2, 0.3], np.tile([[0.1], [0.2], [0.3]], 50))
    assert same.n == 3 and math.isnan(same.value) and math.isnan(same.low)  # one class
    # Two languages whose drops do not vary with the queries: every replicate drawing both finds rho = -1,
    # every replicate drawing one language twice is undefined and left out (never counted as 0).
    two = spearman_ci([0, 5], [0.4, 0.1], np.array([[0.4] * 200, [0.1] * 200]), seed=0)
    assert (two.value, two.low, two.high, two.n) == (-1.0, -1.0, -1.0, 2)
    # Defined on the data, but no replicate defines it (every query replicate NaN): interval NaN.
    none = spearman_ci([0, 1, 2], [0.3, 0.2, 0.1], np.full((3, 20), np.nan))
    assert none.value == pytest.approx(-1.0) and math.isnan(none.low) and math.isnan(none.high)
    no_boot = spearman_ci([0, 1, 2], [0.3, 0.2, 0.1], np.zeros((3, 0)))
    assert no_boot.value == pytest.approx(-1.0) and math.isnan(no_boot.low)
    # Languages without a class or a drop are left out before anything else.
    mixed = spearman_ci([0, np.nan, 1, 2], [0.3, 0.9, np.nan, 0.1], np.tile([[0.3], [0.9], [0.2], [0.1]], 30))
    assert mixed.n == 2 and mixed.value == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="differ in length"):
        spearman_ci([0, 1], [0.1, 0.2], np.zeros((3, 4)))
