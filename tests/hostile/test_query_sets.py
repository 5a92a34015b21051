"""Issue 25, item 1: cells over different query sets are never combined.

The attack: run a grid with ``max_queries = 20``, then the same languages with ``max_queries = 60`` and a new
level. The old code stored both and drew one curve across them (clean and 0.1 from 20 queries, 0.3 from 60).

Write side: the second run is refused before anything is computed (one ``error:`` line, exit 2, the database
unchanged); ``--replace-changed`` recomputes every stored cell of those languages on the new query set, those
outside the new grid too. Read side: a database mixed the old way (the second grid run with the refusal
bypassed, through the runner's own writer) gives, on every read path, exactly the numbers of a database that
holds the second grid alone, plus a one-line notice naming the cells left out.

Real grids (muse3, German and French), real DuckDB, the real CLI and real pages (AppTest).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.store import connect
from core.store import queries as q
from precompute.cli import build_parser, main

pytestmark = [pytest.mark.hostile, pytest.mark.slow]

TIMEOUT = 120
LANGS = ("deu", "fra")
GRID = """[dataset]
name = "tatoeba"
languages = {langs}
max_queries = {n}
[grid]
encoders = ["muse3"]
noise = ["delete"]
levels = {levels}
seeds = {seeds}
"""
# The first grid: 20 queries, levels 0.05 and 0.1, two noise seeds: 2 x (1 + 2 x 2) = 10 cells.
FIRST = GRID.format(langs=json.dumps(list(LANGS)), n=20, levels="[0.05, 0.1]", seeds="[0, 1]")
# The second: 60 queries, a new level 0.3, seed 0 only: 2 x 3 = 6 cells. Mixed the old way, level 0.1 holds
# seed 0 over 60 queries and seed 1 over 20 (the stored seed sums of level_stats combine them).
SECOND = GRID.format(langs=json.dumps(list(LANGS)), n=60, levels="[0.1, 0.3]", seeds="[0]")
NOTICE = ("deu: 3 cells over 20 queries left out (the newest cells use 60); fra: 3 cells over 20 queries left "
          "out (the newest cells use 60)")  # fmt: skip
TABLES = ("cells", "ranks", "cell_stats", "level_stats", "queries", "gold", "documents", "noisy_queries")


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(grid_text: str, db: Path) -> None:
    from core.pipeline import parse_grid, run_grid

    run_grid(parse_grid(grid_text, "grid.toml"), db, progress=False, say=lambda _m: None)


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """``first``: the first grid alone; ``mixed``: the first grid, then the second stored the way the old code
    did (the query-set refusal bypassed; the runner's own plan and writer); ``reference``: the second alone."""
    raw = os.environ.get("CLIR_DATA_DIR")
    if not raw or not any(Path(raw).glob("tatoeba.*-eng.eng")):
        pytest.skip("CLIR_DATA_DIR must point at the Tatoeba v1 folder")
    from core.pipeline import inputs

    root = tmp_path_factory.mktemp("query_sets")
    ns = SimpleNamespace(root=root, first=root / "first.duckdb", mixed=root / "mixed.duckdb",
                         reference=root / "reference.duckdb", second_grid=_write(root, "second.toml", SECOND))  # fmt: skip
    _run(FIRST, ns.first)
    shutil.copy(ns.first, ns.mixed)
    with pytest.MonkeyPatch.context() as mp:
        # raising=False: on code from before the refusal there is nothing to bypass.
        mp.setattr(inputs, "check_query_sets", lambda *_a, **_k: pd.DataFrame(), raising=False)
        _run(SECOND, ns.mixed)
    _run(SECOND, ns.reference)
    with duckdb.connect(str(ns.mixed), read_only=True) as conn:
        mixed = conn.execute("SELECT n_queries, count(*) FROM cells GROUP BY ALL ORDER BY ALL").fetchall()
    assert mixed == [(20, 6), (60, 6)], "the attack stored cells over two query sets"
    return ns


def _snapshot(db: Path) -> dict[str, list]:
    """Every table of results and inputs (``runs`` aside: a refused run is recorded there as ``failed``)."""
    with duckdb.connect(str(db), read_only=True) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


# --- Write side -------------------------------------------------------------------------------------------


def test_a_grid_over_another_query_set_is_refused_and_changes_nothing(dbs, tmp_path, capsys):
    db = _copy(dbs.first, tmp_path / "db.duckdb")
    before = _snapshot(db)
    code = main(["run", "--grid", str(dbs.second_grid), "--db", str(db), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert (
        "deu, fra" in err and "20 queries stored, this grid asks for 60" in err and "--replace-changed" in err
    )
    assert _snapshot(db) == before, "a refused grid changes no stored cell, row or input"
    # `plan` says it beforehand, writing nothing.
    assert main(["plan", "--grid", str(dbs.second_grid), "--db", str(db)]) == 0
    planned = capsys.readouterr().out
    assert "10 stored cells of deu, fra are over another query set" in planned, planned
    assert "--replace-changed" in planned and "6 outside this grid" in planned
    # Refused for any encoder, noise, level or seed: a grid of a level none of the stored cells has.
    only_new = SECOND.replace("[0.1, 0.3]", "[0.3]").replace('["deu", "fra"]', '["fra"]')
    code = main(["run", "--grid", str(_write(tmp_path, "new.toml", only_new)), "--db", str(db), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: fra has cells over 20 queries in ") and "asks for 60" in err
    assert _snapshot(db) == before


def test_replace_changed_recomputes_every_stored_cell_on_the_new_query_set(dbs, tmp_path, capsys):
    db = _copy(dbs.first, tmp_path / "db.duckdb")
    with duckdb.connect(str(db), read_only=True) as conn:
        first_keys = set(conn.execute("SELECT lang, noise, level, seed FROM cells").fetchall())
    code = main(["run", "--grid", str(dbs.second_grid), "--db", str(db), "--quiet", "--replace-changed"])
    out = capsys.readouterr().out
    assert code == 0
    assert "replacing 10 stored cells" in out and "6 of them outside this grid" in out, out
    assert "notice:" not in out  # nothing is left out afterwards
    with duckdb.connect(str(db), read_only=True) as conn:
        cells = conn.execute("SELECT lang, noise, level, seed, n_queries, data_fingerprint FROM cells").df()
    keys = set(cells[["lang", "noise", "level", "seed"]].itertuples(index=False, name=None))
    second_keys = {
        (lang, n, lv, 0) for lang in LANGS for n, lv in (("none", 0.0), ("delete", 0.1), ("delete", 0.3))
    }
    assert keys == first_keys | second_keys, "every cell the user had is still there, recomputed"
    assert set(cells["n_queries"]) == {60} and cells.groupby("lang")["data_fingerprint"].nunique().eq(1).all()
    with connect(db, read_only=True) as conn:
        assert q.left_out_cells(conn).empty
        ranks = conn.execute("SELECT lang, count(*) FROM ranks GROUP BY lang ORDER BY lang").fetchall()
    assert ranks == [(lang, 60 * 6) for lang in LANGS]  # 6 cells a language, each over 60 queries
    # The cells of the second grid equal those of a database that only ever held it.
    assert _same_second_grid(db, dbs.reference)
    # A second run of the same grid has nothing left to replace or compute.
    assert main(["run", "--grid", str(dbs.second_grid), "--db", str(db), "--quiet"]) == 0
    assert "0 cells computed, 6 already stored" in capsys.readouterr().out


def _same_second_grid(db: Path, reference: Path) -> bool:
    """The seed-0 rank rows of the second grid's conditions are identical in both databases."""
    sql = ("SELECT lang, noise, level, seed, qid, rank, top_ids FROM ranks WHERE seed = 0 AND level IN (0, 0.1, 0.3) "
           "ORDER BY ALL")  # fmt: skip
    with duckdb.connect(str(db), read_only=True) as a, duckdb.connect(str(reference), read_only=True) as b:
        return a.execute(sql).df().equals(b.execute(sql).df())


# --- Read side: a database mixed the old way ----------------------------------------------------------------


def test_left_out_cells_name_the_old_query_set(dbs):
    with connect(dbs.mixed, read_only=True) as conn:
        left = q.left_out_cells(conn)
    assert sorted(set(zip(left["lang"], left["level"], left["seed"]))) == [
        (lang, lv, s) for lang in LANGS for lv, s in ((0.05, 0), (0.05, 1), (0.1, 1))
    ]
    assert set(left["n_queries"]) == {20} and set(left["kept_n_queries"]) == {60}
    assert q.left_out_notice(left).startswith(NOTICE)
    assert "--replace-changed" in q.left_out_notice(left)
    with connect(dbs.reference, read_only=True) as conn:
        assert q.left_out_cells(conn).empty and q.left_out_notice(q.left_out_cells(conn)) == ""


def test_curve_aggregates_never_sum_seeds_over_two_query_sets(dbs):
    # Level 0.1 holds seed 0 over 60 queries and seed 1 over 20: the stored seed sums (level_stats) of that
    # level combine both, so asking for both seeds must not read them.
    args = ("tatoeba", "pair", "delete", ["muse3"], list(LANGS), [0, 1])
    with connect(dbs.mixed, read_only=True) as conn:
        mixed = q.curve_stats(conn, *args)
    with connect(dbs.reference, read_only=True) as conn:
        ref = q.curve_stats(conn, *args)
    assert sorted(set(mixed["level"])) == [0.0, 0.1, 0.3]
    pd.testing.assert_frame_equal(mixed.reset_index(drop=True), ref.reset_index(drop=True), check_dtype=False)


def _summary_cli(db: Path, capsys) -> tuple[list[str], list[str]]:
    assert main(["summary", "--db", str(db)]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.strip()]
    table = [x for x in lines if not x.startswith(("MRR by level", "notice:"))]
    return table, [x for x in lines if x.startswith("notice:")]


def test_summary_cli_prints_one_query_set_and_the_notice(dbs, capsys):
    table, notice = _summary_cli(dbs.mixed, capsys)
    ref_table, ref_notice = _summary_cli(dbs.reference, capsys)
    assert table == ref_table, "the mixed database's summary is the second grid's alone"
    assert "0.05" not in table[0]  # the old query set's level is not drawn into the curve
    assert ref_notice == [] and len(notice) == 1 and notice[0].startswith(f"notice: {NOTICE}")


def _export_formats() -> list[str]:
    """The formats ``precompute export --format`` offers (csv too where the CLI has it)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(next(a for a in sub.choices["export"]._actions if "--format" in a.option_strings).choices)


@pytest.mark.parametrize("fmt", _export_formats())
def test_export_holds_one_query_set_and_says_what_it_left_out(dbs, tmp_path, capsys, fmt):
    written = {}
    for name, db in (("mixed", dbs.mixed), ("reference", dbs.reference)):
        out = tmp_path / name
        assert main(["export", "--db", str(db), "--out", str(out), "--format", fmt]) == 0
        printed = capsys.readouterr().out
        assert (f"notice: {NOTICE}" in printed) == (name == "mixed"), printed
        written[name] = {p.name: p for p in out.iterdir() if not p.name.startswith(".")}
    assert set(written["mixed"]) == set(written["reference"])
    for file, path in written["mixed"].items():
        other = written["reference"][file]
        if fmt == "parquet":
            a, b = pd.read_parquet(path).drop(columns="run_id"), pd.read_parquet(other).drop(columns="run_id")
            assert len(a) == 3 * 60 * len(LANGS) and a.equals(b)
        elif fmt == "csv":
            a, b = pd.read_csv(path), pd.read_csv(other)
            a, b = (x.drop(columns=[c for c in ("run_id",) if c in x]) for x in (a, b))
            assert a.equals(b)
        else:
            assert path.read_text() == other.read_text(), file


def test_research_answer_reads_one_query_set(dbs, tmp_path):
    from core.findings import compute_and_store_findings, stored_findings

    answers = {}
    for name, db in (("mixed", dbs.mixed), ("reference", dbs.reference)):
        copy = _copy(db, tmp_path / f"{name}.duckdb")
        answers[name] = compute_and_store_findings(copy, "tatoeba", "pair")[0]
        with connect(copy, read_only=True) as conn:
            assert stored_findings(conn, "tatoeba", "pair") is not None, "stored and current"
    mixed, ref = answers["mixed"], answers["reference"]
    assert not ref.robustness.empty
    pd.testing.assert_frame_equal(mixed.robustness, ref.robustness)
    pd.testing.assert_frame_equal(mixed.tests, ref.tests)
    assert mixed.conditions == ref.conditions


# --- Read side: every dashboard page -------------------------------------------------------------------------


@pytest.fixture
def use_db() -> Iterator:
    with pytest.MonkeyPatch.context() as mp:
        yield lambda path: mp.setenv("CLIR_DB", str(path))


def _page(name: str) -> AppTest:
    at = AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown(at: AppTest, db: Path) -> dict:
    """What a page shows, but the database's own path: its tables, its markdown and captions, its charts'
    data."""
    import pyarrow as pa

    def text(elements) -> list[str]:
        return [e.value.replace(str(db), "DB") for e in elements]

    return {
        "tables": [d.value.drop(columns=[c for c in ("run_id", "completed_at") if c in d.value]).reset_index(drop=True)
                   for d in at.dataframe],
        "markdown": text(at.markdown),
        "captions": text(at.caption),
        "charts": [pa.ipc.open_stream(c.proto.datasets[0].data.data).read_all().to_pandas()
                   for c in at.get("vega_lite_chart") if c.proto.datasets],
    }  # fmt: skip


def _notices(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def _same(a: dict, b: dict) -> None:
    assert a["markdown"] == b["markdown"] and a["captions"] == b["captions"]
    assert len(a["tables"]) == len(b["tables"]) and len(a["charts"]) == len(b["charts"])
    for x, y in zip(a["tables"] + a["charts"], b["tables"] + b["charts"]):
        pd.testing.assert_frame_equal(x, y)


@pytest.mark.parametrize("name", ["curves", "per_query", "findings", "runs"])
def test_every_page_shows_one_query_set_and_the_notice(dbs, use_db, name):
    shown = {}
    for which, db in (("mixed", dbs.mixed), ("reference", dbs.reference)):
        use_db(db)
        at = _page(name)
        notices = _notices(at)
        if which == "reference":
            assert "left out" not in notices
        elif name == "per_query":  # one language's page: its own cells
            assert "deu: 3 cells over 20 queries left out" in notices and "fra:" not in notices, notices
        else:
            assert "deu: 3 cells over 20 queries left out" in notices, notices
            assert "fra: 3 cells over 20 queries left out" in notices, notices
        if name == "curves":
            # The relative scale (AUC, half-level) of the same selection.
            at.radio(key="curves_scale").set_value("relative to clean").run()
            assert at.select_slider(key="curves_heat_level").options == ["0.1", "0.3"]
        if name == "runs":
            at.button(key="runs_prepare").click().run()
            csv = pd.read_csv(io.BytesIO(at.session_state["runs_export"][1])).drop(columns="run_id")
            assert set(csv["level"]) == {0.0, 0.1, 0.3} and len(csv) == 3 * 60 * len(LANGS)
        assert not at.exception, [e.value for e in at.exception]
        shown[which] = _shown(at, db)
        if name == "runs":
            # The run history differs by construction (two runs against one): compare what is computed from
            # the cells: the latest grid's coverage, the export's size and rows.
            shown[which] = {"tables": [csv], "charts": shown[which]["charts"], "captions": [],
                            "markdown": [m for m in shown[which]["markdown"] if "per-query rows" in m]}  # fmt: skip
    _same(shown["mixed"], shown["reference"])
