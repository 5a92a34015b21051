"""Shared fixtures for the noise tests: the Tatoeba folder, skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tatoeba_dir() -> Path:
    raw = os.environ.get("CLIR_DATA_DIR")
    if not raw:
        pytest.skip("CLIR_DATA_DIR is not set: point it at the Tatoeba v1 folder to run data tests")
    path = Path(raw)
    if not path.is_dir() or not any(path.glob("tatoeba.*-eng.eng")):
        pytest.skip(f"CLIR_DATA_DIR={raw!r} holds no Tatoeba files (tatoeba.XXX-eng.XXX)")
    return path
