"""Statement execution that always drains its result, and the one transaction helper."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb


def _exec(conn: duckdb.DuckDBPyConnection, sql: str, params=None) -> list:
    # DuckDB 2 refuses new work on a connection whose last result was not fetched; draining it here keeps
    # every write statement self-contained.
    cur = conn.execute(sql, params) if params is not None else conn.execute(sql)
    try:
        return cur.fetchall()
    except duckdb.Error:
        return []


@contextlib.contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the ``with`` block as one transaction: committed when it ends, rolled back on any exception.

    Guarantees all or nothing: an error inside the block (KeyboardInterrupt included) or at COMMIT leaves
    the database as it was before, and the original error propagates (a failing ROLLBACK never masks it).
    """
    _exec(conn, "BEGIN TRANSACTION")
    try:
        yield conn
        _exec(conn, "COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT may have ended the transaction already
            _exec(conn, "ROLLBACK")
        raise
