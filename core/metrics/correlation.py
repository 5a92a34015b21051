"""Rank correlation between a per-language property and a per-language relative drop, with a two-level
bootstrap interval (languages, then each language's queries).

The question it serves: on multi-way parallel data (the same sentences in every language), do languages of
a lower resource class lose more of their MRR under noise? One value per language (its relative drop over its
queries) against an ordinal property (its Joshi resource class, 0-5), summarised by Spearman's rho.

One bootstrap replicate ``b``:

1. every language's queries are resampled with the ``b``-th draw of
   ``numpy.random.default_rng(seed).integers(0, n, (n_boot, n))`` (:func:`drop_replicates`: the draws of
   :func:`core.metrics.relative_drop_ci` with the same seed, so a language's interval is exactly its
   one-language interval). Languages with the same number of queries draw the same query positions: on
   multi-way data, where query ``i`` of every language translates the same sentence, a replicate resamples
   *sentences*, shared by every language;
2. the languages are resampled with replacement (``numpy.random.default_rng([seed, 2])``); the k-th copy of
   a language drawn several times takes its drop from query replicate ``(b + k) mod n_boot``, so copies are
   not clones of one another;
3. rho is recomputed over the drawn languages. A replicate where rho is undefined (every drawn language of
   one class, or of one drop) is left out; the interval is the percentile interval of the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from core.metrics.bootstrap import Estimate

_NAN = float("nan")


def spearman(x, y) -> float:
    """Spearman's rank correlation of ``x`` and ``y``: the Pearson correlation of their ranks, tied values
    sharing their mean rank.

    Guarantees: in [-1, 1]; pairs where either value is not finite are dropped first; NaN when fewer than two
    pairs remain or when either side is constant (no ranking to correlate).

    Example:
        >>> spearman([0, 1, 2, 3], [0.4, 0.3, 0.35, 0.1])  # rank differences 3, 0, 0, 3: 1 - 6 * 18 / 60
        -0.8
        >>> spearman([1, 1, 1], [0.1, 0.2, 0.3])
        nan
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} vs {len(y)})")
    keep = np.isfinite(x) & np.isfinite(y)
    return float(_rho(x[keep][None, :], y[keep][None, :])[0])


def _rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Spearman rho of two (rows x n) arrays of finite values; NaN for a row with a constant side."""
    if x.shape[1] < 2:
        return np.full(x.shape[0], _NAN)
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (rx * ry).sum(axis=1) / den
    # Ranks are exact halves, so a constant side gives a denominator of exactly 0 (NaN above); rounding
    # could still push |r| a hair over 1.
    return np.clip(r, -1.0, 1.0)


def drop_replicates(clean, noisy, *, n_boot: int = 1000, seed: int = 0) -> tuple[float, np.ndarray]:
    """Relative drop ``1 - mean(noisy) / mean(clean)`` of per-query values (e.g. reciprocal ranks), and its
    ``n_boot`` query-bootstrap replicates.

    Replicate ``b`` draws the queries of row ``b`` of ``numpy.random.default_rng(seed).integers(0, n,
    (n_boot, n))``, the draws of :func:`core.metrics.relative_drop_ci` with the same seed, so the percentile
    interval of the replicates is that function's interval. A replicate whose clean mean is 0 is NaN.

    Returns:
        ``(value, replicates)``: NaN and NaNs when there are no queries or the clean mean is 0; with one query
        every replicate is the value.

    Example:
        >>> v, reps = drop_replicates([1.0, 1.0, 0.5, 0.5], [1.0, 0.5, 0.5, 0.25], n_boot=5)
        >>> v, reps.shape
        (0.25, (5,))
    """
    c, x = np.asarray(clean, dtype=np.float64).ravel(), np.asarray(noisy, dtype=np.float64).ravel()
    if len(c) != len(x):
        raise ValueError(f"clean and noisy values differ in length ({len(c)} vs {len(x)})")
    n = len(c)
    return _drop_replicates(c, x, query_draws(seed, n, n_boot), n_boot)


def query_draws(seed: int, n: int, n_boot: int) -> np.ndarray:
    """The (n_boot x n) query indices of :func:`drop_replicates` (and of
    :func:`core.metrics.relative_drop_ci`) for ``seed``: compute them once and reuse them for every language
    with ``n`` queries."""
    return (
        np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
        if n >= 2
        else np.zeros((n_boot, 0), dtype=np.intp)
    )


def _drop_replicates(c: np.ndarray, x: np.ndarray, idx: np.ndarray, n_boot: int) -> tuple[float, np.ndarray]:
    """Kernel of :func:`drop_replicates` with the query draws given (no checks)."""
    n = len(c)
    if n == 0 or c.mean() == 0:
        return _NAN, np.full(n_boot, _NAN)
    value = float(1 - x.mean() / c.mean())
    if n < 2:
        return value, np.full(n_boot, value)
    cm = c[idx].mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return value, 1 - x[idx].mean(axis=1) / np.where(cm == 0, np.nan, cm)


def spearman_ci(
    x: Sequence[float],
    values: Sequence[float],
    replicates: np.ndarray,
    *,
    alpha: float = 0.05,
    seed: int = 0,
) -> Estimate:
    """Spearman's rho of ``x`` (one property per language) and ``values`` (one drop per language), with a
    percentile interval from a two-level bootstrap: languages resampled with replacement, and each drawn
    language's drop taken from its own query-bootstrap replicates (see the module docstring).

    Args:
        x: per language, the property (e.g. resource class 0-5).
        values: per language, the statistic on all its queries (the point estimate uses these).
        replicates: (languages x n_boot) query-bootstrap replicates of ``values`` (:func:`drop_replicates`);
            NaN replicates make the languages' pairs drop out of that replicate.
        seed: the seed of the language draws (``numpy.random.default_rng([seed, 2])``).

    Returns:
        An :class:`core.metrics.Estimate` whose ``n`` counts the languages with finite ``x`` and ``values``
        (the others are left out first). Value and interval NaN when rho is undefined on the data (fewer than
        two languages, or either side constant); the interval NaN when no replicate defines rho. A replicate
        with rho undefined (all drawn languages of one class) is left out, never counted as 0.

    Example:
        >>> reps = np.array([[0.4, 0.4], [0.3, 0.3], [0.1, 0.1]])  # drops that do not vary with the queries
        >>> e = spearman_ci([0, 1, 2], [0.4, 0.3, 0.1], reps, seed=0)
        >>> e.value, e.high, e.n  # every replicate that defines rho finds -1
        (-1.0, -1.0, 3)
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    v = np.asarray(values, dtype=np.float64).ravel()
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.size == 0:  # no replicates (e.g. an empty (0, n_boot) stack): no interval
        reps = np.zeros((len(v), 0))
    if reps.ndim != 2 or not len(x) == len(v) == reps.shape[0]:
        raise ValueError(f"x, values and replicates differ in length ({len(x)}, {len(v)}, {reps.shape})")
    keep = np.isfinite(x) & np.isfinite(v)
    x, v, reps = x[keep], v[keep], reps[keep]
    n, n_boot = len(x), reps.shape[1]
    value = spearman(x, v)
    if np.isnan(value) or n_boot == 0:
        return Estimate(value, _NAN, _NAN, n)
    rng = np.random.default_rng([seed, 2])
    langs = rng.integers(0, n, size=(n_boot, n))
    # The k-th copy of a language within a replicate: its position among equal draws of that row.
    order = np.argsort(langs, axis=1, kind="stable")
    drawn = np.take_along_axis(langs, order, axis=1)
    first = np.ones_like(drawn, dtype=bool)
    first[:, 1:] = drawn[:, 1:] != drawn[:, :-1]
    pos = np.arange(n)[None, :].repeat(n_boot, axis=0)
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=1)
    copy = np.empty_like(langs)
    np.put_along_axis(copy, order, pos - start, axis=1)
    cols = (np.arange(n_boot)[:, None] + copy) % n_boot
    xs, ys = x[langs], reps[langs, cols]
    finite = np.isfinite(ys).all(axis=1)
    rhos = np.full(n_boot, _NAN)
    if finite.any():
        rhos[finite] = _rho(xs[finite], ys[finite])
    rhos = rhos[np.isfinite(rhos)]
    if len(rhos) == 0:
        return Estimate(value, _NAN, _NAN, n)
    low, high = np.quantile(rhos, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, float(low), float(high), n)
