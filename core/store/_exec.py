"""Statement execution that always drains its result."""

from __future__ import annotations

import duckdb


def _exec(conn: duckdb.DuckDBPyConnection, sql: str, params=None) -> list:
    # DuckDB 2 refuses new work on a connection whose last result was not fetched; draining it here keeps
    # every write statement self-contained.
    cur = conn.execute(sql, params) if params is not None else conn.execute(sql)
    try:
        return cur.fetchall()
    except duckdb.Error:
        return []
