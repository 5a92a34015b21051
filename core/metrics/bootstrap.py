"""Percentile bootstrap confidence intervals for per-query metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.metrics._validate import as_ranks


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% (or other) bootstrap interval and sample size."""

    value: float
    low: float
    high: float
    n: int


def per_query(ranks, metric: str) -> np.ndarray:
    """Per-query contribution whose mean is the metric: ``mrr``, ``mrr@K`` or ``recall@K``."""
    r = as_ranks(ranks)
    if metric == "mrr":
        return 1.0 / r
    name, _, k = metric.partition("@")
    if not k.isdigit() or int(k) < 1 or name not in ("mrr", "recall"):
        from core.errors import UnknownNameError

        raise UnknownNameError("metric", metric, METRICS)
    k = int(k)
    return np.where(r <= k, 1.0 / r, 0.0) if name == "mrr" else (r <= k).astype(np.float64)


METRICS = ("mrr", "mrr@10", "recall@1", "recall@5", "recall@10")


def mean_ci(values, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> Estimate:
    """Mean of ``values`` with a percentile bootstrap interval (values resampled with replacement).

    Guarantees: the same ``seed`` gives the same interval; ``low <= value <= high`` is not promised (percentile
    intervals of skewed means may exclude the point) but ``low <= high`` is. With fewer than 2 values the
    interval is the point; with none everything is NaN and ``n = 0``. Values must be finite.

    Example:
        >>> e = mean_ci([0.0, 1.0, 1.0, 0.0], seed=0); e.value, e.n, 0 <= e.low <= e.high <= 1
        (0.5, 4, True)
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    n = len(x)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    value = float(x.mean())
    if n < 2:
        return Estimate(value, value, value, n)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, float(low), float(high), n)


def bootstrap_ci(
    ranks, metric: str = "mrr", *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> Estimate:
    """Metric over ``ranks`` with a percentile bootstrap interval (queries resampled with replacement).

    :func:`mean_ci` of the per-query contributions (:func:`per_query`). The same ``seed`` gives the same
    interval. With fewer than 2 queries the interval is the point.

    Example:
        >>> e = bootstrap_ci([1, 1, 2, 10], "mrr", seed=0); round(e.value, 3), e.n
        (0.65, 4)
    """
    return mean_ci(per_query(ranks, metric), n_boot=n_boot, alpha=alpha, seed=seed)


def relative_drop_ci(
    clean_ranks, noisy_ranks, metric: str = "mrr", *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> Estimate:
    """Relative drop ``1 - metric(noisy) / metric(clean)`` with a paired percentile bootstrap interval.

    ``clean_ranks[i]`` and ``noisy_ranks[i]`` must belong to the same query: each resample draws the same
    queries for both sides, so the interval reflects the per-query pairing. A clean metric of 0 gives NaN.

    Example:
        >>> e = relative_drop_ci([1, 1, 2, 2], [1, 2, 2, 4], seed=0); round(e.value, 3), e.n
        (0.25, 4)
    """
    c, x = per_query(clean_ranks, metric), per_query(noisy_ranks, metric)
    if len(c) != len(x):
        raise ValueError(f"clean and noisy ranks differ in length ({len(c)} vs {len(x)})")
    return _drop_ci(c, x, n_boot, alpha, seed)


def _drop_ci(c: np.ndarray, x: np.ndarray, n_boot: int, alpha: float, seed: int) -> Estimate:
    """Kernel of :func:`relative_drop_ci` on per-query values of equal length (no checks)."""
    n = len(c)
    if n == 0 or c.mean() == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), n)
    value = float(1 - x.mean() / c.mean())
    if n < 2:
        return Estimate(value, value, value, n)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    cm = c[idx].mean(axis=1)
    drops = 1 - x[idx].mean(axis=1) / np.where(cm == 0, np.nan, cm)
    low, high = np.nanquantile(drops, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, float(low), float(high), n)
