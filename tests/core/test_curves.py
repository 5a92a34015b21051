"""Degradation-curve summaries (AUC, level at half) and paired bootstrap bands against hand values."""

import numpy as np
import pytest

from core.metrics import auc, curve_bands, level_at_half


def test_auc_hand_curves():
    assert auc([0, 0.1, 0.2, 0.3], [1.0, 2 / 3, 1 / 3, 0.0]) == pytest.approx(0.5)  # linear drop to 0
    assert auc([0, 0.1, 0.2], [0.8, 0.6, 0.2]) == pytest.approx(0.55)  # (0.07 + 0.04) / 0.2
    assert auc([0, 0.05, 0.3], [0.4, 0.4, 0.4]) == pytest.approx(0.4)  # flat: its value
    assert auc([0.1, 0.3], [0.6, 0.2]) == pytest.approx(0.4)  # range is the grid's, not [0, max]
    assert auc([0, 0.2, 0.1], [0.8, 0.2, 0.6]) == auc([0, 0.1, 0.2], [0.8, 0.6, 0.2])  # sorted by level
    assert auc([0, 0.1, 0.2], [0.0, 0.0, 0.0]) == 0.0


def test_auc_undefined_cases():
    assert np.isnan(auc([0.1], [0.5]))
    assert np.isnan(auc([], []))
    assert np.isnan(auc([0.1, 0.1], [0.5, 0.4]))  # zero range
    assert np.isnan(auc([0, 0.1], [0.5, np.nan]))
    with pytest.raises(ValueError, match="length"):
        auc([0, 0.1], [0.5])


def test_level_at_half_hand_curves():
    levels = [0, 0.25, 0.5, 0.75, 1.0]
    assert level_at_half(levels, [1.0, 0.75, 0.5, 0.25, 0.0]) == 0.5  # lands exactly on a point
    assert level_at_half([0, 0.1, 0.2], [0.8, 0.6, 0.2]) == 0.15  # 0.6 -> 0.2 crosses 0.4 half way
    assert level_at_half([0, 0.1], [0.8, 0.0]) == 0.05  # crossing in the first segment
    assert level_at_half([0, 0.1, 0.2, 0.3], [0.8, 0.3, 0.9, 0.1]) == 0.08  # the first crossing counts
    assert level_at_half([0, 0.2, 0.1], [0.8, 0.2, 0.6]) == 0.15  # sorted by level
    assert level_at_half([0.1, 0.2], [0.6, 0.2]) == 0.175  # reference: the lowest level's value


def test_level_at_half_conventions():
    assert level_at_half([0, 0.1, 0.2], [0.8, 0.7, 0.41]) == np.inf  # never within the grid
    assert level_at_half([0], [0.8]) == np.inf
    assert np.isnan(level_at_half([0, 0.1], [0.0, 0.0]))  # starts at 0: half of nothing
    assert np.isnan(level_at_half([0, 0.1], [-0.1, -0.5]))
    assert np.isnan(level_at_half([0, 0.1], [np.nan, 0.1]))
    assert np.isnan(level_at_half([], []))
    with pytest.raises(ValueError, match="length"):
        level_at_half([0, 0.1], [0.5])


def test_curve_bands_are_paired_seeded_and_bracket_the_point():
    rng = np.random.default_rng(0)
    clean = rng.uniform(0.2, 1.0, size=80)
    x = np.column_stack([clean, 0.5 * clean, 0.25 * clean])
    b = curve_bands(x, [0, 0.1, 0.2], n_boot=300, seed=1)
    np.testing.assert_allclose(b.value, x.mean(axis=0))
    np.testing.assert_allclose(b.rel, [1.0, 0.5, 0.25])
    # Every resample keeps each query's pair, so the ratio is the same in all of them: a zero-width band.
    np.testing.assert_allclose(b.rel_low, [1.0, 0.5, 0.25])
    np.testing.assert_allclose(b.rel_high, [1.0, 0.5, 0.25])
    assert np.all(b.low < b.value) and np.all(b.value < b.high)
    assert b.n.tolist() == [80, 80, 80]
    again = curve_bands(x, [0, 0.1, 0.2], n_boot=300, seed=1)
    assert np.array_equal(again.low, b.low) and np.array_equal(again.high, b.high)
    assert not np.array_equal(curve_bands(x, [0, 0.1, 0.2], n_boot=300, seed=2).low, b.low)


def test_curve_bands_missing_values_single_item_and_no_clean_level():
    x = np.array([[1.0, np.nan], [0.5, 0.25], [0.0, 0.5]])
    b = curve_bands(x, [0, 0.1], n_boot=50, seed=0)
    assert b.n.tolist() == [3, 2]
    np.testing.assert_allclose(b.value, [0.5, 0.375])
    one = curve_bands([[0.5, 0.25]], [0, 0.1], n_boot=50)
    np.testing.assert_allclose([one.low, one.high], [[0.5, 0.25], [0.5, 0.25]])
    np.testing.assert_allclose(one.rel_low, [1.0, 0.5])
    shifted = curve_bands(x[1:], [0.1, 0.2], n_boot=50)
    assert np.isnan(shifted.rel).all() and np.isnan(shifted.rel_low).all()
    with pytest.raises(ValueError, match="levels"):
        curve_bands(x, [0, 0.1, 0.2])
