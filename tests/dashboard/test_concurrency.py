"""The dashboard keeps serving while `python -m precompute run` writes to the same DB: no lock error
reaches the user, and the new cells appear once written."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import REPO, grid_text
from streamlit.testing.v1 import AppTest


def _page(name: str) -> AppTest:
    return AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=120)


def _messages(at: AppTest) -> list[str]:
    return [e.value for e in at.exception] + [w.value for w in at.warning] + [e.value for e in at.error]


def _running_runs(db) -> int:
    """Runs recorded as running, read like the dashboard reads (waiting while the writer holds the file)."""
    from core.store import connect

    with connect(db, read_only=True, timeout=60) as conn:
        return conn.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchall()[0][0]


@pytest.mark.slow  # runs a precompute (loads muse3) beside the pages
def test_pages_serve_while_precompute_writes(use_db, db_copy, tmp_path):
    grid = tmp_path / "more.toml"
    levels = ", ".join(f"{lv / 20:g}" for lv in range(1, 11))  # enough cells for pages to read during writes
    grid.write_text(grid_text(levels), encoding="utf-8")
    use_db(db_copy)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLIR_DB": str(db_copy)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--db", str(db_copy), "--quiet"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    during, problems = 0, []
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            # A page read counts only when the precompute has begun writing (its run is recorded as running)
            # and is still running after it: reads while it merely starts up prove nothing about concurrency.
            for name in ("curves", "per_query", "runs"):
                writing = _running_runs(db_copy) > 0
                at = _page(name).run()
                problems += [m for m in _messages(at) if m]
                during += writing and proc.poll() is None
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert during >= 2, "pages were read while the precompute was writing"
    assert _running_runs(db_copy) == 0
    assert not problems, problems
    at = _page("curves").run()
    table = next(d.value for d in at.dataframe if "AUC" in d.value.columns)
    assert "MRR @0.3" in table.columns, "new cells show up after the write"
