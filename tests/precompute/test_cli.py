"""The precompute CLI: bad input gives one clear line and exit 2, and loses nothing; kill -9 resumes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from core.store import connect
from precompute.cli import main

REPO = Path(__file__).resolve().parents[2]
GOOD = """[dataset]
languages = ["xho"]
max_queries = 10
[grid]
encoders = ["muse3"]
noise = ["delete"]
levels = [0.1]
"""


def _run(tmp_path, grid_text: str, db: Path | None = None, capsys=None) -> tuple[int, str]:
    grid = tmp_path / "g.toml"
    grid.write_text(grid_text, encoding="utf-8")
    code = main(["run", "--grid", str(grid), "--db", str(db or tmp_path / "r.duckdb"), "--quiet"])
    err = capsys.readouterr().err if capsys else ""
    return code, err


@pytest.mark.parametrize(
    ("grid_text", "message"),
    [
        (GOOD.replace('"xho"', '"xxx"'), "unknown language 'xxx'"),
        (GOOD.replace('"muse3"', '"nosuchencoder"'), "unknown encoder 'nosuchencoder'"),
        (GOOD.replace('"delete"', '"typo"'), "unknown noise type 'typo'"),
        (GOOD.replace("levels = [0.1]", "levels = [1.5]"), "grid.levels"),
        (GOOD.replace("[grid]", "[grid\n"), "not valid TOML"),
        ("[dataset]\nlanguages = []\n[grid]\nencoders=['muse3']", "non-empty list"),
        (GOOD + "colour = 'red'\n", "unknown keys"),
    ],
)
def test_bad_grids_fail_with_one_line(tmp_path, capsys, data_dir, grid_text, message):
    code, err = _run(tmp_path, grid_text, capsys=capsys)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "r.duckdb").exists(), "a refused grid creates no database"
    existing = tmp_path / "existing.duckdb"
    with connect(existing) as conn:
        conn.execute("INSERT INTO queries VALUES ('tatoeba', 'xho', 0, 'kept')").fetchall()
    before = _digest(existing)
    assert _run(tmp_path, grid_text, db=existing, capsys=capsys)[0] == 2
    assert _digest(existing) == before, "a refused grid leaves an existing database untouched"


@pytest.mark.parametrize("value", ["-1", "nan", "1e9"])
def test_bad_flush_seconds_fail_with_one_line_before_anything_is_written(tmp_path, capsys, data_dir, value):
    grid = tmp_path / "g.toml"
    grid.write_text(GOOD, encoding="utf-8")
    db = tmp_path / "r.duckdb"
    code = main(["run", "--grid", str(grid), "--db", str(db), "--quiet", "--flush-seconds", value])
    err = capsys.readouterr().err
    assert (
        code == 2 and err.startswith("error: --flush-seconds must lie in [0, 3600]") and err.count("\n") == 1
    )
    assert not db.exists()


def test_missing_or_empty_data_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLIR_DATA_DIR", str(tmp_path / "missing"))
    assert _run(tmp_path, GOOD, capsys=capsys) == (
        2,
        f"error: data directory {str(tmp_path / 'missing')!r} does not exist: put the Tatoeba v1 files there "
        "or set CLIR_DATA_DIR to their folder ('make data' fetches them)\n",
    )
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CLIR_DATA_DIR", str(tmp_path / "empty"))
    code, err = _run(tmp_path, GOOD, capsys=capsys)
    assert code == 2 and "no Tatoeba files" in err


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_unreadable_and_foreign_databases_are_left_untouched(tmp_path, capsys, data_dir):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(os.urandom(5000))
    before = _digest(junk)
    code, err = _run(tmp_path, GOOD, db=junk, capsys=capsys)
    assert code == 2 and "unreadable" in err and _digest(junk) == before
    assert main(["summary", "--db", str(junk)]) == 2
    foreign = tmp_path / "old.duckdb"
    c = duckdb.connect(str(foreign))
    c.execute("CREATE TABLE ranks (lang VARCHAR, rank INTEGER); INSERT INTO ranks VALUES ('amh', 3)")
    c.close()
    code, err = _run(tmp_path, GOOD, db=foreign, capsys=capsys)
    assert code == 2 and "no schema version" in err
    c = duckdb.connect(str(foreign), read_only=True)
    assert c.execute("SELECT * FROM ranks").fetchall() == [("amh", 3)]
    c.close()


@pytest.mark.slow
def test_kill_9_midway_then_rerun_equals_uninterrupted(tmp_path, data_dir):
    grid = tmp_path / "g.toml"
    grid.write_text(
        '[dataset]\nlanguages = ["amh", "xho", "tel"]\nmode = ["pair", "pooled"]\n[grid]\nencoders = ["muse3"]\n'
        'noise = ["substitute", "delete"]\nlevels = [0.1, 0.2, 0.3]\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLIR_CACHE_DIR": str(tmp_path / "cache")}
    # Cells stored after every group: a kill lands between stored cells however fast this machine is (with
    # the default 2 s a run this small could store everything in one write). Three languages: once the first
    # one's cells are seen stored, two are still to encode.
    cmd = [sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--quiet", "--flush-seconds", "0"]
    killed_db, clean_db = tmp_path / "killed.duckdb", tmp_path / "clean.duckdb"
    proc = subprocess.Popen([*cmd, "--db", str(killed_db)], cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    deadline, stored = time.monotonic() + 240, 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if killed_db.exists():
            try:
                with connect(killed_db, read_only=True, timeout=0.2) as conn:
                    stored = conn.execute("SELECT count(*) FROM cells").fetchall()[0][0]
            except Exception:  # noqa: BLE001 - the writer holds it; poll again
                continue
            if stored:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    total = 3 * 2 * (1 + 2 * 3)
    assert 0 < stored < total, f"kill landed at {stored} of {total} cells; expected midway"
    subprocess.run([*cmd, "--db", str(killed_db)], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*cmd, "--db", str(clean_db)], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    cols = "dataset, mode, corpus, lang, encoder, noise, level, seed, qid, rank, n_docs, score_gold, top_ids, query_noisy"
    tables = []
    for db in (killed_db, clean_db):
        with connect(db, read_only=True) as conn:
            tables.append(conn.execute(f"SELECT {cols} FROM ranks ORDER BY ALL").df())
            assert conn.execute("SELECT count(*) FROM cells").fetchall()[0][0] == total
    assert len(tables[0]) == len(tables[1]) == 2 * (168 + 142 + 234) * (1 + 2 * 3)
    assert tables[0].drop(columns="top_ids").equals(tables[1].drop(columns="top_ids"))
    assert [list(x) for x in tables[0].top_ids] == [list(x) for x in tables[1].top_ids]
