"""Numbers behind the charts, as pandas tables: seed-averaged per-query metrics, curves with bootstrap bands,
robustness summaries and pairwise comparisons. Pure numpy/pandas (no Streamlit). This module only reshapes
and groups; every statistic (bands, AUC, half-level, randomization test, Holm) comes from ``core.metrics``.
"""

from __future__ import annotations

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


def _queries_per_level(stats: pd.DataFrame, by: list[str]) -> pd.Series:
    """Queries with a value per ``by`` + level: ``n_queries`` summed over the corpora and languages."""
    cells = list(dict.fromkeys([*by, "corpus", "lang", "level"]))
    per_cell = stats.groupby(cells, sort=False)["n_queries"].first()
    return per_cell.groupby([*by, "level"]).sum()


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
    :func:`curves`' per-query bootstrap. ``n`` is the number of queries with a value.

    Raises:
        UnknownNameError: ``metric`` is not one of the stored sums (``STATS_METRICS``).
    """
    cols = ["encoder", "facet", "level", "value", "low", "high", "rel", "rel_low", "rel_high", "n"]
    col = _stats_column(metric)
    if stats.empty:
        return pd.DataFrame(columns=cols)
    v = stats[["encoder", "corpus", "lang", "bucket", "level", "n", "n_queries", col]].copy()
    v["facet"] = v["lang"].map(facets) if facets else v["lang"]
    n_q = _queries_per_level(v, ["encoder", "facet"]).to_dict()
    # One groupby for every (encoder, facet) (seeds are summed already), levels as columns (0 where absent).
    wide = v.groupby(["encoder", "facet", "corpus", "lang", "bucket", "level"], sort=True)[[col, "n"]].sum()
    wide = wide.unstack("level", fill_value=0)
    levels_all = np.array(sorted(wide[col].columns), dtype=np.float64)
    s_all, c_all = wide[col][levels_all].to_numpy(np.float64), wide["n"][levels_all].to_numpy(np.float64)
    groups = wide.index.droplevel(["corpus", "lang", "bucket"])
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], len(groups)]
    # Curves with the same cluster count and levels are bootstrapped together (identical to one at a time).
    batches: dict[tuple, list[int]] = {}
    for i, (lo, hi) in enumerate(zip(starts, ends)):
        has = c_all[lo:hi].sum(0) > 0  # the levels this curve has at all
        batches.setdefault((hi - lo, tuple(has)), []).append(i)
    rows = []
    for (_k, has), members in batches.items():
        mask = np.array(has)
        levels = levels_all[mask]
        s = np.stack([s_all[starts[i] : ends[i]][:, mask] for i in members])
        c = np.stack([c_all[starts[i] : ends[i]][:, mask] for i in members])
        keys = [groups[starts[i]] for i in members]
        n = [[int(n_q.get((enc, facet, lv), 0)) for lv in levels] for enc, facet in keys]
        bands = cluster_bands_batch(s, c, levels, n_boot=n_boot, alpha=alpha, seed=seed, n=n)
        for (enc, facet), b in zip(keys, bands):
            for j, level in enumerate(levels):
                rows.append((enc, facet, level, b.value[j], b.low[j], b.high[j], b.rel[j], b.rel_low[j],
                             b.rel_high[j], int(b.n[j])))  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return pd.DataFrame(rows, columns=cols)


def pairwise_from_stats(
    stats: pd.DataFrame, metric: str, a: str, b: str, *, n_perm: int = N_PERM, seed: int = 0
) -> pd.DataFrame:
    """:func:`pairwise` from per-cell, per-query-bucket aggregates (``queries.curve_stats``).

    Per (level, language), over the query buckets both encoders have: ``delta`` is mean(a) - mean(b) over
    their queries (seed-averaged; exactly :func:`pairwise`'s delta when both rank the same queries), ``p``
    the paired sign-flip randomization test (:func:`core.metrics.paired_randomization_tests`) of the
    per-bucket differences of means (under the null each bucket's difference is as likely to carry either
    sign), Holm-corrected across languages at each level. low/high are NaN (no bootstrap of delta).

    Returns:
        level, lang, delta, low, high, n (queries), p, p_holm, mark.
    """
    cols = ["level", "lang", "delta", "low", "high", "n", "p", "p_holm", "mark"]
    col = _stats_column(metric)
    key = ["level", "lang", "corpus", "bucket"]
    sides = {}
    for name, enc in (("a", a), ("b", b)):
        sides[name] = stats[stats["encoder"] == enc].groupby(key, sort=True)[[col, "n"]].sum()
    joined = sides["a"].merge(sides["b"], left_index=True, right_index=True, suffixes=("_a", "_b"))
    joined = joined.reset_index()
    joined = joined[(joined["n_a"] > 0) & (joined["n_b"] > 0)]
    if joined.empty:
        return pd.DataFrame(columns=cols)
    n_q = _queries_per_level(stats[stats["encoder"] == a], ["lang"]).to_dict()
    joined["d"] = joined[f"{col}_a"] / joined["n_a"] - joined[f"{col}_b"] / joined["n_b"]
    per = joined.groupby(["level", "lang"], sort=True)
    sums = per[[f"{col}_a", "n_a", f"{col}_b", "n_b"]].sum()
    out = pd.DataFrame({
        "level": sums.index.get_level_values("level"), "lang": sums.index.get_level_values("lang"),
        "delta": (sums[f"{col}_a"] / sums["n_a"] - sums[f"{col}_b"] / sums["n_b"]).to_numpy(),
        "low": np.nan, "high": np.nan,
        "n": [int(n_q.get((lang, level), 0)) for level, lang in sums.index],
        "p": paired_randomization_tests([g.to_numpy() for _, g in per["d"]], n_perm=n_perm, seed=seed),
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
