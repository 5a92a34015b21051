"""Domain errors shared by every layer.

Every error the user can cause derives from :class:`ClirError`, so CLIs can catch one type and print a
one-line message. Each subclass also derives from the builtin that best describes it, so library callers
can keep catching ``ValueError`` / ``LookupError`` / ``OSError``.
"""

from __future__ import annotations

import errno
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


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def user_message(exc: BaseException) -> str | None:
    """The one-line message for a failure the user can cause, or None when ``exc`` is a bug.

    Covers the project's own errors (:class:`core.errors.ClirError`), DuckDB and SQLite errors (damaged
    files, full disk) and operating-system errors (permissions, missing files, no space left).
    """
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
        if exc.errno == errno.ENOSPC:
            return f"no space left on device{where}; what was stored before is intact, free space and rerun"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"permission denied{where}"
        return f"{exc.strerror or _first_line(str(exc)) or exc.__class__.__name__}{where}"
    return None
