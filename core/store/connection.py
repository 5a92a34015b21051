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

from core.errors import StoreError, is_disk_full, no_space_message

log = logging.getLogger(__name__)
# Never fetch or load code behind the user's back: a file of another format (SQLite, Postgres dump...) would
# otherwise make DuckDB try to download a scanner extension over the network.
DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "resource temporarily unavailable" in text


def _check_length(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a file shorter than the blocks its own header declares (a truncated copy or download).

    Why: DuckDB reads blocks lazily, so a truncated file opens and answers every query whose blocks happen
    to lie before the cut; pages would then work or fail depending on the file's layout. The header's block
    count makes the check O(1), where reading every row back (``verify``) is a full scan.

    Raises:
        StoreError: the file is shorter than ``used_blocks * block_size``.
    """
    row = conn.execute("PRAGMA database_size").fetchall()
    names = [d[0] for d in conn.description]
    info = dict(zip(names, row[0])) if row else {}
    # Used blocks, not total: a checkpoint may cut free blocks off the end while the header still counts
    # them, so only a file too short for its used blocks is surely truncated (no false alarms).
    blocks, size = info.get("used_blocks"), info.get("block_size")
    if not isinstance(blocks, int) or not isinstance(size, int):
        return  # an in-memory or unknown layout: nothing to compare with
    actual = path.stat().st_size if path.is_file() else 0
    if actual < blocks * size:
        raise StoreError(
            f"database {str(path)!r} is damaged or truncated ({actual:,} bytes, its header declares "
            f"{blocks} used blocks of {size:,}); restore it from a backup or use a new --db"
        )


@contextmanager
def connect(
    path: str | Path, *, read_only: bool = False, timeout: float = 60.0, verify: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` and always close it; wait (with jittered backoff) while another process holds it.

    A writer connection brings the schema up to date (:func:`core.store.schema.migrate`); a reader checks
    that the schema is one this code understands. ``verify`` first reads every stored row back
    (:func:`core.store.schema.verify`), so a damaged file is refused before anything is written to it.

    Extension autoinstall and autoload are off on every connection (:data:`DUCKDB_CONFIG`). Any DuckDB error
    raised inside the ``with`` block (a truncated or corrupt file, a full disk) leaves it as a one-line
    :class:`StoreError`, so no caller ever shows a raw DuckDB traceback.

    Raises:
        StoreError: the file is missing (read-only), not a DuckDB database, of an unknown or newer schema,
            still locked after ``timeout`` seconds, or failing a statement (corrupt, disk full).
    """
    from core.store.schema import check_schema, migrate
    from core.store.schema import verify as verify_all

    path = Path(path)
    if read_only and not path.is_file():
        raise StoreError(f"database {str(path)!r} does not exist; run `python -m precompute run` first")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of database {str(path)!r}: {exc.strerror}") from exc
    deadline, delay = time.monotonic() + timeout, 0.02
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only, config=DUCKDB_CONFIG)
            break
        except duckdb.Error as exc:
            if _is_lock_error(exc) and time.monotonic() < deadline:
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 1.6, 0.5)
                continue
            if _is_lock_error(exc):
                raise StoreError(f"database {str(path)!r} stayed locked for {timeout:.0f}s: {exc}") from exc
            if is_disk_full(exc):
                raise StoreError(no_space_message(f"database {str(path)!r}")) from exc
            raise StoreError(f"database {str(path)!r} is unreadable: {_first_line(exc)}") from exc
    try:
        if read_only and not path.with_name(path.name + ".wal").exists():
            # Only a reader of a checkpointed file: replaying a WAL allocates blocks in memory, which the
            # block count then includes although the file does not hold them yet.
            _check_length(conn, path)
        if verify:
            verify_all(conn, path)
        if read_only:
            check_schema(conn, path)
        else:
            migrate(conn, path)
        yield conn
    except duckdb.Error as exc:
        if is_disk_full(exc):  # the project's own words, not DuckDB's (a commit or checkpoint that failed)
            raise StoreError(no_space_message(f"database {str(path)!r}")) from exc
        text = str(exc).lower()
        if any(w in text for w in ("could not read", "corrupt", "checksum")):
            raise StoreError(
                f"database {str(path)!r} is damaged or truncated ({_first_line(exc)}); restore it from a "
                "backup or use a new --db"
            ) from exc
        raise StoreError(f"database {str(path)!r}: {_first_line(exc)}") from exc
    finally:
        try:
            conn.close()
        except duckdb.Error as exc:  # closing checkpoints; a full disk must not mask the first error
            # A checkpoint that finds the disk full loses nothing (the WAL keeps every commit), and the
            # write that needs the space says so in one line: a second line about it would only repeat it.
            (log.debug if is_disk_full(exc) else log.warning)("closing %s: %s", path, _first_line(exc))
