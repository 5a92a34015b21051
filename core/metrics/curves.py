"""Degradation curves (metric against noise level): summaries and paired bootstrap bands."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np


def _curve(levels, values) -> tuple[np.ndarray, np.ndarray]:
    lv = np.asarray(levels, dtype=np.float64).ravel()
    val = np.asarray(values, dtype=np.float64).ravel()
    if len(lv) != len(val):
        raise ValueError(f"levels and values differ in length ({len(lv)} vs {len(val)})")
    order = np.argsort(lv, kind="stable")
    return lv[order], val[order]


def auc(levels, values) -> float:
    """Normalised area under a metric-against-level curve: its mean height over the level range.

    The points are sorted by level and joined by straight lines; the trapezoidal area is divided by
    ``max(levels) - min(levels)``. So a flat curve's AUC is its value, a linear drop from 1 to 0 gives 0.5,
    and the result lies between the curve's minimum and maximum. The range is the grid's own: the curve is
    not extended to level 0 when the clean point is absent. Fewer than two points, or a zero level range,
    give NaN; a NaN value gives NaN.

    Raises:
        ValueError: ``levels`` and ``values`` differ in length.

    Example:
        >>> round(auc([0, 0.1, 0.2], [0.8, 0.6, 0.2]), 12)  # (0.7 * 0.1 + 0.4 * 0.1) / 0.2
        0.55
        >>> auc([0, 0.2], [0.5, 0.5])
        0.5
    """
    lv, val = _curve(levels, values)
    if len(lv) < 2 or lv[-1] == lv[0]:
        return float("nan")
    return float(np.trapezoid(val, lv) / (lv[-1] - lv[0]))


def level_at_half(levels, values) -> float:
    """Smallest level (linearly interpolated) at which the curve falls to half its reference value.

    The points are sorted by level; the reference is the value at the lowest level (the clean value when
    level 0 is on the grid). The answer is the first crossing: for the first point ``i`` with
    ``values[i] <= reference / 2``, the level where the segment from point ``i - 1`` to ``i`` meets half
    the reference, rounded to 6 decimals. A curve that recovers later does not matter.

    Conventions:
        * ``inf``: the curve never falls to half within the grid (including a one-point curve).
        * ``NaN``: no points, or a reference that is NaN, infinite or ``<= 0`` (half of nothing is
          undefined). A NaN value right before the crossing also gives NaN (NaN points are not skipped).

    Raises:
        ValueError: ``levels`` and ``values`` differ in length.

    Example:
        >>> level_at_half([0, 0.1, 0.2], [0.8, 0.6, 0.2])  # 0.6 -> 0.2 crosses 0.4 half way
        0.15
        >>> level_at_half([0, 0.1], [0.8, 0.5]), level_at_half([0, 0.1], [0.0, 0.0])
        (inf, nan)
    """
    lv, val = _curve(levels, values)
    if len(val) == 0 or not np.isfinite(val[0]) or val[0] <= 0:
        return float("nan")
    target = val[0] / 2
    for i in range(1, len(val)):
        if val[i] <= target:
            a, b = val[i - 1], val[i]
            t = 0.0 if a == b else (a - target) / (a - b)
            return round(float(lv[i - 1] + t * (lv[i] - lv[i - 1])), 6)
    return float("inf")


@dataclass(frozen=True)
class CurveBands:
    """A curve's point values and percentile bootstrap bands, one entry per level (ascending).

    Attributes:
        levels: the levels.  value, low, high: mean over items and its band.
        rel, rel_low, rel_high: value relative to the first level's (the clean one) and its band; NaN
            throughout unless the first level is 0.  n: items with a value at each level.
    """

    levels: np.ndarray
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    rel: np.ndarray
    rel_low: np.ndarray
    rel_high: np.ndarray
    n: np.ndarray


def _boot_means(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot x levels) means of row-resampled ``x``; one resample of rows serves every level (paired)."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    out = np.empty((n_boot, x.shape[1]))
    step = max(1, 2_000_000 // max(1, n * x.shape[1]))  # bound the memory of one gathered block
    for i in range(0, n_boot, step):
        idx = rng.integers(0, n, size=(min(step, n_boot - i), n))
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)  # NaN is the answer
            out[i : i + idx.shape[0]] = np.nanmean(x[idx], axis=1)
    return out


def curve_bands(x, levels, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> CurveBands:
    """Mean per level of an (items x levels) matrix with paired percentile bootstrap bands.

    ``x[i, j]`` is item (query) ``i``'s metric at ``levels[j]``; NaN where the item has no value there (it
    is left out of that level's mean). Each bootstrap resample draws items with replacement once and uses
    them at every level, so the relative band (value / clean value within the same resample) reflects the
    pairing. ``levels`` must be ascending.

    Guarantees: the same ``seed`` gives the same bands; ``low <= high``; with one item the bands collapse
    to the point; a clean value of 0 gives non-finite relative values rather than an error.

    Example:
        >>> b = curve_bands([[1.0, 0.5], [0.5, 0.5]], [0, 0.1], n_boot=50, seed=0)
        >>> b.value.tolist(), b.rel.round(3).tolist(), b.n.tolist()
        ([0.75, 0.5], [1.0, 0.667], [2, 2])
    """
    x = np.asarray(x, dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64).ravel()
    if x.ndim != 2 or x.shape[1] != len(lv):
        raise ValueError(f"x must be (items x {len(lv)} levels), got shape {x.shape}")
    clean = len(lv) > 0 and lv[0] == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        point = np.nanmean(x, axis=0)
        boots = _boot_means(x, n_boot, seed) if x.shape[0] > 1 else np.repeat(point[None], 2, 0)
        rel_boot = boots / boots[:, :1] if clean else np.full_like(boots, np.nan)
        rel_point = point / point[0] if clean else np.full_like(point, np.nan)
    q = [alpha / 2, 1 - alpha / 2]
    with np.errstate(invalid="ignore"):  # inf - inf while interpolating relative values of a 0 clean
        lo, hi = np.nanquantile(boots, q, axis=0)
        rlo, rhi = (
            np.nanquantile(rel_boot, q, axis=0)
            if np.isfinite(rel_boot).any()
            else (np.full_like(point, np.nan),) * 2
        )
    n = np.sum(~np.isnan(x), axis=0)
    return CurveBands(lv, point, lo, hi, rel_point, rlo, rhi, n)


@functools.lru_cache(maxsize=16)
def _resample_weights(k: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot x k) how often each of ``k`` clusters is drawn in each resample (``k`` draws with replacement
    from ``default_rng(seed)``). Weights instead of gathered rows: one matrix product per curve. Cached
    (read-only): every curve of a chart with the same cluster count uses the same draws, as it would anyway
    with the same seed, so a chart of hundreds of languages draws once."""
    idx = np.random.default_rng(seed).integers(0, k, size=(n_boot, k))
    w = np.bincount((np.arange(n_boot)[:, None] * k + idx).ravel(), minlength=n_boot * k)
    w = w.reshape(n_boot, k).astype(np.float64)
    w.flags.writeable = False
    return w


def cluster_bands(
    sums, counts, levels, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, n=None
) -> CurveBands:
    """Mean per level from per-cluster sums, with paired percentile bootstrap bands over clusters.

    ``sums[i, j]`` and ``counts[i, j]`` are the sum of the per-query metric and the number of queries of
    cluster ``i`` (a bucket of queries, see ``core.store.schema.STATS_BUCKETS``) at ``levels[j]``; 0 and 0
    where the cluster has no value there. The point value is ``sums.sum(0) / counts.sum(0)``: exactly the
    mean over every query. Each resample draws clusters with replacement once and uses them at every level
    (paired, so the relative band reflects the pairing), which is the cluster bootstrap of the query mean:
    queries are assigned to clusters by a hash of their id, so clusters are exchangeable. ``n`` (per level)
    is reported as given (default: ``counts.sum(0)``). ``levels`` must be ascending.

    Guarantees: the same ``seed`` gives the same bands; ``low <= high``; with one cluster the bands collapse
    to the point; a clean value of 0 gives non-finite relative values rather than an error.

    Example:
        >>> b = cluster_bands([[2.0, 1.0], [1.0, 1.0]], [[2, 2], [2, 2]], [0, 0.1], n_boot=50, seed=0)
        >>> b.value.tolist(), b.rel.round(3).tolist(), b.n.tolist()
        ([0.75, 0.5], [1.0, 0.667], [4, 4])
    """
    s = np.asarray(sums, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64).ravel()
    if s.ndim != 2 or s.shape != c.shape or s.shape[1] != len(lv):
        raise ValueError(
            f"sums and counts must both be (clusters x {len(lv)} levels), got {s.shape}, {c.shape}"
        )
    return cluster_bands_batch(s[None], c[None], lv, n_boot=n_boot, alpha=alpha, seed=seed,
                               n=None if n is None else [n])[0]  # fmt: skip


def cluster_bands_batch(
    sums, counts, levels, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, n=None
) -> list[CurveBands]:
    """:func:`cluster_bands` of many curves with the same cluster count and levels, in one pass.

    ``sums`` and ``counts`` are (curves x clusters x levels); ``n`` (curves x levels) or None. Returns
    exactly what :func:`cluster_bands` returns for each curve (the same resample draws, since they depend on
    the cluster count and ``seed`` only), about 50x faster for a chart of hundreds of curves.
    """
    s = np.asarray(sums, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64).ravel()
    if s.ndim != 3 or s.shape != c.shape or s.shape[2] != len(lv):
        raise ValueError(
            f"sums and counts must both be (curves x clusters x {len(lv)} levels), got {s.shape}, {c.shape}"
        )
    clean = len(lv) > 0 and lv[0] == 0
    g, k, n_lv = s.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        point = s.sum(1) / c.sum(1)  # (curves x levels)
        if k > 1:
            w = _resample_weights(k, n_boot, seed)
            # One 2-D matrix product for every curve: (resamples x clusters) @ (clusters x curves*2*levels);
            # 6x faster than einsum or a batched matmul for a chart of 448 curves (measured).
            x = np.concatenate([s, c], axis=2).transpose(1, 0, 2).reshape(k, -1)
            # Identical columns are multiplied once: the count columns repeat across levels and curves (a
            # bucket holds the same queries at every noisy level and for every encoder), which halves the
            # product for a full study's chart. Each output column is the same dot products either way.
            first: dict[bytes, int] = {}
            inverse = np.array([first.setdefault(col.tobytes(), j) for j, col in enumerate(x.T)])
            unique, inverse = np.unique(inverse, return_inverse=True)
            ws = (w @ x[:, unique])[:, inverse]
            ws = ws.reshape(n_boot, g, 2 * n_lv).transpose(1, 0, 2)
            boots = ws[:, :, :n_lv] / ws[:, :, n_lv:]  # (curves x resamples x levels)
        else:
            boots = np.repeat(point[:, None], 2, 1)
        rel_boot = boots / boots[:, :, :1] if clean else np.full_like(boots, np.nan)
        rel_point = point / point[:, :1] if clean else np.full_like(point, np.nan)
    q = [alpha / 2, 1 - alpha / 2]

    def quantiles(x: np.ndarray) -> np.ndarray:
        # np.quantile is ~20x faster than np.nanquantile (which loops per column); NaN only arises when a
        # resample draws no cluster with queries at some level. Both give the same numbers without NaN.
        return np.nanquantile(x, q, axis=1) if np.isnan(x).any() else np.quantile(x, q, axis=1)

    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)  # NaN is the answer
        lo, hi = quantiles(boots)
        rlo, rhi = quantiles(rel_boot)
        none_finite = ~np.isfinite(rel_boot).any(axis=(1, 2))  # a clean value of 0: no relative band
        rlo[none_finite], rhi[none_finite] = np.nan, np.nan
    n_out = c.sum(1).astype(np.int64) if n is None else np.asarray(n, dtype=np.int64).reshape(g, n_lv)
    return [CurveBands(lv, point[i], lo[i], hi[i], rel_point[i], rlo[i], rhi[i], n_out[i]) for i in range(g)]
