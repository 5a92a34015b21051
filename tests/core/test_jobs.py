"""The background job's status: one file per database, written atomically, read by the dashboard."""

from __future__ import annotations

from core.jobs import read_status, status_path, write_status


def test_status_belongs_to_one_database(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    assert status_path(a) != status_path(b) and status_path(a).parent == tmp_path
    assert read_status(a) is None
    write_status(a, "training", 3, 10, "epoch 1")
    got = read_status(a)
    assert [got[k] for k in ("stage", "done", "total", "message")] == ["training", 3, 10, "epoch 1"]
    assert read_status(b) is None, "a database never shows another database's job"
    assert [p.name for p in tmp_path.iterdir()] == [status_path(a).name]  # no temporary file left


def test_unreadable_status_is_an_error_entry(tmp_path):
    db = tmp_path / "x.duckdb"
    status_path(db).write_text("{half", encoding="utf-8")
    assert "error" in read_status(db)
    status_path(db).write_text("[1, 2]", encoding="utf-8")
    assert "not a JSON object" in read_status(db)["error"]
