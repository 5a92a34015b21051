"""Schema, migrations and connection behaviour on real DuckDB files."""

import duckdb
import pytest

from core.errors import StoreError
from core.store import SCHEMA_VERSION, connect
from core.store.schema import MIGRATIONS, m001_initial

EXPECTED = {
    "schema_migrations", "runs", "encoders", "queries", "documents", "gold", "noisy_queries", "cells", "ranks",
    "encoder_languages", "findings", "cell_stats", "level_stats",
}  # fmt: skip


def _tables(conn):
    return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def test_blank_database_gets_the_exact_schema(tmp_path):
    db = tmp_path / "x.duckdb"
    with connect(db) as conn:
        assert _tables(conn) == EXPECTED
        cols = [r[0] for r in conn.execute("DESCRIBE ranks").fetchall()]
        for col in (
            "dataset",
            "mode",
            "lang",
            "encoder",
            "noise",
            "level",
            "seed",
            "qid",
            "rank",
            "n_docs",
            "query_noisy",
        ):
            assert col in cols
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0] == SCHEMA_VERSION
    with connect(db) as conn:  # idempotent
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchall()[0][0] == len(MIGRATIONS)


def test_upgrade_from_v1_keeps_rows(tmp_path):
    db = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(db))
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    m001_initial(conn)
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'm001_initial', now())")
    conn.execute("INSERT INTO queries VALUES ('tatoeba', 'amh', 0, 'ሰላም')")
    conn.close()
    with pytest.raises(StoreError, match="older than"), connect(db, read_only=True):
        pass
    with connect(db) as conn:
        assert "encoder_languages" in _tables(conn)
        assert conn.execute("SELECT text FROM queries").fetchall() == [("ሰላም",)]


def test_v3_database_opens_for_readers_and_migrates_to_findings_keeping_every_row(tmp_path):
    from core.findings import findings_answer, stored_findings
    from core.store import queries as q
    from core.store.schema import READABLE_FROM, verify

    db = tmp_path / "v3.duckdb"
    conn = duckdb.connect(str(db))
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    for number, fn in enumerate(MIGRATIONS[:3], start=1):
        fn(conn)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, fn.__name__])
    conn.execute("INSERT INTO queries VALUES ('tatoeba', 'deu', 0, 'Hallo'), ('tatoeba', 'deu', 1, 'Welt')")
    conn.execute("INSERT INTO cells (dataset, mode, corpus, lang, encoder, noise, level, seed, n_queries) "
                 "VALUES ('tatoeba', 'pair', 'c', 'deu', 'e', 'none', 0, 0, 2)")  # fmt: skip
    conn.execute("INSERT INTO ranks (dataset, mode, corpus, lang, encoder, noise, level, seed, qid, rank) VALUES "
                 "('tatoeba', 'pair', 'c', 'deu', 'e', 'none', 0, 0, 0, 1), "
                 "('tatoeba', 'pair', 'c', 'deu', 'e', 'none', 0, 0, 1, 2)")  # fmt: skip
    before = verify(conn)
    conn.close()
    assert READABLE_FROM == 3
    # A reader (the dashboard) opens it as is: no stored answer, the answer is computed from the rows.
    with connect(db, read_only=True) as conn:
        assert stored_findings(conn, "tatoeba", "pair") is None
        rows = q.rank_rows(conn, ["corpus", "encoder", "lang", "noise", "level", "qid", "rank"])
    answer, groups = findings_answer(rows)
    assert groups["high"] == ["deu"]
    assert answer.robustness.set_index(["encoder", "group"]).loc[("e", "high"), "clean"] == pytest.approx(
        0.75
    )
    with connect(db) as conn:  # a writer migrates
        after = verify(conn)
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0] == SCHEMA_VERSION
        assert [r[0] for r in conn.execute("DESCRIBE findings").fetchall()] == [
            "dataset", "mode", "corpus", "params_json", "ranks_key", "code_version", "computed_at", "seconds",
            "payload_json",
        ]  # fmt: skip
    # Every row kept, three migrations added; m005 backfilled the aggregates of the 2 rows (2 query buckets)
    # and m006 their sum over seeds (one row for the one (cell key but seed) group).
    assert after == {**before, "findings": 0, "cell_stats": 2, "level_stats": 1,
                     "schema_migrations": len(MIGRATIONS)}  # fmt: skip


def test_foreign_corrupt_newer_and_missing_databases(tmp_path):
    foreign = tmp_path / "foreign.duckdb"
    c = duckdb.connect(str(foreign))
    c.execute("CREATE TABLE ranks (x INTEGER)")
    c.close()
    with pytest.raises(StoreError, match="no schema version"), connect(foreign):
        pass
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a database" * 100)
    before = junk.read_bytes()
    with pytest.raises(StoreError, match="unreadable"), connect(junk):
        pass
    assert junk.read_bytes() == before
    newer = tmp_path / "newer.duckdb"
    with connect(newer) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', now())")
    with pytest.raises(StoreError, match="newer"), connect(newer):
        pass
    with (
        pytest.raises(StoreError, match="does not exist"),
        connect(tmp_path / "missing.duckdb", read_only=True),
    ):
        pass


def test_reader_waits_for_writer(tmp_path):
    import time

    db = tmp_path / "w.duckdb"
    with connect(db):
        pass
    # DuckDB refuses a second process while one writes; within one process it shares. So use a subprocess.
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(1.5)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "ok"
    t0 = time.monotonic()
    with connect(db, read_only=True, timeout=20) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchall()[0][0] == 0
    assert time.monotonic() - t0 > 0.5, "the reader waited for the writer instead of failing"
    holder.wait()


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_transaction_rolls_back_on_any_error_and_commits_otherwise(tmp_path, error):
    from core.store._exec import transaction

    with connect(tmp_path / "t.duckdb") as conn:
        with transaction(conn):
            conn.execute("INSERT INTO queries VALUES ('d', 'amh', 1, 'kept')").fetchall()
        with pytest.raises(error), transaction(conn):
            conn.execute("INSERT INTO queries VALUES ('d', 'amh', 2, 'rolled back')").fetchall()
            raise error
        with pytest.raises(duckdb.Error), transaction(conn):  # a failing statement: the first row goes too
            conn.execute("INSERT INTO queries VALUES ('d', 'amh', 3, 'rolled back')").fetchall()
            conn.execute("INSERT INTO queries VALUES ('d', 'amh', 1, 'duplicate key')").fetchall()
        assert conn.execute("SELECT qid, text FROM queries").fetchall() == [(1, "kept")]
