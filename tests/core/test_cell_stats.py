"""Per-cell aggregates (``cell_stats``, schema v5): the m005 backfill of an older database, readers of a
v4 database opened read-only, and the bucket bootstrap and tests against their per-query counterparts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.metrics import (
    cluster_bands,
    cluster_bands_batch,
    paired_randomization_test,
    paired_randomization_tests,
)
from core.store import connect
from core.store import queries as q
from core.store._exec import _exec, transaction
from core.store.schema import CELL_KEY, MIGRATIONS, SCHEMA_VERSION, STATS_BUCKETS, schema_version
from dashboard import analysis


def recompute(rows: pd.DataFrame) -> pd.DataFrame:
    """``cell_stats`` recomputed in pandas from rank rows (independent of the SQL that stores them)."""
    r = rows.copy()
    r["bucket"] = ((r["qid"].astype("int64") * 2654435761) % 2**32) % STATS_BUCKETS
    r["rr"] = 1.0 / r["rank"]
    r["rr10"] = np.where(r["rank"] <= 10, r["rr"], 0.0)
    for k in (1, 5, 10):
        r[f"hits{k}"] = (r["rank"] <= k).astype(int)
    out = r.groupby([*CELL_KEY, "bucket"], as_index=False).agg(
        n=("qid", "size"), sum_rr=("rr", "sum"), sum_rr10=("rr10", "sum"), hits1=("hits1", "sum"),
        hits5=("hits5", "sum"), hits10=("hits10", "sum"))  # fmt: skip
    return out.sort_values([*CELL_KEY, "bucket"]).reset_index(drop=True)


def assert_stats_equal(stored: pd.DataFrame, rows: pd.DataFrame) -> None:
    """The stored aggregates hold exactly the cells and buckets of ``rows``, with equal counts and sums."""
    want = recompute(rows)
    got = stored.sort_values([*CELL_KEY, "bucket"]).reset_index(drop=True)
    assert len(got) == len(want) > 0
    for col in (*CELL_KEY, "bucket", "n", "hits1", "hits5", "hits10"):
        assert got[col].astype(str).tolist() == want[col].astype(str).tolist(), col
    for col in ("sum_rr", "sum_rr10"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12)


def synthetic_rows(seed: int = 0) -> pd.DataFrame:
    """Rank rows of 2 languages x 2 encoders x (clean + 2 levels x 2 seeds) x 70 queries, seeded."""
    rng = np.random.default_rng(seed)
    conds = [("none", 0.0, 0)] + [("delete", lv, s) for lv in (0.1, 0.2) for s in (0, 1)]
    rows = []
    for lang in ("amh", "deu"):
        for enc in ("a", "b"):
            for noise, level, s in conds:
                for qid in range(70):
                    rank = int(rng.choice([1, 1, 2, 3, 7, 12, 60]))
                    rows.append(("t", "pair", f"t/pair/{lang}", lang, enc, noise, level, s, qid, rank, 70,
                                 0.5, [qid, 1, 2], [0.9, 0.8, 0.7], "text", "r"))  # fmt: skip
    return pd.DataFrame(rows, columns=[*CELL_KEY, "qid", "rank", "n_docs", "score_gold", "top_ids", "top_scores",
                                       "query_noisy", "run_id"])  # fmt: skip


def make_version(path, rows: pd.DataFrame, version: int) -> None:
    """A database at schema ``version`` (migrations 1..version, as an older release wrote it) holding
    ``rows`` and their cells (``cell_stats``, when version >= 5, backfilled by m005 itself)."""
    import duckdb

    conn = duckdb.connect(str(path))
    _exec(
        conn,
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)",
    )
    for number, fn in enumerate(MIGRATIONS[:4], start=1):
        with transaction(conn):
            fn(conn)
            _exec(conn, "INSERT INTO schema_migrations VALUES (?, ?, now())", [number, fn.__name__])
    conn.register("r", rows)
    _exec(conn, "INSERT INTO ranks SELECT * FROM r")
    cells = rows.groupby(list(CELL_KEY), as_index=False).size()
    conn.register("c", cells)
    _exec(conn, f"INSERT INTO cells ({', '.join(CELL_KEY)}, n_queries, n_docs, completed_at) "
                f"SELECT {', '.join(CELL_KEY)}, size, 70, now() FROM c")  # fmt: skip
    for number, fn in enumerate(MIGRATIONS[4:version], start=5):
        with transaction(conn):
            fn(conn)
            _exec(conn, "INSERT INTO schema_migrations VALUES (?, ?, now())", [number, fn.__name__])
    conn.close()


def test_v4_database_reads_the_same_read_only_and_migrates_with_backfill(tmp_path):
    rows = synthetic_rows()
    old, new = tmp_path / "v4.duckdb", tmp_path / "v5.duckdb"
    make_version(old, rows, 4)
    make_version(new, rows, 4)
    args = ("t", "pair", "delete", ["a", "b"], ["amh", "deu"], [0, 1])
    with connect(old, read_only=True) as conn:  # readers of an unmigrated file: computed from ranks
        assert schema_version(conn) == 4
        v4_curve, v4_summary, v4_stats = q.curve_stats(conn, *args), q.summary(conn), q.cell_stats(conn)
    with connect(new) as conn:  # a writer migrates: m005 backfills from ranks
        assert schema_version(conn) == SCHEMA_VERSION
        assert_stats_equal(conn.execute("SELECT * FROM cell_stats").df(), rows)
    with connect(new, read_only=True) as conn:
        pd.testing.assert_frame_equal(q.curve_stats(conn, *args), v4_curve, check_dtype=False)
        pd.testing.assert_frame_equal(q.summary(conn), v4_summary, check_dtype=False)
        pd.testing.assert_frame_equal(q.cell_stats(conn), v4_stats, check_dtype=False)
    # The summary from aggregates equals the per-row SQL it replaced.
    s = v4_summary.set_index(["encoder", "lang", "noise", "level"])
    for (enc, lang, noise, level), part in rows.groupby(["encoder", "lang", "noise", "level"]):
        assert s.loc[(enc, lang, noise, level), "mrr"] == pytest.approx(
            (1.0 / part["rank"]).mean(), abs=1e-12
        )
        assert s.loc[(enc, lang, noise, level), "acc1"] == pytest.approx(
            (part["rank"] == 1).mean(), abs=1e-12
        )
        assert s.loc[(enc, lang, noise, level), "n"] == 70


def test_curves_and_pairwise_from_stats_equal_the_per_query_values(tmp_path):
    rows = synthetic_rows(seed=3)
    db = tmp_path / "v5.duckdb"
    make_version(db, rows, 4)
    args = ("t", "pair", "delete", ["a", "b"], ["amh", "deu"], [0, 1])
    with connect(db) as conn:
        stats, ranks = q.curve_stats(conn, *args), q.curve_ranks(conn, *args)
    for metric in ("mrr", "mrr@10", "recall@1", "recall@5", "recall@10"):
        values = analysis.per_query_values(ranks, metric)
        exact = analysis.curves(values, {"amh": "low", "deu": "high"}, n_boot=50)
        fast = analysis.curves_from_stats(stats, metric, {"amh": "low", "deu": "high"}, n_boot=200)
        key = ["encoder", "facet", "level"]
        m = exact.merge(fast, on=key, suffixes=("_q", "_b"))
        assert len(m) == len(exact) == len(fast) == 2 * 2 * 3
        np.testing.assert_allclose(m["value_b"], m["value_q"], atol=1e-12)
        np.testing.assert_allclose(m["rel_b"], m["rel_q"], atol=1e-12)
        assert (m["n_b"] == m["n_q"]).all()
        assert (m["low_b"] <= m["high_b"] + 1e-12).all()
        noisy = m[m["level"] > 0]
        assert (noisy["low_b"] < noisy["value_b"]).any() and (noisy["high_b"] > noisy["value_b"]).any()
        pw_q = analysis.pairwise(values, "a", "b", n_perm=200)
        pw_b = analysis.pairwise_from_stats(stats, "mrr" if metric == "mrr" else metric, "a", "b", n_perm=200)
        m = pw_q.merge(pw_b, on=["level", "lang"], suffixes=("_q", "_b"))
        assert len(m) == len(pw_q) == 2 * 3
        np.testing.assert_allclose(m["delta_b"], m["delta_q"], atol=1e-12)
        assert (m["n_b"] == m["n_q"]).all()
        assert ((m["p_b"] > 0) & (m["p_b"] <= 1)).all()
    with pytest.raises(Exception, match="metric"):
        analysis.curves_from_stats(stats, "ndcg")


def test_cluster_bands_point_is_the_query_mean_and_bands_cover_it():
    rng = np.random.default_rng(1)
    x = rng.random((640, 3))  # 640 queries, 3 levels
    bucket = np.arange(640) % 32
    s = np.stack([x[bucket == b].sum(0) for b in range(32)])
    c = np.stack([np.full(3, (bucket == b).sum()) for b in range(32)])
    b = cluster_bands(s, c, [0.0, 0.1, 0.2], n_boot=500, seed=0)
    np.testing.assert_allclose(b.value, x.mean(0), atol=1e-12)
    assert (b.low < b.value).all() and (b.value < b.high).all()
    width = b.high - b.low  # about 4 standard errors of a mean of 640 uniforms (sd 0.29)
    assert ((width > 0.02) & (width < 0.08)).all()
    again = cluster_bands(s, c, [0.0, 0.1, 0.2], n_boot=500, seed=0)
    assert (again.low == b.low).all()
    one = cluster_bands(s[:1], c[:1], [0.0, 0.1, 0.2], n_boot=500)
    assert (one.low == one.value).all()


def test_batched_randomization_tests_equal_the_single_test():
    rng = np.random.default_rng(2)
    ds = [rng.normal(0.1 * i, 1, size=n) for i, n in enumerate([32, 32, 5, 32, 0, 31])] + [np.zeros(4)]
    got = paired_randomization_tests(ds, n_perm=300, seed=4)
    want = [paired_randomization_test(d, n_perm=300, seed=4) for d in ds]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_batched_cluster_bands_equal_one_curve_at_a_time():
    rng = np.random.default_rng(5)
    c = rng.integers(0, 40, size=(3, 32, 4)).astype(float)
    s = c * rng.random((3, 32, 4))
    c[2, :, 3], s[2, :, 3] = 0, 0  # one curve with no query at its last level: NaN there, as alone
    levels = [0.0, 0.1, 0.2, 0.3]
    batch = cluster_bands_batch(s, c, levels, n_boot=300, seed=2)
    for i in range(3):
        one = cluster_bands(s[i], c[i], levels, n_boot=300, seed=2)
        for field in ("value", "low", "high", "rel", "rel_low", "rel_high", "n"):
            np.testing.assert_allclose(
                getattr(batch[i], field), getattr(one, field), atol=1e-12, equal_nan=True
            )
    assert np.isnan(batch[2].value[3]) and np.isfinite(batch[1].value).all()
