"""Domain errors shared by every layer.

Every error the user can cause derives from :class:`ClirError`, so CLIs can catch one type and print a
one-line message. Each subclass also derives from the builtin that best describes it, so library callers
can keep catching ``ValueError`` / ``LookupError`` / ``OSError``.
"""

from __future__ import annotations

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


class StoreError(ClirError, RuntimeError):
    """The results database is unreadable, locked for too long, or of an unknown schema."""
