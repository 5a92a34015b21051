"""The one way to open the results database.

DuckDB lets one process write *or* many processes read a file, never both at once. Writers (precompute)
and readers (dashboard) therefore hold connections only for short transactions, and both retry while the
other holds the lock, so neither ever shows a lock error to a user unless the wait exceeds ``timeout``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.errors import StoreError

log = logging.getLogger(__name__)


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "resource temporarily unavailable" in text


@contextmanager
def connect(
    path: str | Path, *, read_only: bool = False, timeout: float = 60.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` and always close it; wait (with jittered backoff) while another process holds it.

    A writer connection brings the schema up to date (:func:`core.store.schema.migrate`); a reader checks
    that the schema is one this code understands.

    Raises:
        StoreError: the file is missing (read-only), not a DuckDB database, of an unknown or newer schema,
            or still locked after ``timeout`` seconds.
    """
    from core.store.schema import check_schema, migrate

    path = Path(path)
    if read_only and not path.is_file():
        raise StoreError(f"database {str(path)!r} does not exist; run `python -m precompute run` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline, delay = time.monotonic() + timeout, 0.02
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error as exc:
            if _is_lock_error(exc) and time.monotonic() < deadline:
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 1.6, 0.5)
                continue
            if _is_lock_error(exc):
                raise StoreError(f"database {str(path)!r} stayed locked for {timeout:.0f}s: {exc}") from exc
            raise StoreError(f"database {str(path)!r} is unreadable: {str(exc).splitlines()[0]}") from exc
    try:
        if read_only:
            check_schema(conn, path)
        else:
            migrate(conn, path)
        yield conn
    finally:
        conn.close()
