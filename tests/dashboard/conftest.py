"""A small real results DB, built once per session by the real precompute (muse3, amh + deu, 40 queries)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GRID = """
[dataset]
name = "tatoeba"
mode = ["pair", "pooled"]
languages = ["amh", "deu"]
max_queries = 40

[grid]
encoders = ["muse3"]
noise = ["substitute"]
levels = [{levels}]
seeds = [0]
"""


def grid_text(levels: str = "0.1") -> str:
    """The test grid, with the given noise levels (a TOML list body)."""
    return GRID.format(levels=levels)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    raw = os.environ.get("CLIR_DATA_DIR")
    if not raw or not Path(raw).is_dir() or not any(Path(raw).glob("tatoeba.*-eng.eng")):
        pytest.skip("CLIR_DATA_DIR must point at the Tatoeba v1 folder to build the dashboard's test DB")
    return Path(raw)


@pytest.fixture(scope="session")
def small_db(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Path of the built DB; CLIR_DB and CLIR_CACHE_DIR point at it (and its cache) for the session."""
    from core.pipeline import parse_grid, run_grid

    root = tmp_path_factory.mktemp("dashdb")
    old = {k: os.environ.get(k) for k in ("CLIR_DB", "CLIR_CACHE_DIR")}
    os.environ["CLIR_CACHE_DIR"] = str(root / "cache")
    db = root / "small.duckdb"
    grid_file = root / "grid.toml"
    grid_file.write_text(grid_text(), encoding="utf-8")
    run_grid(parse_grid(grid_file.read_text(), str(grid_file)), db, progress=False, say=lambda _m: None)
    os.environ["CLIR_DB"] = str(db)
    yield db
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def use_db(small_db: Path):
    """Point CLIR_DB at another file for one test, then back at the session DB."""

    def _use(path: Path | str) -> None:
        os.environ["CLIR_DB"] = str(path)

    yield _use
    os.environ["CLIR_DB"] = str(small_db)


@pytest.fixture
def db_copy(small_db: Path, tmp_path: Path) -> Path:
    """A private copy of the session DB (for tests that write)."""
    dst = tmp_path / "copy.duckdb"
    shutil.copy(small_db, dst)
    return dst
