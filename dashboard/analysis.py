"""Numbers behind the charts: seed-averaged per-query metrics, bootstrap bands, robustness summaries and
paired randomization tests. Pure numpy/pandas (no Streamlit), so it is tested and benchmarked directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.metrics import per_query

N_BOOT = 1000
N_PERM = 2000


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


def _boot_means(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot x levels) means of query-resampled rows; resampling is shared across levels (paired)."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    out = np.empty((n_boot, x.shape[1]))
    step = max(1, 2_000_000 // max(1, n * x.shape[1]))
    for i in range(0, n_boot, step):
        idx = rng.integers(0, n, size=(min(step, n_boot - i), n))
        with np.errstate(invalid="ignore"):
            out[i : i + idx.shape[0]] = np.nanmean(x[idx], axis=1)
    return out


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
        with np.errstate(invalid="ignore", divide="ignore"):
            point = np.nanmean(x, axis=0)
            boots = _boot_means(x, n_boot, seed) if x.shape[0] > 1 else np.repeat(point[None], 2, 0)
            rel_boot = boots / boots[:, :1] if levels[0] == 0 else np.full_like(boots, np.nan)
            rel_point = point / point[0] if levels[0] == 0 else np.full_like(point, np.nan)
        lo, hi = np.nanquantile(boots, [alpha / 2, 1 - alpha / 2], axis=0)
        rlo, rhi = (
            np.nanquantile(rel_boot, [alpha / 2, 1 - alpha / 2], axis=0)
            if np.isfinite(rel_boot).any()
            else (np.full_like(point, np.nan),) * 2
        )
        counts = np.sum(~np.isnan(x), axis=0)
        for j, level in enumerate(levels):
            rows.append(
                (enc, facet, level, point[j], lo[j], hi[j], rel_point[j], rlo[j], rhi[j], int(counts[j]))
            )
    return pd.DataFrame(rows, columns=cols)


def half_level(levels: np.ndarray, values: np.ndarray) -> float:
    """Smallest level (linearly interpolated) at which the curve falls to half its clean value; inf if never.

    Example:
        >>> half_level(np.array([0, 0.1, 0.2]), np.array([0.8, 0.6, 0.2]))
        0.15
    """
    if len(values) == 0 or not np.isfinite(values[0]) or values[0] <= 0:
        return float("nan")
    target = values[0] / 2
    for i in range(1, len(values)):
        if values[i] <= target:
            a, b = values[i - 1], values[i]
            t = 0.0 if a == b else (a - target) / (a - b)
            return round(float(levels[i - 1] + t * (levels[i] - levels[i - 1])), 6)
    return float("inf")


def robustness_table(curve: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (facet, encoder): clean value, value per level, AUC, half-level, n.

    AUC is the trapezoidal area under the curve divided by the level range, i.e. the curve's mean height
    over [0, max level] (equal to the clean value for a flat curve).
    """
    rows = []
    for (facet, enc), part in curve.groupby(["facet", "encoder"], sort=True):
        part = part.sort_values("level")
        lv, val = part["level"].to_numpy(), part["value"].to_numpy()
        auc = float(np.trapezoid(val, lv) / (lv[-1] - lv[0])) if len(lv) > 1 else float("nan")
        row = {"facet": facet, "encoder": enc, f"clean {metric}": val[0] if lv[0] == 0 else np.nan}
        for level, value in zip(lv[1:] if lv[0] == 0 else lv, val[1:] if lv[0] == 0 else val):
            row[f"{metric} @{level:g}"] = value
        half = half_level(lv, val)
        row["AUC"] = auc
        row["half-level"] = "never" if half == float("inf") else "n/a" if np.isnan(half) else f"{half:.3g}"
        row["n"] = int(part["n"].max())
        rows.append(row)
    return pd.DataFrame(rows)


def randomization_test(d: np.ndarray, n_perm: int = N_PERM, seed: int = 0) -> float:
    """Two-sided paired randomization (sign-flip) test of mean(d) = 0; returns the p-value.

    p = (1 + #{|mean(s * d)| >= |mean(d)|}) / (1 + n_perm) over random sign vectors s.
    """
    d = np.asarray(d, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) == 0 or np.allclose(d, 0):
        return 1.0
    rng = np.random.default_rng(seed)
    obs = abs(d.mean())
    signs = rng.integers(0, 2, size=(n_perm, len(d)), dtype=np.int8) * 2 - 1
    perm = np.abs((signs * d).mean(axis=1))
    return float((1 + np.sum(perm >= obs - 1e-12)) / (1 + n_perm))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1)."""
    p = np.asarray(p, dtype=np.float64)
    m = len(p)
    order = np.argsort(p)
    adj = np.empty(m)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        adj[i] = running
    return adj


def stars(p: float) -> str:
    """Significance mark of an adjusted p-value: ``***`` < .001, ``**`` < .01, ``*`` < .05, else ``n.s.``."""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def pairwise(values: pd.DataFrame, a: str, b: str, *, n_perm: int = N_PERM, seed: int = 0) -> pd.DataFrame:
    """Encoder ``a`` minus ``b`` per (level, lang) with a paired randomization test on the shared queries,
    Holm-corrected across languages at each level.

    Returns:
        level, lang, delta (mean of a - b), n, p, p_holm, mark.
    """
    cols = ["level", "lang", "delta", "n", "p", "p_holm", "mark"]
    key = ["level", "corpus", "lang", "qid"] if "corpus" in values.columns else ["level", "lang", "qid"]
    pa = values[values["encoder"] == a].set_index(key)["x"]
    pb = values[values["encoder"] == b].set_index(key)["x"]
    joined = pd.concat({"a": pa, "b": pb}, axis=1, join="inner").reset_index()
    if joined.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (level, lang), part in joined.groupby(["level", "lang"], sort=True):
        d = (part["a"] - part["b"]).to_numpy()
        rows.append([level, lang, float(d.mean()), len(d), randomization_test(d, n_perm, seed)])
    out = pd.DataFrame(rows, columns=cols[:5])
    out["p_holm"] = out.groupby("level")["p"].transform(lambda s: holm(s.to_numpy()))
    out["mark"] = out["p_holm"].map(stars)
    return out
