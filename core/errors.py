"""Domain errors shared by every layer.

Every error the user can cause derives from :class:`ClirError`, so CLIs can catch one type and print a
one-line message. Each subclass also derives from the builtin that best describes it, so library callers
can keep catching ``ValueError`` / ``LookupError`` / ``OSError``.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable


class ClirError(Exception):
    """Base class of every error the project raises on purpose."""


class UnknownNameError(ClirError, ValueError):
    """A name (language, encoder, noise type, loader, metric...) is not in its registry."""

    def __init__(self, kind: str, name: object, valid: Iterable[str]):
        self.kind, self.name = kind, name
        self.valid = sorted(valid)
        shown = ", ".join(self.valid[:60]) + (" ..." if len(self.valid) > 60 else "")
        super().__init__(f"unknown {kind} {name!r}; valid: {shown}")


class DataError(ClirError, OSError):
    """Input data is missing, empty or malformed."""


class ConfigError(ClirError, ValueError):
    """A grid or registry file is malformed."""


class EncoderUnavailable(ClirError, RuntimeError):
    """An encoder cannot be loaded here (no network, missing package, bad folder)."""

    def __init__(self, name: str, reason: str):
        self.encoder, self.reason = name, reason
        super().__init__(f"encoder {name} unavailable: {reason}")


class ExportUnavailable(ClirError, RuntimeError):
    """An export cannot be produced on this machine (e.g. no Chromium to render chart images)."""


class BackendUnavailable(ClirError, RuntimeError):
    """A compute backend cannot be used here (``ray`` not installed, its cluster unreachable or lost)."""


class StoreError(ClirError, RuntimeError):
    """The results database is unreadable, locked for too long, or of an unknown schema."""


class DataChangedError(ClirError, ValueError):
    """The data or an encoder changed under stored cells: continuing would mix results."""


class NonFiniteError(ClirError, ValueError):
    """Vectors or scores hold NaN or infinity (e.g. a model whose training diverged): ranking them would
    show a number the data does not support (a NaN score is never above the gold: rank 1, MRR 1.0)."""


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


NO_SPACE = "no space left on device"


def no_space_message(where: str | None = None) -> str:
    """The project's one line for a full disk, naming ``where`` (a file, or what was being written).

    Example:
        >>> no_space_message("results/demo.duckdb")
        'no space left on device: results/demo.duckdb; what was stored before is intact, free space and rerun'
    """
    named = f": {where}" if where else ""
    return f"{NO_SPACE}{named}; what was stored before is intact, free space and rerun"


def _disk_full_where(exc: BaseException) -> tuple[bool, str | None]:
    """Whether ``exc`` or an error it was raised ``from`` reports a full disk, and the file it names."""
    import sqlite3

    import duckdb

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:  # only explicit causes: a bug raised while handling is a bug
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return True, e.filename and str(e.filename)
        text = str(e)
        if isinstance(e, duckdb.Error) and NO_SPACE in text.lower():
            # DuckDB: 'Could not write file "/x/results.duckdb.wal": No space left on device'
            named = re.search(r'"([^"]+)"', text)
            return True, named.group(1) if named else None
        if isinstance(e, sqlite3.Error) and "disk is full" in text.lower():
            return True, "the embedding cache"
        e = e.__cause__
    return False, None


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised ``from``) is a full disk: ENOSPC, or DuckDB's or SQLite's
    report of one. Used to say so in one line, and to keep secondary failures of the same cause quiet."""
    return _disk_full_where(exc)[0]


def user_message(exc: BaseException) -> str | None:
    """The one-line message for a failure the user can cause, or None when ``exc`` is a bug.

    Covers the project's own errors (:class:`core.errors.ClirError`), DuckDB and SQLite errors (damaged
    files, full disk) and operating-system errors (permissions, missing files, no space left).
    """
    full, where = _disk_full_where(exc)
    if full:
        # Whatever layer it surfaced in (DuckDB, SQLite, the OS, a StoreError wrapping one): one wording.
        own = _first_line(str(exc))
        return own if own.startswith(NO_SPACE) else no_space_message(where)
    if isinstance(exc, ClirError):
        return _first_line(str(exc)) or exc.__class__.__name__
    import sqlite3

    import duckdb

    if isinstance(exc, duckdb.Error):
        return f"database: {_first_line(str(exc))}"
    if isinstance(exc, sqlite3.Error):
        # The embedding cache is SQLite; "database or disk is full" is the usual one.
        return f"embedding cache: {_first_line(str(exc))}"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"permission denied{where}"
        return f"{exc.strerror or _first_line(str(exc)) or exc.__class__.__name__}{where}"
    return None
