"""The precompute stores the research answer: after `run`, and on demand with `findings`."""

from __future__ import annotations

import pandas as pd
import pytest

from core.findings import findings_answer, stored_findings
from core.store import connect
from core.store import queries as q
from precompute.cli import main

pytestmark = pytest.mark.slow  # precompute runs and the findings command

GRID = """[dataset]
languages = ["xho", "deu"]
mode = ["pair", "pooled"]
max_queries = 12
[grid]
encoders = ["muse3"]
noise = ["delete"]
levels = [0.1, 0.2]
"""


def test_run_stores_current_findings_and_the_findings_command_recomputes_them(tmp_path, capsys, data_dir):
    grid, db = tmp_path / "g.toml", tmp_path / "r.duckdb"
    grid.write_text(GRID, encoding="utf-8")
    assert main(["run", "--grid", str(grid), "--db", str(db), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "findings tatoeba/pair: 1 encoders" in out and "findings tatoeba/pooled: 1 encoders" in out
    for mode in ("pair", "pooled"):
        with connect(db, read_only=True) as conn:
            stored = stored_findings(conn, "tatoeba", mode)
            rows = q.rank_rows(conn, ["corpus", "encoder", "lang", "noise", "level", "qid", "rank"],
                               dataset="tatoeba", mode=mode, seed=0)  # fmt: skip
        assert stored is not None, mode
        fresh, groups = findings_answer(rows)
        pd.testing.assert_frame_equal(stored[0].robustness, fresh.robustness, check_exact=True)
        assert stored[1] == groups
    # A second run adds nothing: the stored answers are current and kept.
    assert main(["run", "--grid", str(grid), "--db", str(db), "--quiet"]) == 0
    assert "findings tatoeba/pair: current, kept" in capsys.readouterr().out
    assert main(["findings", "--db", str(db)]) == 0
    assert "0 research answers computed" in capsys.readouterr().out
    assert main(["findings", "--db", str(db), "--force"]) == 0
    assert "2 research answers computed" in capsys.readouterr().out
    assert main(["findings", "--db", str(tmp_path / "missing.duckdb")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "missing.duckdb").exists()


@pytest.mark.slow  # the background job: two grid steps with real encoders: ~10 s
def test_background_stores_findings_after_each_step(tmp_path, data_dir, monkeypatch):
    import core.training
    import precompute.background as bg

    # No training here (minutes per model): the base's "trained models" are none, so each step only runs cells.
    monkeypatch.setattr(core.training, "default_model_names", lambda base: {})
    monkeypatch.setattr(core.training, "train_all_missing", lambda base, progress=True, seeds=(0,): [])
    statuses = []
    monkeypatch.setattr(bg, "write_status", lambda db, stage, *a, **k: statuses.append(stage))
    grid, db = tmp_path / "g.toml", tmp_path / "r.duckdb"
    grid.write_text(GRID.replace('mode = ["pair", "pooled"]', 'mode = ["pair"]'), encoding="utf-8")
    assert bg.run_background(grid, db, bases=("minilm",)) == 0
    assert statuses.count("findings") >= 2 and statuses[-1] == "done"  # after each of the two steps
    with connect(db, read_only=True) as conn:
        assert stored_findings(conn, "tatoeba", "pair") is not None
