"""Every write to the results database. Each function is one short transaction."""

from __future__ import annotations

import duckdb
import pandas as pd

from core.store._exec import _exec, transaction
from core.store.schema import CELL_KEY, LEVEL_KEY, level_stats_select, stats_select


def _insert_missing(
    conn: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame, key: tuple[str, ...]
) -> int:
    # ``table`` and ``key`` come from the constants in this module, never from user input.
    if df.empty:
        return 0
    conn.register("_incoming", df)
    try:
        cond = " AND ".join(f"t.{k} = i.{k}" for k in key)
        cols = ", ".join(df.columns)
        before = conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        _exec(
            conn,
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {cond})",
        )
        return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before
    finally:
        conn.unregister("_incoming")


def record_run_start(conn: duckdb.DuckDBPyConnection, run: dict) -> None:
    """Insert a ``runs`` row with status 'running' (``run`` holds the ``runs`` columns but started_at,
    finished_at and status; ``pid``, ``pid_start`` and ``cache_dir`` may be left out: NULL)."""
    _exec(
        conn,
        "INSERT INTO runs (run_id, started_at, status, grid_toml, grid_json, versions_json, host, argv, pid, "
        "pid_start, cache_dir) VALUES ($run_id, now(), 'running', $grid_toml, $grid_json, $versions_json, "
        "$host, $argv, $pid, $pid_start, $cache_dir)",
        {"pid": None, "pid_start": None, "cache_dir": None, **run},
    )


def record_run_end(conn: duckdb.DuckDBPyConnection, run_id: str, status: str) -> None:
    """Mark a run finished ('done', 'failed' or 'interrupted')."""
    _exec(conn, "UPDATE runs SET finished_at = now(), status = ? WHERE run_id = ?", [status, run_id])


def running_runs(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The runs still marked 'running': run_id, host, pid, pid_start (what :func:`core.jobs.run_is_dead`
    needs to tell whether their process is gone)."""
    return conn.execute(
        "SELECT run_id, host, pid, pid_start FROM runs WHERE status = 'running' ORDER BY started_at"
    ).df()


def mark_interrupted(conn: duckdb.DuckDBPyConnection, run_ids: list[str]) -> int:
    """Mark runs whose process died without marking them (killed with SIGKILL, a lost machine)
    'interrupted', in one transaction; only rows still 'running' change. ``finished_at`` stays NULL: when
    the process died is not known. Returns how many rows changed."""
    if not run_ids:
        return 0
    ph = ", ".join("?" * len(run_ids))
    with transaction(conn):
        n = conn.execute(
            f"SELECT count(*) FROM runs WHERE status = 'running' AND run_id IN ({ph})", list(run_ids)
        ).fetchall()[0][0]
        _exec(conn, f"UPDATE runs SET status = 'interrupted' WHERE status = 'running' AND run_id IN ({ph})",
              list(run_ids))  # fmt: skip
    return n


def record_encoder(
    conn: duckdb.DuckDBPyConnection, encoder: str, fingerprint: str, spec_json: str, run_id: str, seen: dict
) -> None:
    """Remember an encoder's spec and, per language, whether it was seen in training (None: unknown)."""
    langs = pd.DataFrame({"lang": list(seen), "seen_in_training": list(seen.values())})
    langs.insert(0, "encoder", encoder)
    langs.insert(1, "fingerprint", fingerprint)
    with transaction(conn):
        _exec(
            conn,
            "INSERT INTO encoders SELECT ?, ?, ?, ? WHERE NOT EXISTS "
            "(SELECT 1 FROM encoders WHERE encoder = ? AND fingerprint = ?)",
            [encoder, fingerprint, spec_json, run_id, encoder, fingerprint],
        )
        _insert_missing(conn, "encoder_languages", langs, ("encoder", "fingerprint", "lang"))


def store_inputs(
    conn: duckdb.DuckDBPyConnection, queries: pd.DataFrame, documents: pd.DataFrame, gold: pd.DataFrame
) -> None:
    """Insert clean queries, corpus documents and gold links that are not stored yet, in one transaction."""
    with transaction(conn):
        _insert_missing(conn, "queries", queries, ("dataset", "lang", "qid"))
        _insert_missing(conn, "documents", documents, ("corpus", "doc_id"))
        _insert_missing(conn, "gold", gold, ("corpus", "lang", "qid"))


def completed_cells(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Key columns, encoder fingerprint, query count, data fingerprint and noise version of every cell.

    ``data_fingerprint`` and ``noise_version`` are NULL for cells stored before schema v3 (legacy).
    """
    return conn.execute(
        f"SELECT {', '.join(CELL_KEY)}, fingerprint, n_queries, data_fingerprint, noise_version FROM cells"
    ).df()


def stored_queries_and_gold(
    conn: duckdb.DuckDBPyConnection, dataset: str, lang: str, corpus: str
) -> tuple[dict[int, str], dict[int, int]]:
    """What the database holds for one task's queries: (qid -> query text, qid -> gold doc_id).

    The corpus's documents come from :func:`core.store.queries.documents`.
    """
    queries = conn.execute(
        "SELECT qid, text FROM queries WHERE dataset = ? AND lang = ?", [dataset, lang]
    ).fetchall()
    gold = conn.execute(
        "SELECT qid, doc_id FROM gold WHERE corpus = ? AND lang = ?", [corpus, lang]
    ).fetchall()
    return dict(queries), dict(gold)


def delete_changed(
    conn: duckdb.DuckDBPyConnection, dataset: str, langs: list[str], corpora: list[str]
) -> int:
    """Delete, in one transaction, everything derived from inputs that changed; return the cells deleted.

    For each of ``langs``: its cells, rank rows and their aggregates (``cell_stats`` and ``level_stats``, every
    corpus), noisy queries, clean
    queries and gold links; for each of ``corpora``: its documents, and every cell, rank row and aggregate
    ranked against it. The caller then stores the new inputs and recomputes, so stored texts and cells agree
    again.
    """
    langs, corpora = list(langs), list(corpora)
    lang_ph, corpus_ph = ", ".join("?" * len(langs)) or "NULL", ", ".join("?" * len(corpora)) or "NULL"
    cond = f"dataset = ? AND (lang IN ({lang_ph}) OR corpus IN ({corpus_ph}))"
    params = [dataset, *langs, *corpora]
    with transaction(conn):
        n = conn.execute(f"SELECT count(*) FROM cells WHERE {cond}", params).fetchall()[0][0]
        for table in ("ranks", "cell_stats", "level_stats", "cells"):
            _exec(conn, f"DELETE FROM {table} WHERE {cond}", params)
        for table in ("noisy_queries", "queries"):
            _exec(conn, f"DELETE FROM {table} WHERE dataset = ? AND lang IN ({lang_ph})", [dataset, *langs])
        _exec(conn, f"DELETE FROM gold WHERE {cond}", params)
        _exec(conn, f"DELETE FROM documents WHERE corpus IN ({corpus_ph})", corpora)
    return n


def write_cells(
    conn: duckdb.DuckDBPyConnection, cells: pd.DataFrame, ranks: pd.DataFrame, noisy: pd.DataFrame
) -> None:
    """Store finished cells with their rank rows and noisy queries atomically.

    A cell row, its rank rows and its aggregates (``cell_stats``, computed here from those rank rows, and the
    ``level_stats`` of its (cell key but seed) group, recomputed from ``cell_stats``) land in the same
    transaction, so after a crash a cell is either complete or absent, and its aggregates always equal a
    recomputation from the rank rows. A cell already stored under the same key is replaced (rows and
    aggregates): the runner decides beforehand which replacements are allowed (it refuses another model's
    cells unless told to replace them). Noisy queries are written as computed now (replacing a stored row of
    the same key), so they agree with these cells.
    """
    noisy_key = ["dataset", "lang", "noise", "level", "seed", "qid"]
    if not noisy.empty:
        noisy = noisy.drop_duplicates(noisy_key)
    with transaction(conn):
        conn.register("_cells", cells)
        cond = " AND ".join(f"t.{k} = c.{k}" for k in CELL_KEY)
        # Only a replacement needs a DELETE; checking the (small) cells table first keeps a flush from
        # scanning the whole ranks table, so writing stays linear in the number of cells of a run.
        n_old = conn.execute(f"SELECT count(*) FROM cells t JOIN _cells c ON {cond}").fetchall()[0][0]
        if n_old:
            for table in ("ranks", "cell_stats", "cells"):
                _exec(conn, f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM _cells c WHERE {cond})")
        conn.unregister("_cells")
        if not noisy.empty:
            conn.register("_noisy", noisy)
            cols = ", ".join(noisy.columns)
            _exec(conn, f"INSERT OR REPLACE INTO noisy_queries ({cols}) SELECT {cols} FROM _noisy")
            conn.unregister("_noisy")
        for table, df in (("ranks", ranks), ("cells", cells)):
            conn.register("_rows", df)
            _exec(conn, f"INSERT INTO {table} ({', '.join(df.columns)}) SELECT * FROM _rows")
            if table == "ranks" and not df.empty:
                # The cells' aggregates, from the very rows just stored, in the same transaction.
                _exec(conn, f"INSERT INTO cell_stats {stats_select('_rows')}")
            conn.unregister("_rows")
        _refresh_level_stats(conn, cells)


def _refresh_level_stats(conn: duckdb.DuckDBPyConnection, cells: pd.DataFrame) -> None:
    # Recompute (not increment) the seed sums of every group a cell was written to: a replaced cell's old
    # sums are gone with it, and the rows equal the backfill's definition exactly.
    groups = cells[list(LEVEL_KEY)].drop_duplicates()
    if groups.empty:
        return
    conn.register("_groups", groups)
    try:
        match = " AND ".join(f"g.{k} = x.{k}" for k in LEVEL_KEY)
        _exec(conn, f"DELETE FROM level_stats x WHERE EXISTS (SELECT 1 FROM _groups g WHERE {match})")
        where = f"WHERE EXISTS (SELECT 1 FROM _groups g WHERE {match})"
        _exec(conn, f"INSERT INTO level_stats {level_stats_select(where)}")
    finally:
        conn.unregister("_groups")


def write_findings(conn: duckdb.DuckDBPyConnection, row: dict) -> None:
    """Store one research answer (``row``: the ``findings`` columns but computed_at), replacing the one
    stored under the same (dataset, mode, corpus, params_json), in one transaction."""
    with transaction(conn):
        _exec(
            conn,
            "DELETE FROM findings WHERE dataset = $dataset AND mode = $mode AND corpus = $corpus "
            "AND params_json = $params_json",
            {k: row[k] for k in ("dataset", "mode", "corpus", "params_json")},
        )
        _exec(
            conn,
            "INSERT INTO findings (dataset, mode, corpus, params_json, ranks_key, code_version, computed_at, "
            "seconds, payload_json) VALUES ($dataset, $mode, $corpus, $params_json, $ranks_key, "
            "$code_version, now(), $seconds, $payload_json)",
            row,
        )
