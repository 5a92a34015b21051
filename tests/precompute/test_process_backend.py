"""A third backend is one file: ``process_backend.py`` (a pool of worker processes, written against the
Backend interface and the shared modules alone) gives, through ``run_grid``, the local backend's rows.

Real data, the offline encoders, two spawned worker processes that load each encoder themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.pipeline import parse_grid, run_grid
from core.store import connect

pytestmark = pytest.mark.slow

GRID = """[dataset]
languages = ["swh", "xho"]
mode = ["pair", "pooled"]
max_queries = 20
[grid]
encoders = ["muse3", "minilm"]
noise = ["substitute"]
levels = [0.1]
seeds = [0]
"""
N_CELLS = 2 * 2 * 2 * 2  # modes x languages x (clean + 1 condition) x encoders
# Every stored table, less what differs between two runs of the same grid (run ids, times).
TABLES = {
    "ranks": "SELECT * EXCLUDE (run_id) FROM ranks ORDER BY ALL",
    "cells": "SELECT * EXCLUDE (run_id, seconds, completed_at) FROM cells ORDER BY ALL",
    "noisy_queries": "SELECT * FROM noisy_queries ORDER BY ALL",
    "queries": "SELECT * FROM queries ORDER BY ALL",
    "documents": "SELECT * FROM documents ORDER BY ALL",
    "gold": "SELECT * FROM gold ORDER BY ALL",
    "encoders": "SELECT * EXCLUDE (first_run_id) FROM encoders ORDER BY ALL",
}


def tables(db: Path) -> dict[str, list]:
    with connect(db, read_only=True) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


def test_the_process_backend_imports_no_other_backend():
    source = (Path(__file__).parent / "process_backend.py").read_text()
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "core.pipeline.backends" in imported
    assert not {m for m in imported if m.startswith("core.pipeline.backends.")}, imported


def test_process_backend_equals_local(tmp_path, data_dir):
    from tests.precompute.process_backend import ProcessBackend

    grid = parse_grid(GRID)
    local, pooled = tmp_path / "local.duckdb", tmp_path / "process.duckdb"
    run_grid(grid, local, progress=False, say=lambda _m: None)
    report = run_grid(grid, pooled, backend=ProcessBackend(workers=2), progress=False, say=lambda _m: None)
    assert (report.backend, report.cells_written, report.skipped_encoders) == ("process", N_CELLS, {})
    # One machine: the workers read the cache the local run filled.
    assert report.texts_encoded == 0
    got, want = tables(pooled), tables(local)
    for name in TABLES:
        assert got[name] == want[name], name
    assert len(want["ranks"]) == N_CELLS * 20

    # Resumable like the others: a finished grid computes nothing more.
    again = run_grid(grid, pooled, backend=ProcessBackend(workers=2), progress=False, say=lambda _m: None)
    assert (again.cells_written, again.cells_skipped) == (0, N_CELLS)
