"""``python -m precompute background``: bad bases and training seeds are refused before any cell is computed."""

from __future__ import annotations

import pytest

from precompute.cli import main

pytestmark = pytest.mark.slow  # background jobs over grids

GRID = """
[dataset]
name = "tatoeba"
mode = ["pair"]
languages = ["deu"]
max_queries = 5
[grid]
encoders = ["muse3"]
noise = ["delete"]
levels = [0.0, 0.1]
seeds = [0]
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--base", "muse3"], "cannot be trained"),
        (["--base", "no-such-encoder"], "unknown encoder"),
        (["--seeds", "1", "1"], "seed 1 is given more than once"),
        (["--seeds"], "at least one training seed"),
        (["--seeds", "-3"], "not a whole number"),
    ],
)
def test_bad_base_or_seeds_is_one_line_before_any_cell(
    extra, message, tmp_path, monkeypatch, capsys, data_dir
):
    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path / "models"))
    grid, db = tmp_path / "g.toml", tmp_path / "r.duckdb"
    grid.write_text(GRID, encoding="utf-8")
    assert main(["background", "--grid", str(grid), "--db", str(db), "--labse", "no", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not db.exists() and not (tmp_path / "models").exists()


def test_after_grids_run_last_and_a_missing_folder_is_skipped(tmp_path, monkeypatch, capsys, data_dir):
    """The FLORES-200 / NTREX-128 grids of `make demo` come after the Tatoeba work; one whose data folder is
    missing is one line in the log and the job's status, and the job still ends done."""
    from core.jobs import read_status
    from core.store import connect
    from precompute.background import run_background
    from tests.core.test_multiway_datasets import write_flores

    flores = write_flores(tmp_path / "flores")
    monkeypatch.setenv("CLIR_NTREX128_DIR", str(tmp_path / "no-ntrex"))
    grid, db = tmp_path / "g.toml", tmp_path / "r.duckdb"
    grid.write_text(GRID, encoding="utf-8")
    later = tmp_path / "flores.toml"
    later.write_text(
        GRID.replace('"tatoeba"', f'"flores200"\npath = "{flores}"').replace('["deu"]', '["amh_Ethi"]')
    )
    missing = tmp_path / "ntrex.toml"
    missing.write_text(GRID.replace('"tatoeba"', '"ntrex128"').replace('["deu"]', '["amh"]'))
    assert run_background(grid, db, bases=(), after=(later, missing)) == 0
    out = capsys.readouterr().out
    assert "ntrex.toml skipped: data directory" in out and "CLIR_NTREX128_DIR" in out
    with connect(db) as conn:
        datasets = conn.execute("SELECT dataset, count(*) FROM cells GROUP BY 1 ORDER BY 1").fetchall()
    assert datasets == [("flores200", 2), ("tatoeba", 2)]
    assert read_status(db)["stage"] == "done"
