"""Paired significance: sign-flip randomization test, Holm-Bonferroni correction, paired differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.metrics.bootstrap import mean_ci

N_PERM = 2000


def paired_randomization_test(d, n_perm: int = N_PERM, seed: int = 0) -> float:
    """Two-sided paired randomization (sign-flip) test of ``mean(d) = 0``; returns the p-value.

    ``d`` holds per-item paired differences (e.g. per-query metric of system A minus system B); non-finite
    entries are dropped. Under the null each difference is equally likely to carry either sign.

    Guarantees:
        * ``0 < p <= 1``. No finite differences, or all of them numerically zero (``|d| <= 1e-8``), give 1.
        * Exact when ``2**n <= n_perm`` (n: finite differences): all ``2**n`` sign vectors are enumerated and
          ``p = #{|mean(s * d)| >= |mean(d)|} / 2**n`` (the identity flip is among them, so ``p >= 2**-n``);
          ``seed`` is unused.
        * Otherwise Monte Carlo with the +1 correction: ``p = (1 + #{...}) / (1 + n_perm)`` over ``n_perm``
          sign vectors drawn from ``numpy.random.default_rng(seed)``; the same seed gives the same p.
        * Ties (``|mean(s * d)|`` equal to the observed one up to rounding) count as at least as extreme.

    Example:
        >>> paired_randomization_test([1.0, 2.0, 3.0])  # only the all-+ and all-- flips reach |mean| = 2
        0.25
        >>> paired_randomization_test([0.0, 0.0])
        1.0
    """
    d = np.asarray(d, dtype=np.float64).ravel()
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0 or np.allclose(d, 0):
        return 1.0
    obs = abs(d.mean())
    tol = 1e-9 * float(np.abs(d).max())  # rounding in a sum of flipped terms is far below this
    if n_perm >= 2**n:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1  # row k: the binary digits of k
        signs = (1 - 2 * bits).astype(np.int8)
        perm = np.abs((signs * d).mean(axis=1))
        return float(np.sum(perm >= obs - tol) / len(signs))
    rng = np.random.default_rng(seed)
    signs = rng.integers(0, 2, size=(n_perm, n), dtype=np.int8) * 2 - 1
    perm = np.abs((signs * d).mean(axis=1))
    return float((1 + np.sum(perm >= obs - tol)) / (1 + n_perm))


def holm(p) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order.

    With the m finite p-values sorted ascending, ``p_(k)`` becomes ``max_{j<=k} min(1, (m - j + 1) * p_(j))``.

    Guarantees: each adjusted value is ``>= `` its raw value and ``<= 1``; the adjusted values are monotone in
    the raw ones (a smaller raw p never gets a larger adjusted p); tied raw values get equal adjusted values.
    NaN entries stay NaN and do not count towards m. Rejecting where ``adjusted <= alpha`` controls the
    family-wise error rate at ``alpha``.

    Example:
        >>> holm([0.01, 0.04, 0.03, 0.005]).round(6).tolist()
        [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p, dtype=np.float64).ravel()
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def stars(p: float) -> str:
    """Significance mark of an (adjusted) p-value: ``***`` < .001, ``**`` < .01, ``*`` < .05, else ``n.s.``.

    NaN gives ``n.s.``.

    Example:
        >>> [stars(x) for x in (0.0004, 0.004, 0.04, 0.4)]
        ['***', '**', '*', 'n.s.']
    """
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


@dataclass(frozen=True)
class PairedDifference:
    """System A minus system B over the same items.

    Attributes:
        delta: ``mean(a - b)`` (= ``mean(a) - mean(b)``).
        low, high: percentile bootstrap interval of ``delta`` (items resampled with replacement, the pair
            kept together); NaN when ``n_boot`` is 0.
        relative: ``delta / mean(b)``, i.e. ``mean(a) / mean(b) - 1``; NaN when ``mean(b)`` is 0.
        p: two-sided :func:`paired_randomization_test` p-value of ``delta = 0``.
        n: pairs with both values finite.
    """

    delta: float
    low: float
    high: float
    relative: float
    p: float
    n: int


def paired_difference(
    a,
    b,
    *,
    n_boot: int = 1000,
    n_perm: int = N_PERM,
    alpha: float = 0.05,
    seed: int = 0,
) -> PairedDifference:
    """Mean difference of paired values ``a[i] - b[i]`` with a bootstrap interval and a randomization test.

    ``a[i]`` and ``b[i]`` must be the same item (query) measured under A and B; pairs where either is not
    finite are dropped. The interval is :func:`core.metrics.mean_ci` of the differences and the p-value is
    :func:`paired_randomization_test` of them, both with ``seed``; the same inputs and seed give the same
    result. No pairs give NaNs, ``p = 1`` and ``n = 0``.

    Raises:
        ValueError: ``a`` and ``b`` differ in length.

    Example:
        >>> r = paired_difference([0.5, 1.0, 1.0, 0.25], [0.5, 0.5, 1.0, 0.25], seed=0)
        >>> r.delta, round(r.relative, 4), r.p, r.n
        (0.125, 0.2222, 1.0, 4)
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if len(a) != len(b):
        raise ValueError(f"paired values differ in length ({len(a)} vs {len(b)})")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    d = a - b
    if n_boot > 0:
        e = mean_ci(d, n_boot=n_boot, alpha=alpha, seed=seed)
        low, high = e.low, e.high
    else:
        low = high = float("nan")
    n = len(d)
    delta = float(d.mean()) if n else float("nan")
    base = float(b.mean()) if n else float("nan")
    relative = delta / base if n and base != 0 else float("nan")
    return PairedDifference(delta, low, high, relative, paired_randomization_test(d, n_perm, seed), n)


def _drop(clean_sum, noisy_sum):
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - noisy_sum / np.where(clean_sum == 0, np.nan, clean_sum)


def relative_drop_difference(
    clean_a, noisy_a, clean_b, noisy_b, *, n_boot: int = 1000, n_perm: int = N_PERM, alpha: float = 0.05,
    seed: int = 0,
) -> PairedDifference:  # fmt: skip
    """Relative drop of system A minus that of system B, over the same queries, with paired statistics.

    Inputs are per-query values (e.g. reciprocal ranks) of the same queries in the same order: clean and
    noisy under A, clean and noisy under B. ``drop = 1 - mean(noisy) / mean(clean)``; ``delta = drop_A -
    drop_B`` (negative: A loses less of its clean quality than B).

    Guarantees:
        * The interval is a percentile bootstrap that resamples queries, keeping each query's four values
          together; the p-value is a two-sided randomization test that, per query, swaps A's (clean, noisy)
          pair with B's with probability 1/2 (the null: the system labels are exchangeable per query),
          with the +1 correction; both use ``numpy.random.default_rng(seed)``.
        * ``relative`` is ``delta / drop_B`` (NaN when B does not drop).
        * Queries with a non-finite value are dropped; no queries give NaNs, ``p = 1``, ``n = 0``.

    Raises:
        ValueError: the four inputs differ in length.

    Example:
        >>> r = relative_drop_difference([1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [0.5, 0.5, 0.5, 0.5])
        >>> r.delta, r.n  # A keeps everything, B loses half
        (-0.5, 4)
    """
    arrays = [np.asarray(x, dtype=np.float64).ravel() for x in (clean_a, noisy_a, clean_b, noisy_b)]
    if len({len(x) for x in arrays}) != 1:
        raise ValueError(f"paired values differ in length ({[len(x) for x in arrays]})")
    keep = np.logical_and.reduce([np.isfinite(x) for x in arrays])
    ca, na, cb, nb = (x[keep] for x in arrays)
    n = len(ca)
    if n == 0:
        return PairedDifference(*(float("nan"),) * 4, 1.0, 0)
    drop_b = float(_drop(cb.sum(), nb.sum()))
    delta = float(_drop(ca.sum(), na.sum())) - drop_b
    rng = np.random.default_rng(seed)
    low = high = float("nan")
    if n_boot > 0 and n > 1:
        idx = rng.integers(0, n, size=(n_boot, n))
        boot = _drop(ca[idx].sum(1), na[idx].sum(1)) - _drop(cb[idx].sum(1), nb[idx].sum(1))
        low, high = (float(v) for v in np.nanquantile(boot, [alpha / 2, 1 - alpha / 2]))
    p = 1.0
    if not np.isnan(delta) and n_perm > 0:
        tol = 1e-12 + 1e-9 * abs(delta)
        # A swap moves query i's values between the systems, so each swapped sum is the unswapped one plus
        # swap @ (difference): one matrix product per chunk instead of four masked copies.
        diff = np.stack([cb - ca, nb - na], axis=1)
        sums = np.array([ca.sum(), na.sum(), cb.sum(), nb.sum()])
        extreme, done = 0, 0
        while done < n_perm:  # in chunks, so a large n_perm x n swap matrix never sits in memory at once
            k = min(2000, n_perm - done)
            # Fair coin flips from random bytes, 8 per byte: an order of magnitude cheaper than integers(0, 2).
            flips = np.unpackbits(
                rng.integers(0, 256, size=(k, (n + 7) // 8), dtype=np.uint8), axis=1, count=n
            )
            moved = flips.astype(np.float64) @ diff
            da = _drop(sums[0] + moved[:, 0], sums[1] + moved[:, 1])
            db = _drop(sums[2] - moved[:, 0], sums[3] - moved[:, 1])
            extreme += int(np.sum(np.abs(da - db) >= abs(delta) - tol))
            done += k
        p = float((1 + extreme) / (1 + n_perm))
    relative = delta / drop_b if drop_b not in (0.0,) and not np.isnan(drop_b) else float("nan")
    return PairedDifference(delta, low, high, relative, p, n)


def paired_randomization_tests(ds, n_perm: int = N_PERM, seed: int = 0) -> np.ndarray:
    """:func:`paired_randomization_test` of each array in ``ds``, batched: the same p-values, faster.

    Arrays with the same number of finite differences share one draw of sign vectors (the draw the single
    test makes from ``seed``), so hundreds of tests cost about one matrix product per distinct length.
    """
    cleaned = [np.asarray(d, dtype=np.float64).ravel() for d in ds]
    cleaned = [d[np.isfinite(d)] for d in cleaned]
    out = np.empty(len(cleaned))
    by_n: dict[int, list[int]] = {}
    for i, d in enumerate(cleaned):
        n = len(d)
        # ``not (|d| > 1e-8).any()`` is np.allclose(d, 0) for finite d, without its per-call overhead (a
        # full study's chart runs ~700 tests).
        if n == 0 or n_perm >= 2**n or not (np.abs(d) > 1e-8).any():
            out[i] = paired_randomization_test(d, n_perm=n_perm, seed=seed)
        else:
            by_n.setdefault(n, []).append(i)
    for n, idx in by_n.items():
        rng = np.random.default_rng(seed)
        signs = (rng.integers(0, 2, size=(n_perm, n), dtype=np.int8) * 2 - 1).astype(np.float64)
        d = np.stack([cleaned[i] for i in idx])  # (tests x n)
        obs = np.abs(d.mean(axis=1))
        tol = 1e-9 * np.abs(d).max(axis=1)
        perm = np.abs(d @ signs.T) / n  # (tests x n_perm)
        out[idx] = (1 + np.sum(perm >= (obs - tol)[:, None], axis=1)) / (1 + n_perm)
    return out
