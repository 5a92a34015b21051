"""The dashboard keeps serving while `python -m precompute run` writes to the same DB: no lock error
reaches the user, and the new cells appear once written."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import REPO, grid_text
from streamlit.testing.v1 import AppTest


def _page(name: str) -> AppTest:
    return AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=120)


def _messages(at: AppTest) -> list[str]:
    return [e.value for e in at.exception] + [w.value for w in at.warning] + [e.value for e in at.error]


def test_pages_serve_while_precompute_writes(use_db, db_copy, tmp_path):
    grid = tmp_path / "more.toml"
    grid.write_text(grid_text("0.1, 0.2, 0.3"), encoding="utf-8")
    use_db(db_copy)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLIR_DB": str(db_copy)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--db", str(db_copy), "--quiet"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reads, problems = 0, []
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            for name in ("curves", "per_query", "runs"):
                at = _page(name).run()
                reads += 1
                problems += [m for m in _messages(at) if m]
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert reads >= 3, "the dashboard was read while the precompute ran"
    assert not problems, problems
    at = _page("curves").run()
    table = next(d.value for d in at.dataframe if "AUC" in d.value.columns)
    assert "MRR @0.3" in table.columns, "new cells show up after the write"
