"""``python -m precompute background``: bad bases and training seeds are refused before any cell is computed."""

from __future__ import annotations

import pytest

from precompute.cli import main

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
