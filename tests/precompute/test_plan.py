"""`precompute plan`: its counts are what a real run then computes; its estimates scale; bad input is one line.

Real data (two small Tatoeba languages), the real muse3 encoder, a real DuckDB file and embedding cache.
"""

from __future__ import annotations

import dataclasses
import platform

import pytest

from core.encoders.throughput import Measurement, load_measurements, save_measurement, store_path
from core.errors import StoreError, UnknownNameError
from core.pipeline import parse_grid, run_grid
from core.pipeline.plan import PIPELINE_OVERHEAD, EncoderPlan, Speed, format_plan, measure_grid, plan_grid
from core.store import connect
from precompute.cli import main

GRID = """
[dataset]
name = "tatoeba"
mode = ["pair", "pooled"]
languages = ["amh", "xho"]
[grid]
encoders = ["muse3"]
noise = ["substitute", "delete"]
levels = {levels}
seeds = [0]
"""


def _grid(levels=(0.1,)):
    return parse_grid(GRID.format(levels=list(levels)))


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cold embedding cache (and throughput file) of this test's own."""
    monkeypatch.setenv("CLIR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _rank_rows(db) -> int:
    with connect(db, read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM ranks").fetchall()[0][0]


@pytest.mark.slow
def test_plan_counts_equal_what_the_run_computes(tmp_path, own_cache, data_dir):
    db = tmp_path / "p.duckdb"
    grid = _grid()
    before = plan_grid(grid)  # no database: everything is to compute
    (ep,) = before.encoders
    # 2 modes x 2 languages x (clean + 2 noisy conditions)
    assert (before.cells_total, before.cells_stored, before.cells_todo) == (12, 0, 12)
    assert ep.cached == 0 and ep.documents > 0 and ep.clean > 0 and ep.noisy > 0
    assert not db.exists() and not any((own_cache / "embeddings").glob("*.sqlite"))  # plan writes nothing

    report = run_grid(grid, db, progress=False)
    assert report.cells_written == ep.cells_todo
    assert report.texts_encoded == ep.to_encode
    assert _rank_rows(db) == before.rank_rows

    after = plan_grid(grid, db)
    assert (after.cells_stored, after.cells_todo, after.encoders[0].to_encode) == (12, 0, 0)

    # A new level: only its cells are to compute, and only its noisy queries are not cached yet.
    bigger = _grid(levels=(0.1, 0.3))
    more = plan_grid(bigger, db)
    (ep2,) = more.encoders
    assert (more.cells_total, more.cells_stored, more.cells_todo) == (20, 12, 8)
    # documents go through the cache again (all cached), clean queries are not needed at all
    assert ep2.clean == 0 and ep2.cached >= ep2.documents > 0 and 0 < ep2.to_encode <= ep2.noisy
    report2 = run_grid(bigger, db, progress=False)
    assert report2.cells_written == 8 and report2.cells_skipped == 12
    assert report2.texts_encoded == ep2.to_encode
    assert _rank_rows(db) == before.rank_rows + more.rank_rows

    # Without a measurement the speed is derived from the stored cells, and the estimate says so.
    third = plan_grid(_grid(levels=(0.1, 0.3, 0.5)), db)
    speed = third.encoders[0].speed
    assert speed is not None and "derived from" in speed.source and speed.texts_per_s > 0
    assert third.hours(1) > 0


@pytest.mark.slow
def test_texts_already_cached_are_counted_apart(tmp_path, own_cache, data_dir):
    grid = _grid()
    run_grid(grid, tmp_path / "a.duckdb", progress=False)
    # Another database, same cache: every cell is to compute, every text is cached.
    ep = plan_grid(grid, None).encoders[0]
    assert ep.cells_todo == 12 and ep.to_encode == 0
    assert ep.cached == ep.documents + ep.clean + ep.noisy
    report = run_grid(grid, tmp_path / "b.duckdb", progress=False)
    assert report.texts_encoded == 0


def test_estimates_scale_with_workers():
    ep = EncoderPlan("x", fingerprint="f", cells_todo=10, documents=600, clean=300, noisy=3100)
    ep.speed = Speed(texts_per_s=100.0, load_s=20.0, source="test")
    one, four = ep.hours(1), ep.hours(4)
    # load once per worker, the 4000 texts split over the workers
    assert one == pytest.approx((20 + 40) * PIPELINE_OVERHEAD / 3600)
    assert four == pytest.approx((20 + 10) * PIPELINE_OVERHEAD / 3600)
    assert ep.hours(8) < four < one
    with pytest.raises(ValueError):
        ep.hours(0)
    ep.speed = None
    assert ep.hours(1) is None
    ep.cells_todo = 0
    assert ep.hours(1) == 0.0


def test_measure_stores_speed_next_to_the_cache_and_the_plan_uses_it(own_cache, data_dir):
    grid = _grid()
    (m,) = measure_grid(grid, n_texts=24)
    assert m.encoder == "muse3" and m.texts_per_s > 0 and m.n_texts == 24
    assert store_path() == own_cache / "throughput.json" and store_path().is_file()
    assert f"{m.fingerprint}@{m.host}" in load_measurements()
    speed = plan_grid(grid).encoders[0].speed
    assert speed.texts_per_s == m.texts_per_s and "measured on" in speed.source
    # Another host's measurement is not this machine's speed.
    save_measurement(dataclasses.replace(m, host="elsewhere", texts_per_s=1.0))
    assert plan_grid(grid).encoders[0].speed.texts_per_s == m.texts_per_s


def test_missing_speed_and_unavailable_encoder_are_said(own_cache, data_dir, monkeypatch):
    # A hub id that is not in the local cache, offline: unavailable here (not unknown), known without loading.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    grid = dataclasses.replace(_grid(), encoders=("muse3", "clir-test-org/no-such-model"))
    plan = plan_grid(grid)
    assert plan.encoders[1].unavailable and plan.encoders[1].cells_todo == 0
    assert plan.missing_speed() == ["muse3"] and plan.hours(1) is None
    text = format_plan(plan, 4)
    assert "unavailable here" in text and "no speed known" in text and "--measure" in text


def test_bad_input_is_one_clear_error(tmp_path, own_cache, data_dir, capsys):
    with pytest.raises(UnknownNameError):
        plan_grid(dataclasses.replace(_grid(), encoders=("no-such-encoder",)))
    with pytest.raises(StoreError, match="does not exist"):
        plan_grid(_grid(), tmp_path / "missing.duckdb")
    grid_file = tmp_path / "g.toml"
    grid_file.write_text(GRID.format(levels=[0.1]).replace('"muse3"', '"nope"'))
    assert main(["plan", "--grid", str(grid_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "nope" in err
    grid_file.write_text(GRID.format(levels=[0.1]))
    assert main(["plan", "--grid", str(grid_file), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert main(["plan", "--grid", str(grid_file), "--db", str(tmp_path / "missing.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err
    store_path().parent.mkdir(parents=True, exist_ok=True)
    store_path().write_text("not json")
    assert main(["plan", "--grid", str(grid_file)]) == 2
    assert "throughput file" in capsys.readouterr().err


def test_cli_prints_the_plan(tmp_path, own_cache, data_dir, capsys):
    grid_file = tmp_path / "g.toml"
    grid_file.write_text(GRID.format(levels=[0.1]))
    save_measurement(
        Measurement(
            "muse3",
            plan_grid(_grid()).encoders[0].fingerprint,
            platform.node(),
            200.0,
            5.0,
            256,
            "2026-01-01T00:00:00Z",
        )  # fmt: skip
    )
    assert main(["plan", "--grid", str(grid_file), "--workers", "3"]) == 0
    out = capsys.readouterr().out
    assert "12 cells, 0 already stored, 12 to compute" in out
    assert "on 3" in out and "measured on" in out
