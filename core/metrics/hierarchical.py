"""Hierarchical bootstrap over training seeds, then queries: estimates, intervals and paired comparisons of
models trained with several seeds, whose intervals include the spread between training runs.

Inputs are *tables*: 2-D arrays with one row per training seed and one column per query, every table of one
call holding the same queries in the same column order (the caller aligns them). A 1-D array is a table of
one seed. Queries where any table holds a non-finite value are dropped from every table.

One bootstrap replicate:

1. draw ``n`` query indices with replacement, used for **every** seed of **every** table of the call (so a
   query's clean and noisy values, and a model's and its reference's values, stay paired);
2. draw each model's seeds with replacement (``S`` of ``S``), independently per model;
3. recompute the statistic: the mean over the drawn seeds of each drawn seed's statistic on the drawn queries.

The point estimate is the mean over seeds of each seed's statistic on all queries; the interval is the
percentile interval of ``n_boot`` replicates. A comparison of model A with model B tests ``delta = 0`` with
``n_test`` further replicates: ``p = min(1, 2 * (1 + min(#{T* <= 0}, #{T* >= 0})) / (1 + #T*))``, twice the
smaller share of replicate differences on either side of 0 (the smallest alpha at which the percentile interval
excludes 0), with the +1 correction, so ``p >= 2 / (1 + n_test)``. With one seed there is no seed level and
every function gives exactly the plain query bootstrap (or, for a comparison of two one-seed models, the plain
paired randomization test) of :mod:`core.metrics.bootstrap` / :mod:`core.metrics.significance`.

Randomness: query draws come from ``numpy.random.default_rng(seed)`` (the first ``n_boot`` are the one-seed
bootstrap's draws with that seed), seed draws from ``numpy.random.default_rng([seed, 1])``. Calls with the same
``seed`` and number of queries reuse one set of query draws (:func:`_draws`): a study's hundreds of
comparisons over one group's queries draw them once, and no number depends on whether they were kept.

Known limit: the seed level is a plug-in bootstrap of ``S`` runs, so it scales the between-seed variance by
``(S - 1) / S`` (two thirds with 3 seeds): the intervals are still wider than a query-only interval whenever
the seeds differ, but read them as a lower bound on the run-to-run uncertainty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from core.metrics.bootstrap import Estimate, _drop_ci, mean_ci
from core.metrics.significance import N_PERM, PairedDifference, paired_difference, relative_drop_difference

CHUNK = 1000  # replicates per batch of a comparison: a CHUNK x n count matrix at a time, never n_test x n
CACHE_BYTES = 64 * 2**20  # the query draws of one (seed, n) are kept for the next call when they fit in this
_NAN = float("nan")


def _tables(**named) -> list[np.ndarray]:
    """The inputs as float seeds x queries arrays over the queries every one of them has finite."""
    out = []
    for name, x in named.items():
        t = np.asarray(x, dtype=np.float64)
        t = t[None, :] if t.ndim == 1 else t
        if t.ndim != 2 or t.shape[0] == 0:
            raise ValueError(
                f"{name} must be a seeds x queries table with at least one seed, got shape {t.shape}"
            )
        out.append(t)
    widths = {name: t.shape[1] for name, t in zip(named, out)}
    if len(set(widths.values())) != 1:
        raise ValueError(f"tables differ in their number of queries: {widths}")
    keep = np.logical_and.reduce([np.isfinite(t).all(axis=0) for t in out])
    return [t[:, keep] for t in out]


def _seed_draws(rng: np.random.Generator, n_seeds: int, b: int) -> np.ndarray:
    """(b x n_seeds) seed indices drawn with replacement; one seed draws nothing (its index is always 0)."""
    return np.zeros((b, 1), dtype=np.intp) if n_seeds == 1 else rng.integers(0, n_seeds, size=(b, n_seeds))


def _seed_rng(seed: int) -> np.random.Generator:
    """The stream of seed draws: apart from the query draws', so those are the same whatever the seeds."""
    return np.random.default_rng([seed, 1])


class _Draws:
    """The query draws of one (seed, n, n_boot), as per-replicate counts (how often each query was drawn).

    Batch 0 holds the ``n_boot`` draws ``numpy.random.default_rng(seed).integers(0, n, (n_boot, n))``, the
    draws of the one-seed bootstrap (:func:`core.metrics.mean_ci`) with this seed; batches 1, 2, ... hold
    :data:`CHUNK` further draws each, in stream order. Every call with the same (seed, n, n_boot) sees the same
    draws, so a study's hundreds of comparisons over one group's queries draw them once (see :func:`_draws`).
    """

    def __init__(self, seed: int, n: int, n_boot: int, keep: bool):
        self.rng, self.n, self.keep = np.random.default_rng(seed), n, keep
        # A query is drawn at most n times: the smallest unsigned type that holds n keeps the cache small.
        self.dtype = np.uint8 if n < 2**8 else np.uint16 if n < 2**16 else np.uint32
        self.batches: list[np.ndarray] = []
        self.made = 0  # batches drawn so far (kept or not)
        self.sizes = (n_boot,)
        self.lock = threading.Lock()

    def _make(self) -> np.ndarray:
        b = self.sizes[0] if self.made == 0 else CHUNK
        idx = self.rng.integers(0, self.n, size=(b, self.n))
        counts = np.bincount((idx + self.n * np.arange(b)[:, None]).ravel(), minlength=b * self.n)
        self.made += 1
        return counts.reshape(b, self.n).astype(self.dtype)

    def batch(self, j: int) -> np.ndarray:
        """Counts of batch ``j`` (b x n). A kept instance serves any order; otherwise batches must be asked
        for in increasing order (those skipped are drawn and dropped, so the stream stays the same)."""
        with self.lock:
            if self.keep:
                while len(self.batches) <= j:
                    self.batches.append(self._make())
                return self.batches[j]
            if j < self.made:
                raise RuntimeError(f"batch {j} asked after batch {self.made - 1} of an uncached draw")
            while self.made < j:
                self._make()
            return self._make()


_LAST: dict[tuple[int, int, int, int], _Draws] = {}
_LAST_LOCK = threading.Lock()


def _draws(seed: int, n: int, n_boot: int, n_test: int) -> _Draws:
    """The query draws of (seed, n, n_boot): the last ones made when they match, so that comparisons over
    the same queries share their draws (each stays a valid bootstrap; it only stops redrawing the same
    thing). Draws of more than :data:`CACHE_BYTES` are made for one call and not kept."""
    key = (seed, n, n_boot, n_test)
    with _LAST_LOCK:
        got = _LAST.get(key)
        if got is not None:
            return got
        itemsize = 1 if n < 2**8 else 2 if n < 2**16 else 4
        keep = n * (n_boot + n_test + CHUNK) * itemsize <= CACHE_BYTES
        draws = _Draws(seed, n, n_boot, keep)
        if keep:
            _LAST.clear()
            _LAST[key] = draws
        return draws


def _query_means(tables: Sequence[np.ndarray], counts: np.ndarray) -> list[np.ndarray]:
    """Each table's per-seed mean over the drawn queries (``counts``: b x n, how often each query was drawn):
    one (b x seeds) array per table. One matrix product serves every seed of every table."""
    n = counts.shape[1]
    means = (np.concatenate(tables, axis=0) @ counts.astype(np.float64).T).T / n
    return np.split(means, np.cumsum([t.shape[0] for t in tables])[:-1], axis=1)


def _pick(per_seed: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Mean over each replicate's drawn seeds of a (b x seeds) per-seed statistic."""
    return np.take_along_axis(per_seed, seeds, axis=1).mean(axis=1)


def _mean(means: list[np.ndarray]) -> np.ndarray:
    return means[0]


def _drop(means: list[np.ndarray]) -> np.ndarray:
    """Per-seed relative drop ``1 - mean(noisy) / mean(clean)``; NaN where the clean mean is 0."""
    clean, noisy = means
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - noisy / np.where(clean == 0, np.nan, clean)


def _observed(tables: Sequence[np.ndarray], per_seed: Callable) -> np.ndarray:
    """The per-seed statistic on all queries: one value per seed."""
    return per_seed([t.mean(axis=1)[None, :] for t in tables])[0]


def _interval(
    tables: Sequence[np.ndarray], per_seed: Callable, n_boot: int, alpha: float, seed: int
) -> Estimate:
    """Hierarchical percentile interval of one model's statistic (the tables' first dimension: seeds)."""
    n_seeds, n = tables[0].shape
    value = float(_observed(tables, per_seed).mean()) if n else _NAN
    if not np.isfinite(value):
        return Estimate(_NAN, _NAN, _NAN, n)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    # The query draws are the one-seed bootstrap's with this seed (batch 0); the seeds come from their own
    # stream.
    counts = _draws(seed, n, n_boot, 0).batch(0)
    seeds = _seed_draws(_seed_rng(seed), n_seeds, n_boot)
    stats = _pick(per_seed(_query_means(tables, counts)), seeds)
    low, high = np.nanquantile(stats, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, float(low), float(high), n)


def hierarchical_mean_ci(values, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> Estimate:
    """Mean over training seeds of each seed's mean over queries, with a hierarchical percentile interval.

    ``values[s, i]``: query ``i`` under training seed ``s`` (e.g. reciprocal ranks: then the value is the
    mean over seeds of each seed's MRR). Each replicate draws the queries, the same for every seed, then the
    seeds, and takes the mean over the drawn seeds of each one's mean over the drawn queries.

    Guarantees:
        * ``value = mean_s mean_i values[s, i]``; ``n`` = queries kept (finite under every seed).
        * One seed: exactly :func:`core.metrics.mean_ci` of that row (same interval for the same ``seed``).
        * Several seeds: the query indices are the ones :func:`core.metrics.mean_ci` draws for the same
          ``seed``, so seeds with identical values give its interval (up to rounding); queries of equal
          value within each seed give the spread of the seed resamples alone; ``low <= high``.
        * The same inputs and ``seed`` give the same result. No queries: NaNs and ``n = 0``.

    Raises:
        ValueError: not a 1-D or 2-D array with at least one seed; ``n_boot < 1`` with several seeds.

    Example:
        >>> e = hierarchical_mean_ci([[0.4, 0.4], [0.8, 0.8]]); round(e.value, 6), e.low, e.high, e.n
        (0.6, 0.4, 0.8, 2)
    """
    (t,) = _tables(values=values)
    if t.shape[0] == 1:
        return mean_ci(t[0], n_boot=n_boot, alpha=alpha, seed=seed)
    return _interval([t], _mean, n_boot, alpha, seed)


def hierarchical_drop_ci(clean, noisy, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> Estimate:
    """Mean over training seeds of each seed's relative drop ``1 - mean(noisy) / mean(clean)``, with a
    hierarchical percentile interval.

    ``clean[s, i]`` and ``noisy[s, i]`` are query ``i``'s per-query metric (e.g. reciprocal rank) under
    training seed ``s``, clean and noisy. Each replicate draws the queries (the same for both sides and every
    seed), then the seeds, and averages the drawn seeds' drops on the drawn queries.

    Guarantees:
        * ``value = mean_s (1 - mean_i noisy[s, i] / mean_i clean[s, i])``; NaN (interval too) when a seed's
          clean mean is 0.
        * One seed: exactly :func:`core.metrics.relative_drop_ci` of the same per-query values.
        * Several seeds: the query draws are those of the one-seed bootstrap with the same ``seed``, so
          identical seeds give its interval (up to rounding); replicates whose drawn clean mean is 0 are left
          out of the quantiles. Deterministic for a ``seed``.

    Raises:
        ValueError: tables of different query counts, or not 1-D / 2-D.

    Example:
        >>> e = hierarchical_drop_ci([[1.0, 1.0], [1.0, 1.0]], [[0.5, 0.5], [0.75, 0.75]])
        >>> e.value, e.low, e.high  # seed drops 0.5 and 0.25: the interval is their resampled mean's range
        (0.375, 0.25, 0.5)
    """
    c, x = _tables(clean=clean, noisy=noisy)
    if c.shape[0] != x.shape[0]:
        raise ValueError(f"clean and noisy differ in their number of seeds ({c.shape[0]} vs {x.shape[0]})")
    if c.shape[0] == 1:
        return _drop_ci(c[0], x[0], n_boot, alpha, seed)
    return _interval([c, x], _drop, n_boot, alpha, seed)


def _compare(a: list[np.ndarray], b: list[np.ndarray], per_seed: Callable, n_boot: int, n_test: int,
             alpha: float, seed: int) -> PairedDifference:  # fmt: skip
    """Hierarchical bootstrap of ``stat(A) - stat(B)`` over shared query draws and per-model seed draws."""
    n = a[0].shape[1]
    if n == 0:
        return PairedDifference(_NAN, _NAN, _NAN, _NAN, 1.0, 0)
    value_b = float(_observed(b, per_seed).mean())
    delta = float(_observed(a, per_seed).mean()) - value_b
    draws, rng = _draws(seed, n, n_boot, n_test), _seed_rng(seed)

    def replicates(counts: np.ndarray) -> np.ndarray:
        k = len(counts)
        seeds_a, seeds_b = _seed_draws(rng, a[0].shape[0], k), _seed_draws(rng, b[0].shape[0], k)
        means = _query_means([*a, *b], counts)
        return _pick(per_seed(means[: len(a)]), seeds_a) - _pick(per_seed(means[len(a) :]), seeds_b)

    def batches(total: int):
        # Batch 0 (n_boot draws) for the interval, then CHUNK-sized batches for the test.
        for j, start in enumerate(range(0, total, CHUNK), start=1):
            yield replicates(draws.batch(j)[: min(CHUNK, total - start)])

    low = high = _NAN
    if n_boot > 0 and np.isfinite(delta):
        boot = replicates(draws.batch(0))
        if np.isfinite(boot).any():
            low, high = (float(v) for v in np.nanquantile(boot, [alpha / 2, 1 - alpha / 2]))
    p = 1.0
    if n_test > 0 and np.isfinite(delta):
        tol = 1e-12  # a replicate difference that is zero up to rounding counts on both sides
        below = above = total = 0
        for t in batches(n_test):
            t = t[np.isfinite(t)]
            below, above, total = (
                below + int(np.sum(t <= tol)),
                above + int(np.sum(t >= -tol)),
                total + len(t),
            )
        p = min(1.0, 2 * (1 + min(below, above)) / (1 + total))
    relative = delta / value_b if np.isfinite(value_b) and value_b != 0 else _NAN
    return PairedDifference(delta, low, high, relative, p, n)


def hierarchical_mean_difference(
    a, b, *, n_boot: int = 1000, n_test: int = N_PERM, alpha: float = 0.05, seed: int = 0
) -> PairedDifference:
    """Seed-averaged mean of model A minus that of model B over the same queries, with a hierarchical
    bootstrap interval and a two-sided test.

    ``a[s, i]`` / ``b[t, i]``: query ``i`` under A's training seed ``s`` / B's seed ``t`` (the models may have
    different numbers of seeds; the queries are the same, in the same order). ``delta = mean_s mean_i a[s, i]
    - mean_t mean_i b[t, i]``.

    Guarantees:
        * A and B with one seed each: exactly :func:`core.metrics.paired_difference` (bootstrap interval of
          the per-query differences; paired sign-flip randomization test with ``n_test`` flips).
        * Otherwise the interval is the percentile interval of ``n_boot`` hierarchical replicates (one query
          draw shared by A and B, each model's seeds drawn separately), and the p-value comes from ``n_test``
          further replicates: ``p = min(1, 2 * (1 + min(#{T* <= 0}, #{T* >= 0})) / (1 + n_test))``, i.e. twice
          the smaller tail beyond 0 (the smallest alpha at which the percentile interval excludes 0), with
          the +1 correction, so ``p >= 2 / (1 + n_test)``.
        * ``relative = delta / (B's seed-averaged mean)``; deterministic for a ``seed``; no queries: NaNs,
          ``p = 1``, ``n = 0``.

    Raises:
        ValueError: A and B hold different numbers of queries.

    Example:
        >>> r = hierarchical_mean_difference([[0.9, 0.9], [0.7, 0.7]], [[0.5, 0.5]])
        >>> round(r.delta, 6), round(r.low, 6), round(r.high, 6), r.n  # seeds 0.9, 0.7 vs 0.5
        (0.3, 0.2, 0.4, 2)
    """
    ta, tb = _tables(a=a, b=b)
    if ta.shape[0] == 1 and tb.shape[0] == 1:
        return paired_difference(ta[0], tb[0], n_boot=n_boot, n_perm=n_test, alpha=alpha, seed=seed)
    return _compare([ta], [tb], _mean, n_boot, n_test, alpha, seed)


def hierarchical_drop_difference(
    clean_a, noisy_a, clean_b, noisy_b, *, n_boot: int = 1000, n_test: int = N_PERM, alpha: float = 0.05,
    seed: int = 0,
) -> PairedDifference:  # fmt: skip
    """Seed-averaged relative drop of model A minus that of model B over the same queries, with a
    hierarchical bootstrap interval and a two-sided test.

    Per-query values (e.g. reciprocal ranks) as seeds x queries tables: A's clean and noisy (A's seeds), B's
    clean and noisy (B's seeds). ``drop = mean over seeds of (1 - mean(noisy) / mean(clean))``; ``delta =
    drop_A - drop_B`` (negative: A loses less of its clean quality than B).

    Guarantees:
        * A and B with one seed each: exactly :func:`core.metrics.relative_drop_difference` (paired bootstrap
          interval; per-query swap randomization test with ``n_test`` swaps).
        * Otherwise, as :func:`hierarchical_mean_difference`: percentile interval of ``n_boot`` replicates
          (queries drawn once for both models and both sides, each model's seeds drawn separately) and
          ``p = min(1, 2 * (1 + min(#{T* <= 0}, #{T* >= 0})) / (1 + #finite T*))`` over ``n_test`` further
          replicates; replicates whose drawn clean mean is 0 are left out.
        * ``relative = delta / drop_B``; deterministic for a ``seed``; no queries: NaNs, ``p = 1``, ``n = 0``.

    Raises:
        ValueError: the tables hold different numbers of queries, or a model's clean and noisy tables
            different numbers of seeds.

    Example:
        >>> ones = [[1, 1], [1, 1]]  # A's seeds drop 0.1 and 0.3, B drops 0.5
        >>> r = hierarchical_drop_difference(ones, [[0.9, 0.9], [0.7, 0.7]], ones[:1], [[0.5, 0.5]])
        >>> round(r.delta, 6), round(r.low, 6), round(r.high, 6)
        (-0.3, -0.4, -0.2)
    """
    ca, na, cb, nb = _tables(clean_a=clean_a, noisy_a=noisy_a, clean_b=clean_b, noisy_b=noisy_b)
    for name, (c, x) in {"A": (ca, na), "B": (cb, nb)}.items():
        if c.shape[0] != x.shape[0]:
            raise ValueError(f"{name}'s clean and noisy differ in their number of seeds ({c.shape[0]} vs "
                             f"{x.shape[0]})")  # fmt: skip
    if ca.shape[0] == 1 and cb.shape[0] == 1:
        return relative_drop_difference(ca[0], na[0], cb[0], nb[0], n_boot=n_boot, n_perm=n_test, alpha=alpha,
                                        seed=seed)  # fmt: skip
    return _compare([ca, na], [cb, nb], _drop, n_boot, n_test, alpha, seed)
