"""Per-level aggregates (``level_stats``, schema v6): ``cell_stats`` summed over seeds, one list element per
query bucket. They must equal a recomputation from ``ranks`` after the backfill and after every write path,
and the Curves read (``queries.curve_stats``) must return the same rows from them as by summing
``cell_stats`` (or ``ranks``) over the chosen seeds, falling back whenever a stored seed is not chosen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_cell_stats import make_version, recompute, synthetic_rows

from core.store import connect
from core.store import queries as q
from core.store import writes as w
from core.store.schema import CELL_KEY, LEVEL_KEY, SCHEMA_VERSION, schema_version

SUMS = ("n", "sum_rr", "sum_rr10", "hits1", "hits5", "hits10")


def recompute_levels(rows: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """``level_stats`` recomputed in pandas from rank rows and cell rows (independent of the SQL)."""
    per_bucket = recompute(rows).groupby([*LEVEL_KEY, "bucket"], as_index=False)[list(SUMS)].sum()
    lists = per_bucket.groupby(list(LEVEL_KEY)).agg(**{c: (c, list) for c in ("bucket", *SUMS)})
    groups = cells.groupby(list(LEVEL_KEY)).agg(seeds=("seed", lambda s: sorted(s)),
                                                n_queries=("n_queries", "max"))  # fmt: skip
    return lists.join(groups, how="inner").reset_index().sort_values(list(LEVEL_KEY)).reset_index(drop=True)


def assert_level_stats_equal(conn) -> None:
    """The stored ``level_stats`` equal :func:`recompute_levels` of the stored ``ranks`` and ``cells``."""
    stored = (
        conn.execute("SELECT * FROM level_stats").df().sort_values(list(LEVEL_KEY)).reset_index(drop=True)
    )
    want = recompute_levels(
        conn.execute("SELECT * FROM ranks").df(), conn.execute("SELECT * FROM cells").df()
    )
    assert len(stored) == len(want) > 0
    for col in (*LEVEL_KEY, "n_queries"):
        assert stored[col].astype(str).tolist() == want[col].astype(str).tolist(), col
    for col in ("seeds", "bucket", "n", "hits1", "hits5", "hits10"):
        assert [list(map(int, x)) for x in stored[col]] == [list(map(int, x)) for x in want[col]], col
    for col in ("sum_rr", "sum_rr10"):
        for got, exp in zip(stored[col], want[col]):
            np.testing.assert_allclose(np.asarray(got, float), np.asarray(exp, float), rtol=1e-12)


def sql_curve(rows: pd.DataFrame, noise: str, seeds: list[int]) -> pd.DataFrame:
    """What ``curve_stats`` must return, from rank rows in pandas: clean rows plus ``noise`` at ``seeds``."""
    sel = rows[(rows["noise"] == "none") | ((rows["noise"] == noise) & rows["seed"].isin(seeds))]
    return (
        recompute(sel)
        .groupby(["corpus", "encoder", "lang", "level", "bucket"], as_index=False)[list(SUMS)]
        .sum()
    )


def compare(got: pd.DataFrame, want: pd.DataFrame) -> None:
    key = ["corpus", "encoder", "lang", "level", "bucket"]
    got, want = got.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True)
    assert len(got) == len(want) > 0
    for col in (*key, "n", "hits1", "hits5", "hits10"):
        assert (
            got[col].astype(float).astype(str).tolist() == want[col].astype(float).astype(str).tolist()
            if col not in ("corpus", "encoder", "lang")
            else got[col].tolist() == want[col].tolist()
        ), col
    for col in ("sum_rr", "sum_rr10"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12)


ARGS = ("t", "pair", "delete", ["a", "b"], ["amh", "deu"])


def test_backfill_equals_ranks_and_every_read_path_returns_the_same_rows(tmp_path):
    rows = synthetic_rows(seed=7)
    paths = {v: tmp_path / f"v{v}.duckdb" for v in (4, 5, 6)}
    for v, path in paths.items():
        make_version(path, rows, v)
    make_version(latest := tmp_path / "latest.duckdb", rows, 6)
    with connect(latest) as conn:  # already v6: the writer adds no level_stats row (m007 adds run columns)
        assert schema_version(conn) == SCHEMA_VERSION
        assert_level_stats_equal(conn)
    reads = {}
    for v in (4, 5, 6):  # v4/v5 opened read-only: computed from ranks / summed from cell_stats
        with connect(paths[v], read_only=True) as conn:
            assert schema_version(conn) == v
            assert (q._curve_stats_stored(conn, *ARGS, [0, 1], None) is not None) == (v == 6)
            reads[v] = {seeds: q.curve_stats(conn, *ARGS, list(seeds)) for seeds in ((0, 1), (1, 0, 5), (1,))}
    for seeds, got in reads[6].items():
        compare(got, sql_curve(rows, "delete", list(seeds)))
        for v in (4, 5):
            pd.testing.assert_frame_equal(got, reads[v][seeds], check_dtype=False, rtol=1e-12)
    # Only seed 1 chosen: seed 0's noisy rows must not be in the sums (level_stats holds both).
    noisy = reads[6][(1,)].query("level > 0")
    assert noisy["n"].sum() == len(rows.query("noise == 'delete' and seed == 1"))
    with connect(paths[4]) as conn:  # a writer migrates v4 -> v6: m005 then m006 backfill
        assert_level_stats_equal(conn)


def test_write_cells_keeps_level_stats_equal_to_ranks_through_adds_replacements_and_deletes(tmp_path):
    rows = synthetic_rows(seed=11)
    db = tmp_path / "w.duckdb"

    def cells_of(part: pd.DataFrame) -> pd.DataFrame:
        c = part.groupby(list(CELL_KEY), as_index=False).size().rename(columns={"size": "n_queries"})
        c["n_docs"], c["fingerprint"], c["run_id"] = 70, "fp", "r"
        return c

    with connect(db) as conn:
        # Seed 0 first, then seed 1 of the same groups: the second flush must re-sum each group.
        for seeds in ([0], [1]):
            part = rows[rows["seed"].isin(seeds)]
            w.write_cells(conn, cells_of(part), part, pd.DataFrame())
            assert_level_stats_equal(conn)
        before = conn.execute("SELECT sum(list_sum(sum_rr)) FROM level_stats WHERE lang = 'deu' AND noise = "
                              "'delete' AND level = 0.1").fetchall()[0][0]  # fmt: skip
        # A recomputed cell with other ranks replaces the stored one: the group's sums follow.
        part = rows.query("lang == 'deu' and noise == 'delete' and level == 0.1 and seed == 1").copy()
        part["rank"] = part["rank"] + 5
        w.write_cells(conn, cells_of(part), part, pd.DataFrame())
        assert_level_stats_equal(conn)
        after = conn.execute("SELECT sum(list_sum(sum_rr)) FROM level_stats WHERE lang = 'deu' AND noise = "
                             "'delete' AND level = 0.1").fetchall()[0][0]  # fmt: skip
        assert after < before
        assert w.delete_changed(conn, "t", ["amh"], []) > 0
        assert conn.execute("SELECT count(*) FROM level_stats WHERE lang = 'amh'").fetchall()[0][0] == 0
        assert_level_stats_equal(conn)
        # The read from level_stats equals the sums over the rank rows now stored.
        stored = conn.execute("SELECT * FROM ranks").df()
        compare(q.curve_stats(conn, *ARGS, [0, 1]), sql_curve(stored, "delete", [0, 1]))


def test_points_only_curves_equal_the_bootstrapped_values(tmp_path):
    from dashboard import analysis

    rows = synthetic_rows(seed=3)
    db = tmp_path / "v6.duckdb"
    make_version(db, rows, 6)
    with connect(db, read_only=True) as conn:
        stats = q.curve_stats(conn, *ARGS, [0, 1])
    full = analysis.curves_from_stats(stats, "mrr", n_boot=200)
    points = analysis.curves_from_stats(stats, "mrr", n_boot=0)
    for col in ("encoder", "facet", "level", "value", "rel", "n"):
        assert points[col].tolist() == full[col].tolist(), col
    assert points[["low", "high", "rel_low", "rel_high"]].isna().all().all()
    assert full[["low", "high"]].notna().all().all()
    with pytest.raises(Exception, match="metric"):
        analysis.curves_from_stats(stats, "ndcg", n_boot=0)
