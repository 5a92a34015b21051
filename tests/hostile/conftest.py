"""Helpers shared by the red-team tests (``-m hostile``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def dashboard_db(path: Path) -> Iterator[Path]:
    """Point the dashboard (``CLIR_DB``) at ``path`` for the block; the previous value comes back after it,
    also for module-scoped fixtures (which cannot use the function-scoped ``monkeypatch``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIR_DB", str(path))
        yield path
