"""The README's results section on a small real DuckDB: one row per model family (training seeds averaged),
LaBSE measured beside its labelled published figure, and the headline comparing the SimCSE models with LaBSE."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "core"))
from test_findings_store import _cell  # noqa: E402

from core.store import connect  # noqa: E402

pytestmark = pytest.mark.slow  # builds the README's study database

SEEDED = ("simcse-bitext-e5", "simcse-bitext-e5-s1", "simcse-bitext-e5-s2")
LOSS = {"e5-small": 3.0, "labse": 0.5, "labse-e5": 2.0, **{e: 4.0 + k for k, e in enumerate(SEEDED)}}
CONDITIONS = [("none", 0.0)] + [(n, lv) for n in ("substitute", "delete") for lv in (0.1, 0.2)]


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("readme") / "readme.duckdb")
    rng = np.random.default_rng(3)
    with connect(path) as conn:  # one connection for every cell (each opening costs ~70 ms)
        for enc, loss in LOSS.items():
            for lang in ("amh", "deu"):
                for noise, level in CONDITIONS:
                    _cell(conn, enc, lang, noise, level, 1 + rng.poisson(0.2 + loss * level * 10, 30))
    return path


def test_readme_results_report_one_row_per_family_and_labse_measured(db, tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(ROOT))
    from benchmarks import readme_results

    png = tmp_path / "results.png"
    monkeypatch.setattr(sys, "argv", ["readme_results.py", "--db", db, "--png", str(png)])
    readme_results.main()
    out = capsys.readouterr().out
    assert png.stat().st_size > 0
    assert "simcse-bitext-e5-s1" not in out and "simcse-bitext-e5-s2" not in out  # seeds are one row
    # The clean MRR table: the family's MRR on amh is the mean over seeds of each seed's MRR.
    with duckdb.connect(db, read_only=True) as conn:
        per_seed = [conn.execute("SELECT avg(1.0 / rank) FROM ranks WHERE encoder = ? AND lang = 'amh' AND "
                                 "noise = 'none'", [e]).fetchone()[0] for e in SEEDED]  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith("| simcse-bitext-e5 "))
    assert f"| {np.mean(per_seed):.3f} |" in row
    research = [line for line in out.splitlines() if line.startswith("| simcse-bitext-e5 | low |")]
    assert len(research) == 1
    assert any(line.startswith("| labse | low | ") for line in out.splitlines())  # measured
    assert "| LaBSE (published, clean accuracy@1, MTEB) | low | 0.935 (mean of 1) |" in out
    assert "Against LaBSE's objective on the same base (**labse-e5**, 1 training seed, loses" in out
    assert "**simcse-bitext-e5** (3 training seeds) loses" in out
    assert "Against LaBSE itself, measured here (**labse**, loses" in out
    assert "`labse-e5`: LaBSE's objective on the same base" in out
    note = (
        "Training seeds per trained model (1 training seed: `labse-e5`; 3 training seeds: `simcse-bitext-e5`)"
    )
    assert note in out  # e5-small and labse are not trained here: no training seeds to speak of
    assert "vs `labse-e5`, low-resource:" in out  # its tests are counted with the others
