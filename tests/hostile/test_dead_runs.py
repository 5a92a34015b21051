"""Issue 25, items 11 (a run killed with ``kill -9`` stays ``running`` forever) and 12 (the Runs page says how
many cells an interrupted run stored, and names the cache the run used).

A run cannot mark its own row when it is killed with SIGKILL. Each run now records its host, PID and the
PID's start time (schema v7); the next run on the same host marks a run whose process is gone (or whose PID
another process reuses) ``interrupted``, and the Runs page, which reads the database read-only, shows it so.
Each run also records its embedding cache, which the page names instead of the dashboard's own.

Real processes (a driver killed with SIGKILL), real DuckDB, the real runner and the real page (AppTest).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from core.jobs import process_start, run_is_dead, this_process
from core.pipeline import parse_grid, run_grid
from core.pipeline.run import mark_dead_runs
from core.store import SCHEMA_VERSION, connect
from core.store import writes as w
from core.store.schema import MIGRATIONS

from .conftest import dashboard_db

pytestmark = pytest.mark.hostile

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120
GRID = """[dataset]
name = "tatoeba"
languages = ["deu", "fra"]
max_queries = 30
[grid]
encoders = ["muse3"]
noise = ["delete", "substitute"]
levels = [0.1, 0.2, 0.3]
seeds = [0]
"""
N_CELLS = 2 * (1 + 2 * 3)
# A driver whose every flushed cell is printed, so the test knows that cells are stored before it kills it.
DRIVER = """
import sys
from core.pipeline import parse_grid, run_grid
run_grid(parse_grid(open(sys.argv[1]).read(), sys.argv[1]), sys.argv[2], progress=False, flush_seconds=0,
         say=lambda _m: None, on_progress=lambda done, total: print(done, total, flush=True))
"""


def _run_row(db: Path, run_id: str | None = None) -> dict:
    with duckdb.connect(str(db), read_only=True) as conn:
        where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
        cur = conn.execute(f"SELECT * FROM runs {where} ORDER BY started_at", params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def _stored_cells(db: Path, run_id: str) -> int:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM cells WHERE run_id = ?", [run_id]).fetchall()[0][0]


def _runs_table(at: AppTest):
    """The page's table of runs (its key is not exposed to AppTest: found by its columns)."""
    return next(d.value for d in at.dataframe if {"run_id", "status"} <= set(d.value.columns))


def _runs_page(db: Path) -> AppTest:
    with dashboard_db(db):
        at = AppTest.from_string(
            "from dashboard.views import runs\nruns.main()", default_timeout=TIMEOUT
        ).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def killed(tmp_path_factory, data_dir) -> Iterator[tuple[Path, dict, Path]]:
    """A database whose run was killed with SIGKILL after some cells were stored; the row as left, and the
    cache folder the run used (not the dashboard's)."""
    root = tmp_path_factory.mktemp("killed")
    grid, db, cache = root / "grid.toml", root / "k.duckdb", root / "run-cache"
    grid.write_text(GRID, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLIR_CACHE_DIR": str(cache)}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(grid), str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO)  # fmt: skip
    try:
        for line in proc.stdout:  # cells are flushed one by one: after the third, two are surely stored
            if int(line.split()[0]) >= 3:
                break
    finally:
        proc.kill()  # SIGKILL: no handler runs
        proc.wait(timeout=60)
    (row,) = _run_row(db)
    assert row["status"] == "running" and row["pid"] == proc.pid
    yield db, row, cache


@pytest.mark.slow
def test_the_killed_run_recorded_its_process_and_cache(killed):
    db, row, cache = killed
    assert row["host"] == platform.node() and row["pid_start"] and row["cache_dir"] == str(cache)
    assert run_is_dead(row["host"], row["pid"], row["pid_start"])


@pytest.mark.slow
def test_the_runs_page_shows_it_interrupted_with_its_cells_and_cache(killed):
    db, row, cache = killed
    stored = _stored_cells(db, row["run_id"])
    assert 2 <= stored < N_CELLS
    at = _runs_page(db)
    table = _runs_table(at)
    assert table[["status", "cells_stored"]].values.tolist() == [["interrupted (process gone)", stored]]
    line = " ".join(c.value for c in at.caption)
    assert f"embedding cache of the latest run: `{cache} (on {platform.node()})`" in line, line
    assert f"Live search's embedding cache: `{os.environ['CLIR_CACHE_DIR']}`" in line, line
    assert str(cache) != os.environ["CLIR_CACHE_DIR"]
    assert any("interrupted" in m.value and row["run_id"] in m.value for m in at.markdown)


@pytest.mark.slow
def test_the_next_run_marks_it_interrupted_and_finishes_the_grid(killed, tmp_path):
    db, row, _ = killed
    db2 = tmp_path / "rerun.duckdb"
    db2.write_bytes(db.read_bytes())  # the other tests of the module read the killed state
    stored = _stored_cells(db2, row["run_id"])
    said: list[str] = []
    report = run_grid(parse_grid(GRID), db2, progress=False, say=said.append)
    assert report.cells_written == N_CELLS - stored
    assert f"marked 1 earlier run interrupted (process gone): {row['run_id']}" in said
    first, second = _run_row(db2)
    assert (first["run_id"], first["status"], first["finished_at"]) == (row["run_id"], "interrupted", None)
    assert (second["status"], second["pid"], second["pid_start"]) == (
        "done",
        os.getpid(),
        this_process()["pid_start"],
    )
    table = _runs_table(_runs_page(db2))
    assert table[["status", "cells_stored"]].values.tolist() == [
        ["done", N_CELLS - stored],
        ["interrupted", stored],
    ]


def test_only_runs_of_this_host_whose_process_is_gone_or_reused_are_marked(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        me, host = this_process(), platform.node()
        rows = {
            "alive": (host, sleeper.pid, process_start(sleeper.pid)),  # a live run: never marked
            "self": (host, me["pid"], me["pid_start"]),
            "gone": (host, gone.pid, "boot:1"),  # its process exited
            "reused": (host, sleeper.pid, "another-boot:42"),  # the PID now belongs to another process
            "elsewhere": ("another-host.example", gone.pid, "boot:1"),  # cannot be told from here
            "legacy": (host, None, None),  # a row from before schema v7: no PID
        }
        db = tmp_path / "r.duckdb"
        with connect(db) as conn:
            for run_id, (h, pid, start) in rows.items():
                w.record_run_start(conn, {"run_id": run_id, "grid_toml": "", "grid_json": "{}", "versions_json": "{}",
                                          "argv": "", "host": h, "pid": pid, "pid_start": start})  # fmt: skip
            said: list[str] = []
            assert mark_dead_runs(conn, said.append) == 2
            status = dict(conn.execute("SELECT run_id, status FROM runs").fetchall())
        assert status == {"alive": "running", "self": "running", "gone": "interrupted", "reused": "interrupted",
                          "elsewhere": "running", "legacy": "running"}  # fmt: skip
        assert said == ["marked 2 earlier runs interrupted (process gone): gone, reused"]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_v6_database_opens_read_only_and_migrates_keeping_its_runs(tmp_path):
    """Schema v7 adds pid, pid_start and cache_dir to ``runs``: a v6 file still opens in the dashboard (the
    page shows its runs, the cache as not recorded) and a writer migrates it, keeping every row."""
    db = tmp_path / "v6.duckdb"
    conn = duckdb.connect(str(db))
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    for number, fn in enumerate(MIGRATIONS[:6], start=1):
        fn(conn)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, fn.__name__])
    conn.execute("INSERT INTO runs (run_id, started_at, status, host, argv) VALUES "
                 "('old', now(), 'running', ?, 'precompute run')", [platform.node()])  # fmt: skip
    conn.execute("INSERT INTO cells (dataset, mode, corpus, lang, encoder, noise, level, seed, run_id, n_queries) "
                 "VALUES ('tatoeba', 'pair', 'c', 'deu', 'e', 'none', 0, 0, 'old', 2)")  # fmt: skip
    conn.close()
    at = _runs_page(db)
    assert _runs_table(at)[["run_id", "status", "cells_stored"]].values.tolist() == [
        ["old", "running", 1]
    ]  # no PID: whether it is alive cannot be told
    assert any("embedding cache of the latest run: `not recorded" in c.value for c in at.caption)
    with connect(db) as conn:
        assert (
            conn.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0] == SCHEMA_VERSION == 7
        )
        assert conn.execute("SELECT run_id, status, pid, pid_start, cache_dir FROM runs").fetchall() == [
            ("old", "running", None, None, None)
        ]
        assert mark_dead_runs(conn, print) == 0
