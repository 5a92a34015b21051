"""Every write to the results database. Each function is one short transaction."""

from __future__ import annotations

import duckdb
import pandas as pd

from core.store._exec import _exec
from core.store.schema import CELL_KEY


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
    """Insert a ``runs`` row with status 'running' (``run`` holds the ``runs`` columns but finished_at)."""
    _exec(
        conn,
        "INSERT INTO runs (run_id, started_at, status, grid_toml, grid_json, versions_json, host, argv) "
        "VALUES ($run_id, now(), 'running', $grid_toml, $grid_json, $versions_json, $host, $argv)",
        run,
    )


def record_run_end(conn: duckdb.DuckDBPyConnection, run_id: str, status: str) -> None:
    """Mark a run finished ('done', 'failed' or 'interrupted')."""
    _exec(conn, "UPDATE runs SET finished_at = now(), status = ? WHERE run_id = ?", [status, run_id])


def record_encoder(
    conn: duckdb.DuckDBPyConnection, encoder: str, fingerprint: str, spec_json: str, run_id: str, seen: dict
) -> None:
    """Remember an encoder's spec and, per language, whether it was seen in training (None: unknown)."""
    _exec(conn, "BEGIN TRANSACTION")
    _exec(
        conn,
        "INSERT INTO encoders SELECT ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM encoders WHERE encoder = ? AND fingerprint = ?)",
        [encoder, fingerprint, spec_json, run_id, encoder, fingerprint],
    )
    df = pd.DataFrame(
        {
            "encoder": encoder,
            "fingerprint": fingerprint,
            "lang": list(seen),
            "seen_in_training": list(seen.values()),
        }
    )
    _insert_missing(conn, "encoder_languages", df, ("encoder", "fingerprint", "lang"))
    _exec(conn, "COMMIT")


def store_inputs(
    conn: duckdb.DuckDBPyConnection, queries: pd.DataFrame, documents: pd.DataFrame, gold: pd.DataFrame
) -> None:
    """Insert clean queries, corpus documents and gold links that are not stored yet, in one transaction."""
    _exec(conn, "BEGIN TRANSACTION")
    _insert_missing(conn, "queries", queries, ("dataset", "lang", "qid"))
    _insert_missing(conn, "documents", documents, ("corpus", "doc_id"))
    _insert_missing(conn, "gold", gold, ("corpus", "lang", "qid"))
    _exec(conn, "COMMIT")


def completed_cells(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Key columns, encoder fingerprint and query count of every completed cell."""
    return conn.execute(f"SELECT {', '.join(CELL_KEY)}, fingerprint, n_queries FROM cells").df()


def write_cells(
    conn: duckdb.DuckDBPyConnection, cells: pd.DataFrame, ranks: pd.DataFrame, noisy: pd.DataFrame
) -> None:
    """Store finished cells with their rank rows and noisy queries atomically.

    A cell row and its rank rows land in the same transaction, so after a crash a cell is either complete
    or absent. A cell already stored with another encoder fingerprint (a retrained model) is replaced.
    """
    _exec(conn, "BEGIN TRANSACTION")
    try:
        conn.register("_cells", cells)
        cond = " AND ".join(f"t.{k} = c.{k}" for k in CELL_KEY)
        for table in ("ranks", "cells"):
            _exec(conn, f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM _cells c WHERE {cond})")
        conn.unregister("_cells")
        _insert_missing(conn, "noisy_queries", noisy, ("dataset", "lang", "noise", "level", "seed", "qid"))
        for table, df in (("ranks", ranks), ("cells", cells)):
            conn.register("_rows", df)
            _exec(conn, f"INSERT INTO {table} ({', '.join(df.columns)}) SELECT * FROM _rows")
            conn.unregister("_rows")
        _exec(conn, "COMMIT")
    except Exception:
        _exec(conn, "ROLLBACK")
        raise
