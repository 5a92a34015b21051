"""The vectorized ``curves_from_stats`` / ``pairwise_from_stats`` (integer codes, bincount) give exactly what
the previous pandas group-by implementation gave, kept here as the reference, on irregular selections: two
corpora holding the same language, buckets missing in some cells, a curve missing a level, facets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.metrics import cluster_bands_batch, holm, paired_randomization_tests, stars
from core.metrics.significance import N_PERM
from dashboard import analysis


def _queries_per_level(stats: pd.DataFrame, by: list[str]) -> pd.Series:
    cells = list(dict.fromkeys([*by, "corpus", "lang", "level"]))
    per_cell = stats.groupby(cells, sort=False)["n_queries"].first()
    return per_cell.groupby([*by, "level"]).sum()


def reference_curves(stats, metric, facets=None, *, n_boot=1000, alpha=0.05, seed=0):
    """curves_from_stats as of b6e0f3c (pandas group-bys)."""
    cols = ["encoder", "facet", "level", "value", "low", "high", "rel", "rel_low", "rel_high", "n"]
    col = analysis._stats_column(metric)
    v = stats[["encoder", "corpus", "lang", "bucket", "level", "n", "n_queries", col]].copy()
    v["facet"] = v["lang"].map(facets) if facets else v["lang"]
    n_q = _queries_per_level(v, ["encoder", "facet"]).to_dict()
    wide = v.groupby(["encoder", "facet", "corpus", "lang", "bucket", "level"], sort=True)[[col, "n"]].sum()
    wide = wide.unstack("level", fill_value=0)
    levels_all = np.array(sorted(wide[col].columns), dtype=np.float64)
    s_all, c_all = wide[col][levels_all].to_numpy(np.float64), wide["n"][levels_all].to_numpy(np.float64)
    groups = wide.index.droplevel(["corpus", "lang", "bucket"])
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], len(groups)]
    batches: dict[tuple, list[int]] = {}
    for i, (lo, hi) in enumerate(zip(starts, ends)):
        has = c_all[lo:hi].sum(0) > 0
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


def reference_pairwise(stats, metric, a, b, *, n_perm=N_PERM, seed=0):
    """pairwise_from_stats as of b6e0f3c (pandas group-bys and a merge)."""
    col = analysis._stats_column(metric)
    key = ["level", "lang", "corpus", "bucket"]
    sides = {name: stats[stats["encoder"] == enc].groupby(key, sort=True)[[col, "n"]].sum()
             for name, enc in (("a", a), ("b", b))}  # fmt: skip
    joined = sides["a"].merge(sides["b"], left_index=True, right_index=True, suffixes=("_a", "_b"))
    joined = joined.reset_index()
    joined = joined[(joined["n_a"] > 0) & (joined["n_b"] > 0)]
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


def irregular_stats(seed: int = 0) -> pd.DataFrame:
    """curve_stats-shaped rows: 3 encoders, languages in two corpora, 32 buckets with some missing, one
    encoder without level 0.3 for one language, seeds summed (counts 1x clean, 3x noisy)."""
    rng = np.random.default_rng(seed)
    rows = []
    for corpus, langs in (("c/pair/x", ["amh", "deu", "xho", "swh"]), ("c/pooled/1", ["amh", "deu"])):
        for enc in ("e5", "minilm", "muse3"):
            for lang in langs:
                for level in (0.0, 0.1, 0.2, 0.3):
                    if enc == "muse3" and lang == "xho" and level == 0.3:
                        continue
                    buckets = [b for b in range(32) if not (lang == "amh" and b % 5 == 0)]
                    nq = 0
                    for b in buckets:
                        n = int(rng.integers(1, 6)) * (1 if level == 0 else 3)
                        nq += n
                        hits = rng.integers(0, n + 1, size=3)
                        rows.append([corpus, enc, lang, level, b, float(n), float(rng.random() * n),
                                     float(rng.random() * n), *np.sort(hits).astype(float)])  # fmt: skip
                    for r in rows[len(rows) - len(buckets) :]:
                        r.append(nq // (1 if level == 0 else 3))
    return pd.DataFrame(rows, columns=["corpus", "encoder", "lang", "level", "bucket", "n", "sum_rr", "sum_rr10",
                                       "hits1", "hits5", "hits10", "n_queries"]).astype({"bucket": "int16"})  # fmt: skip


@pytest.mark.parametrize("facets", [None, {"amh": "low", "xho": "low", "swh": "mid", "deu": "high"},
                                    {"amh": "all", "xho": "all", "swh": "all", "deu": "all"}])  # fmt: skip
def test_curves_from_stats_equal_the_group_by_reference_bitwise(facets):
    stats = irregular_stats(1)
    for metric in ("mrr", "recall@5"):
        got = analysis.curves_from_stats(stats, metric, facets, n_boot=300, seed=4)
        want = reference_curves(stats, metric, facets, n_boot=300, seed=4)
        # Bitwise on most CPUs; on some (an AMD EPYC here) numpy's SIMD sums round one bootstrap quantile in
        # the last bit (3e-16) differently between the two groupings, so equal to 1e-15 relative.
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-15, atol=0, check_dtype=False)
        assert got["low"].notna().all() and (got["low"] < got["high"]).any()


def test_pairwise_from_stats_equals_the_group_by_reference():
    stats = irregular_stats(2)
    for a, b in (("e5", "muse3"), ("muse3", "minilm")):
        got = analysis.pairwise_from_stats(stats, "mrr@10", a, b, n_perm=500, seed=1)
        want = reference_pairwise(stats, "mrr@10", a, b, n_perm=500, seed=1)
        pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)
        assert (got["p"] == want["p"]).all() and (got["mark"] == want["mark"]).all()
    assert analysis.pairwise_from_stats(stats, "mrr", "e5", "nope").empty
