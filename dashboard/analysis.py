"""Numbers behind the charts, as pandas tables: seed-averaged per-query metrics, curves with bootstrap bands,
robustness summaries and pairwise comparisons. Pure numpy/pandas (no Streamlit). This module only reshapes
and groups; every statistic (bands, AUC, half-level, randomization test, Holm) comes from ``core.metrics``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from core.metrics import (
    auc,
    cluster_bands_batch,
    curve_bands,
    holm,
    level_at_half,
    paired_difference,
    paired_randomization_tests,
    per_query,
    stars,
)
from core.metrics.significance import N_PERM
from core.store.schema import STATS_METRICS

N_BOOT = 1000


@functools.lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread(fn):
    """Run ``fn`` with one BLAS thread. Its matrix products are small (milliseconds); on a busy 2-core
    machine a second OpenBLAS thread waiting on a preempted sibling made them up to 5x slower at p95
    (measured: 208 vs 63 ms for a full study's chart), and one thread gives the same numbers."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _blas_controller().limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


__all__ = ["N_BOOT", "N_PERM", "curves", "curves_from_stats", "pairwise", "pairwise_from_stats",
           "per_query_values", "robustness_table"]  # fmt: skip


def per_query_values(ranks: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per-query metric contributions averaged over seeds: encoder, lang, level, qid, x.

    ``ranks`` has columns encoder, lang, level, seed, qid, rank (see ``queries.curve_ranks``); the clean rows
    (level 0) count once whatever the seeds.
    """
    key = ["encoder", "lang", "level", "qid"]
    if "corpus" in ranks.columns:
        # A query is (corpus, lang, qid): the same qid ranked in two pooled corpora is two measurements,
        # never averaged into one.
        key = ["corpus", *key]
    if ranks.empty:
        return pd.DataFrame(columns=[*key, "x"])
    df = ranks[key].copy()
    df["x"] = per_query(ranks["rank"].to_numpy(), metric)
    return df.groupby(key, as_index=False, sort=True)["x"].mean()


def _matrix(values: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(queries x levels) matrix of one encoder and facet, rows keyed by (lang, qid); NaN where missing."""
    rows = ["corpus", "lang", "qid"] if "corpus" in values.columns else ["lang", "qid"]
    wide = values.pivot_table(index=rows, columns="level", values="x", aggfunc="mean")
    wide = wide.reindex(sorted(wide.columns), axis=1)
    return wide.to_numpy(dtype=np.float64), wide.columns.to_numpy(dtype=np.float64)


def curves(
    values: pd.DataFrame,
    facets: dict[str, str] | None = None,
    *,
    n_boot: int = N_BOOT,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Metric per (encoder, facet, level) with percentile bootstrap bands, absolute and relative to clean.

    Args:
        values: output of :func:`per_query_values`.
        facets: lang -> facet name (e.g. resource class); ``None`` facets by language.
        n_boot: bootstrap resamples of queries (paired across levels, so relative bands are honest).

    Returns:
        encoder, facet, level, value, low, high, rel, rel_low, rel_high, n (queries with a value).
    """
    cols = ["encoder", "facet", "level", "value", "low", "high", "rel", "rel_low", "rel_high", "n"]
    if values.empty:
        return pd.DataFrame(columns=cols)
    v = values.copy()
    v["facet"] = v["lang"].map(facets) if facets else v["lang"]
    rows = []
    for (enc, facet), part in v.groupby(["encoder", "facet"], sort=True):
        x, levels = _matrix(part)
        b = curve_bands(x, levels, n_boot=n_boot, alpha=alpha, seed=seed)
        for j, level in enumerate(levels):
            rows.append((enc, facet, level, b.value[j], b.low[j], b.high[j], b.rel[j], b.rel_low[j],
                         b.rel_high[j], int(b.n[j])))  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _stats_column(metric: str) -> str:
    if metric not in STATS_METRICS:
        from core.errors import UnknownNameError

        raise UnknownNameError("metric", metric, tuple(STATS_METRICS))
    return STATS_METRICS[metric]


def _codes(values) -> tuple[np.ndarray, np.ndarray]:
    """(codes, sorted uniques) of a column: codes follow the values' sort order, so sorting by codes sorts
    by value (the order pandas' ``groupby(sort=True)`` gives)."""
    # A pandas column is factorized in its own storage (Arrow strings: no Python string per row).
    codes, uniques = pd.factorize(values if isinstance(values, pd.Series) else np.asarray(values), sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def _combine(*codes_and_sizes: tuple[np.ndarray, int]) -> np.ndarray:
    """One int64 key per row whose order is the lexicographic order of the given codes."""
    key = np.zeros(len(codes_and_sizes[0][0]), dtype=np.int64)
    for codes, size in codes_and_sizes:
        key = key * max(1, size) + codes
    return key


@_one_blas_thread
def curves_from_stats(
    stats: pd.DataFrame,
    metric: str,
    facets: dict[str, str] | None = None,
    *,
    n_boot: int = N_BOOT,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`curves` from per-cell, per-query-bucket aggregates (``queries.curve_stats``) instead of rows.

    The value at each level is the exact seed-averaged mean over queries (equal to :func:`curves`' value
    whenever every seed ranks the same queries, as the runner does). The bands are the paired percentile
    bootstrap over query buckets (:func:`core.metrics.cluster_bands`): buckets are fixed by a hash of the
    query id, so they are the same at every level; at ~30 queries a bucket they are close to, not equal to,
    :func:`curves`' per-query bootstrap. The clusters of a curve (encoder, facet) are its (corpus, language,
    bucket) triples, in that sorted order. ``n`` is the number of queries with a value. ``n_boot=0`` gives
    the values only (low, high, rel_low and rel_high NaN), e.g. for a chart of point values.

    Raises:
        UnknownNameError: ``metric`` is not one of the stored sums (``STATS_METRICS``).
    """
    cols = ["encoder", "facet", "level", "value", "low", "high", "rel", "rel_low", "rel_high", "n"]
    col = _stats_column(metric)
    if stats.empty:
        return pd.DataFrame(columns=cols)
    # Integer codes instead of string group-bys: a full study's selection is ~86k rows, and pandas spent
    # most of this function's time hashing and comparing their string keys (measured).
    enc_c, enc_u = _codes(stats["encoder"])
    cor_c, cor_u = _codes(stats["corpus"])
    lang_c, lang_u = _codes(stats["lang"])
    # Facets are mapped per language, not per row.
    fac_of_lang, fac_u = _codes([facets.get(x) for x in lang_u] if facets else list(lang_u))
    fac_c = fac_of_lang[lang_c]
    buc_c, buc_u = _codes(stats["bucket"])
    lev_c, levels_all = _codes(stats["level"].to_numpy(dtype=np.float64))
    levels_all = levels_all.astype(np.float64)
    n_lv = len(levels_all)
    sizes = [(enc_c, len(enc_u)), (fac_c, len(fac_u)), (cor_c, len(cor_u)), (lang_c, len(lang_u))]
    # One row per cluster (encoder, facet, corpus, lang, bucket) in sorted order, levels as columns (0 where
    # absent), exactly the table a group-by on those keys and an unstack of level would give.
    rows, inv = np.unique(_combine(*sizes, (buc_c, len(buc_u))), return_inverse=True)
    flat = inv * n_lv + lev_c
    s_all = np.bincount(flat, weights=stats[col].to_numpy(np.float64), minlength=len(rows) * n_lv)
    c_all = np.bincount(flat, weights=stats["n"].to_numpy(np.float64), minlength=len(rows) * n_lv)
    s_all, c_all = s_all.reshape(len(rows), n_lv), c_all.reshape(len(rows), n_lv)
    curve_of_row = rows // (len(cor_u) * len(lang_u) * len(buc_u))  # the (encoder, facet) code of a cluster
    curve_ids, starts = np.unique(curve_of_row, return_index=True)
    ends = np.r_[starts[1:], len(rows)]
    # Queries with a value per (encoder, facet, level): each cell's n_queries once, summed over its corpora
    # and languages.
    cell, first = np.unique(_combine(*sizes, (lev_c, n_lv)), return_index=True)
    cell_curve = cell // (len(cor_u) * len(lang_u) * n_lv)
    cell_lev = cell % n_lv
    nq = stats["n_queries"].to_numpy(np.float64)[first]
    n_q = np.bincount(np.searchsorted(curve_ids, cell_curve) * n_lv + cell_lev, weights=nq,
                      minlength=len(curve_ids) * n_lv).reshape(len(curve_ids), n_lv)  # fmt: skip
    # Curves with the same cluster count and levels are bootstrapped together (identical to one at a time).
    batches: dict[tuple, list[int]] = {}
    for i, (lo, hi) in enumerate(zip(starts, ends)):
        has = c_all[lo:hi].sum(0) > 0  # the levels this curve has at all
        batches.setdefault((hi - lo, tuple(has)), []).append(i)
    parts = []
    for (_k, has), members in batches.items():
        mask = np.array(has)
        levels = levels_all[mask]
        s = np.stack([s_all[starts[i] : ends[i]][:, mask] for i in members])
        c = np.stack([c_all[starts[i] : ends[i]][:, mask] for i in members])
        n = n_q[members][:, mask]
        if n_boot > 0:
            bands = cluster_bands_batch(s, c, levels, n_boot=n_boot, alpha=alpha, seed=seed, n=n)
            fields = {f: np.stack([getattr(b, f) for b in bands]) for f in
                      ("value", "low", "high", "rel", "rel_low", "rel_high")}  # fmt: skip
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                value = s.sum(1) / c.sum(1)  # cluster_bands_batch's point value, same arithmetic
                rel = value / value[:, :1] if levels[0] == 0 else np.full_like(value, np.nan)
            nan = np.full_like(value, np.nan)
            fields = {"value": value, "low": nan, "high": nan, "rel": rel, "rel_low": nan, "rel_high": nan}
        code = curve_ids[members]
        n_fac = len(fac_u)
        part = pd.DataFrame({
            "encoder": np.repeat(enc_u[code // n_fac], len(levels)),
            "facet": np.repeat(fac_u[code % n_fac], len(levels)),
            "level": np.tile(levels, len(members)),
            **{f: v.ravel() for f, v in fields.items()},
            "n": n.astype(np.int64).ravel(),
        })  # fmt: skip
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return out.sort_values(["encoder", "facet", "level"], kind="stable", ignore_index=True)[cols]


@_one_blas_thread
def pairwise_from_stats(
    stats: pd.DataFrame, metric: str, a: str, b: str, *, n_perm: int = N_PERM, seed: int = 0
) -> pd.DataFrame:
    """:func:`pairwise` from per-cell, per-query-bucket aggregates (``queries.curve_stats``).

    Per (level, language), over the query buckets both encoders have: ``delta`` is mean(a) - mean(b) over
    their queries (seed-averaged; exactly :func:`pairwise`'s delta when both rank the same queries), ``p``
    the paired sign-flip randomization test (:func:`core.metrics.paired_randomization_tests`) of the
    per-bucket differences of means (under the null each bucket's difference is as likely to carry either
    sign; the differences in (corpus, bucket) order), Holm-corrected across languages at each level.
    low/high are NaN (no bootstrap of delta).

    Returns:
        level, lang, delta, low, high, n (queries), p, p_holm, mark; in (level, lang) order.
    """
    cols = ["level", "lang", "delta", "low", "high", "n", "p", "p_holm", "mark"]
    col = _stats_column(metric)
    enc = stats["encoder"]
    side = np.where((enc == a).to_numpy(bool), 0, np.where((enc == b).to_numpy(bool), 1, -1))
    keep = side >= 0
    if not keep.any():
        return pd.DataFrame(columns=cols)
    st_ = stats[keep]
    side = side[keep]
    lev_c, lev_u = _codes(st_["level"].to_numpy(dtype=np.float64))
    lang_c, lang_u = _codes(st_["lang"])
    cor_c, cor_u = _codes(st_["corpus"])
    buc_c, buc_u = _codes(st_["bucket"])
    sizes = [(lev_c, len(lev_u)), (lang_c, len(lang_u)), (cor_c, len(cor_u)), (buc_c, len(buc_u))]
    # Per (level, lang, corpus, bucket) and side: the sums over seeds' rows (a group-by's sum).
    keys, inv = np.unique(_combine(*sizes), return_inverse=True)
    flat = inv * 2 + side
    sums = np.bincount(flat, weights=st_[col].to_numpy(np.float64), minlength=2 * len(keys)).reshape(-1, 2)
    cnts = np.bincount(flat, weights=st_["n"].to_numpy(np.float64), minlength=2 * len(keys)).reshape(-1, 2)
    both = (cnts[:, 0] > 0) & (cnts[:, 1] > 0)
    if not both.any():
        return pd.DataFrame(columns=cols)
    keys, sums, cnts = keys[both], sums[both], cnts[both]
    group = keys // (len(cor_u) * len(buc_u))  # (level, lang) code, ascending
    groups, starts = np.unique(group, return_index=True)
    ends = np.r_[starts[1:], len(group)]
    d = sums[:, 0] / cnts[:, 0] - sums[:, 1] / cnts[:, 1]
    gs = np.add.reduceat(sums, starts, axis=0)
    gc = np.add.reduceat(cnts, starts, axis=0)
    level = lev_u[groups // len(lang_u)].astype(np.float64)
    lang = lang_u[groups % len(lang_u)]
    # Queries of encoder a per (lang, level): each cell's n_queries once, summed over corpora.
    a_rows = side == 0
    cell, first = np.unique(
        _combine((lev_c[a_rows], len(lev_u)), (lang_c[a_rows], len(lang_u)), (cor_c[a_rows], len(cor_u))),
        return_index=True,
    )
    nq = np.bincount(cell // len(cor_u), weights=st_["n_queries"].to_numpy(np.float64)[a_rows][first],
                     minlength=len(lev_u) * len(lang_u))  # fmt: skip
    out = pd.DataFrame({
        "level": level, "lang": lang, "delta": gs[:, 0] / gc[:, 0] - gs[:, 1] / gc[:, 1],
        "low": np.nan, "high": np.nan, "n": nq[groups].astype(np.int64),
        "p": paired_randomization_tests([d[lo:hi] for lo, hi in zip(starts, ends)], n_perm=n_perm, seed=seed),
    })  # fmt: skip
    out["p_holm"] = out.groupby("level")["p"].transform(lambda s: holm(s.to_numpy()))
    out["mark"] = out["p_holm"].map(stars)
    return out


def robustness_table(curve: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (facet, encoder): clean value, value per level, AUC, half-level, n.

    AUC is :func:`core.metrics.auc` (the curve's mean height over its level range); half-level is
    :func:`core.metrics.level_at_half`, shown as "never" (inf) or "n/a" (NaN).
    """
    rows = []
    for (facet, enc), part in curve.groupby(["facet", "encoder"], sort=True):
        part = part.sort_values("level")
        lv, val = part["level"].to_numpy(), part["value"].to_numpy()
        row = {"facet": facet, "encoder": enc, f"clean {metric}": val[0] if lv[0] == 0 else np.nan}
        for level, value in zip(lv[1:] if lv[0] == 0 else lv, val[1:] if lv[0] == 0 else val):
            row[f"{metric} @{level:g}"] = value
        half = level_at_half(lv, val)
        row["AUC"] = auc(lv, val)
        row["half-level"] = "never" if half == float("inf") else "n/a" if np.isnan(half) else f"{half:.3g}"
        row["n"] = int(part["n"].max())
        rows.append(row)
    return pd.DataFrame(rows)


def pairwise(
    values: pd.DataFrame, a: str, b: str, *, n_perm: int = N_PERM, n_boot: int = 0, seed: int = 0
) -> pd.DataFrame:
    """Encoder ``a`` minus ``b`` per (level, lang) on their shared queries (:func:`core.metrics.paired_difference`),
    Holm-corrected across languages at each level.

    Returns:
        level, lang, delta (mean of a - b), low, high (bootstrap interval of delta; NaN unless ``n_boot``),
        n, p (paired randomization test), p_holm, mark (:func:`core.metrics.stars` of p_holm).
    """
    cols = ["level", "lang", "delta", "low", "high", "n", "p", "p_holm", "mark"]
    key = ["level", "corpus", "lang", "qid"] if "corpus" in values.columns else ["level", "lang", "qid"]
    pa = values[values["encoder"] == a].set_index(key)["x"]
    pb = values[values["encoder"] == b].set_index(key)["x"]
    joined = pd.concat({"a": pa, "b": pb}, axis=1, join="inner").reset_index()
    if joined.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (level, lang), part in joined.groupby(["level", "lang"], sort=True):
        r = paired_difference(part["a"], part["b"], n_boot=n_boot, n_perm=n_perm, seed=seed)
        rows.append([level, lang, r.delta, r.low, r.high, r.n, r.p])
    out = pd.DataFrame(rows, columns=cols[:7])
    out["p_holm"] = out.groupby("level")["p"].transform(lambda s: holm(s.to_numpy()))
    out["mark"] = out["p_holm"].map(stars)
    return out
