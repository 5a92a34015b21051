"""The README's FLORES-200 section from a database the pipeline computed on hand-written FLORES files: the
correlation table, the per-class table and the breaking languages name the data's languages and numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.pipeline import parse_grid, run_grid
from tests.core.test_multiway_datasets import write_flores

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_readme_flores_section(tmp_path, monkeypatch, capsys):
    flores = write_flores(tmp_path / "flores")
    db = tmp_path / "f.duckdb"
    grid = (f'[dataset]\nname = "flores200"\npath = "{flores}"\nlanguages = ["xho_Latn", "amh_Ethi"]\n'
            '[grid]\nencoders = ["muse3"]\nnoise = ["delete", "keyboard"]\nlevels = [0.2]\n')  # fmt: skip
    run_grid(parse_grid(grid), db, progress=False, say=lambda _m: None)
    sys.path.insert(0, str(ROOT))
    from benchmarks import readme_flores

    png = tmp_path / "flores.png"
    monkeypatch.setattr(sys, "argv", ["readme_flores.py", "--db", str(db), "--png", str(png)])
    readme_flores.main()
    out = capsys.readouterr().out
    assert out.startswith("### FLORES-200: relative drop at level 0.2 (mean of the noise types)")
    assert "2 languages, 5 queries each." in out
    assert (
        "| encoder | languages above the floor | median drop | Spearman rho (class, drop) [95% CI] |" in out
    )
    assert "**muse3**, breaks most:" in out and "(`amh_Ethi`)" in out
    assert png.stat().st_size > 10_000
    answer = readme_flores.load_answer(str(db), "flores200")  # stored by the call above: the same numbers
    d = answer.breakdown.drops
    row = d[(d["lang"] == "xho_Latn") & (d["noise"] == "mean")].iloc[0]
    assert f"{100 * row['drop']:.0f}%" in out
