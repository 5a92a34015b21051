"""The dashboard at scale: aggregates (``cell_stats``) equal a recomputation from ``ranks`` on a real run and
after every write path that replaces or deletes rank rows, and every page renders on a database built by the
full-scale benchmark's generator (small size), with shown numbers equal to SQL over ``ranks``."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.store import connect
from core.store import writes as w
from dashboard import components as ui
from dashboard.views import curves, findings, per_query, runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_cell_stats import assert_stats_equal  # noqa: E402
from test_level_stats import assert_level_stats_equal  # noqa: E402

pytestmark = pytest.mark.slow  # builds a large generated database and renders pages on it

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def tables(db) -> tuple[pd.DataFrame, pd.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute("SELECT * FROM cell_stats").df(), conn.execute("SELECT * FROM ranks").df()


def test_aggregates_equal_ranks_on_a_real_muse3_run(small_db):
    stats, ranks = tables(small_db)
    assert set(ranks["encoder"]) == {"muse3"} and len(ranks) > 0
    assert_stats_equal(stats, ranks)
    with duckdb.connect(str(small_db), read_only=True) as conn:
        assert_level_stats_equal(conn)


def test_replace_and_delete_keep_aggregates_equal_to_ranks(db_copy):
    with connect(db_copy) as conn:
        cells = conn.execute(
            "SELECT * FROM cells WHERE mode = 'pair' AND lang = 'deu' AND noise = 'substitute'"
        ).df()
        ranks = conn.execute(
            "SELECT * FROM ranks WHERE mode = 'pair' AND lang = 'deu' AND noise = 'substitute'"
        ).df()
        before = conn.execute("SELECT sum(sum_rr) FROM cell_stats WHERE lang = 'deu' AND noise = 'substitute' "
                              "AND mode = 'pair'").fetchall()[0][0]  # fmt: skip
        assert len(cells) == 1 and len(ranks) == 40
        ranks["rank"] = ranks["rank"] + 3  # a recomputed cell with other results replaces the stored one
        w.write_cells(conn, cells, ranks, pd.DataFrame())
    stats, all_ranks = tables(db_copy)
    assert_stats_equal(stats, all_ranks)
    after = stats.query("lang == 'deu' and noise == 'substitute' and mode == 'pair'")["sum_rr"].sum()
    assert after < before
    with connect(db_copy) as conn:
        assert w.delete_changed(conn, "tatoeba", ["amh"], []) > 0
    stats, all_ranks = tables(db_copy)
    assert "amh" not in set(stats["lang"]) and "amh" not in set(all_ranks["lang"])
    assert_stats_equal(stats, all_ranks)
    with duckdb.connect(str(db_copy), read_only=True) as conn:
        assert_level_stats_equal(conn)


@pytest.fixture(scope="module")
def synth_db(tmp_path_factory) -> Path:
    """A 200k-row database from benchmarks/full_scale.py's generator."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.full_scale import build, shape

    db = tmp_path_factory.mktemp("synth") / "synth.duckdb"
    assert build(db, shape(200_000), seed=5, progress=False) > 150_000
    return db


def page(module) -> AppTest:
    name = module.__name__.rsplit(".", 1)[1]
    return AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=TIMEOUT)


def ok(at: AppTest, title: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [title]


def sql(db, query: str, *params):
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(query, list(params)).fetchall()[0][0]


def test_generator_builds_consistent_tables_and_aggregates(synth_db):
    stats, ranks = tables(synth_db)
    assert_stats_equal(stats, ranks)
    with duckdb.connect(str(synth_db), read_only=True) as conn:
        assert_level_stats_equal(conn)
    with duckdb.connect(str(synth_db), read_only=True) as conn:
        per_cell = conn.execute("SELECT n_queries FROM cells").df()
        n_cells = conn.execute("SELECT count(*) FROM (SELECT DISTINCT dataset, mode, corpus, lang, encoder, noise, "
                               "level, seed FROM ranks)").fetchall()[0][0]  # fmt: skip
        bad_gold = conn.execute(
            "SELECT count(*) FROM ranks r WHERE rank <= 5 AND top_ids[rank] <> qid OR rank > n_docs OR rank < 1"
        ).fetchall()[0][0]
        orphans = conn.execute("SELECT count(*) FROM ranks r WHERE NOT EXISTS (SELECT 1 FROM queries x WHERE "
                               "x.lang = r.lang AND x.qid = r.qid)").fetchall()[0][0]  # fmt: skip
    assert n_cells == len(per_cell) and per_cell["n_queries"].sum() == len(ranks)
    assert bad_gold == 0 and orphans == 0
    assert ranks["query_noisy"].notna().all() and ranks["top_scores"].map(len).eq(5).all()
    assert 0.05 < (ranks["rank"] == 1).mean() < 0.95  # neither trivial nor hopeless


def test_pages_render_on_the_generated_db_with_numbers_equal_to_sql(synth_db, use_db):
    use_db(synth_db)
    at = page(curves).run()
    ok(at, curves.TITLE)
    assert len(at.get("vega_lite_chart")) == 2 and not at.get("plotly_chart")  # curves, heatmap
    table = next(d.value for d in at.dataframe if "AUC" in d.value.columns).set_index(["facet", "encoder"])
    noise = at.selectbox(key="curves_noise").value
    lang = sorted(table.index.get_level_values(0))[0]
    code = next(c for c in at.multiselect(key="curves_langs").value if ui.lang_name(c) == lang)
    enc = table.index.get_level_values(1)[0]
    mrr = "SELECT avg(1.0 / rank) FROM ranks WHERE lang = ? AND encoder = ? AND noise = ? AND level = ?"
    row = table.loc[(lang, enc)]
    assert row["clean MRR"] == pytest.approx(sql(synth_db, mrr, code, enc, "none", 0.0), abs=1e-9)
    assert row["MRR @0.2"] == pytest.approx(sql(synth_db, mrr, code, enc, noise, 0.2), abs=1e-9)
    assert row["n"] == sql(synth_db, "SELECT count(DISTINCT qid) FROM ranks WHERE lang = ?", code)
    pairwise = next(
        d.value for d in at.dataframe if "clean" in d.value.columns and "AUC" not in d.value.columns
    )
    assert len(pairwise) == 2 and pairwise.iloc[0, 0].split()[1] in ("***", "**", "*", "n.s.")

    at = page(per_query).run()
    ok(at, per_query.TITLE)
    table = at.dataframe(key="pq_table").value
    lang, noise = at.selectbox(key="pq_lang").value, at.selectbox(key="pq_noise").value
    enc = next(c.split(" ")[0] for c in table.columns if c.endswith(" clean"))
    assert len(table) == sql(synth_db, "SELECT count(*) FROM queries WHERE lang = ?", lang)
    rank = "SELECT rank FROM ranks WHERE lang = ? AND encoder = ? AND qid = ? AND noise = ? AND level = ? AND seed = ?"
    level, seed = at.select_slider(key="pq_level").value, at.selectbox(key="pq_seed").value
    for qid, clean, noisy in table[["qid", f"{enc} clean", f"{enc} noisy"]].head(5).itertuples(index=False):
        assert clean == sql(synth_db, rank, lang, enc, qid, "none", 0.0, 0)
        assert noisy == sql(synth_db, rank, lang, enc, qid, noise, level, seed)

    at = page(runs).run()
    ok(at, runs.TITLE)
    n_rows = sql(synth_db, "SELECT count(*) FROM ranks WHERE noise IN ('none', ?)",
                 at.multiselect(key="runs_noise").value[0])  # fmt: skip
    assert any(f"**{n_rows:,}** per-query rows" in m.value for m in at.markdown)

    at = page(findings).run()
    ok(at, findings.TITLE)
    assert at.get("plotly_chart") or at.markdown


def test_runs_export_refuses_a_selection_over_the_limit(synth_db, use_db, monkeypatch):
    use_db(synth_db)
    monkeypatch.setattr(runs, "EXPORT_MAX_ROWS", 1000)
    at = page(runs).run()
    ok(at, runs.TITLE)
    assert any("more than the 1,000" in x.value for x in at.warning)
    assert "Download CSV" not in [b.proto.label for b in at.get("download_button")]
    assert np.isfinite(sql(synth_db, "SELECT count(*) FROM ranks"))


def test_findings_at_scale_needs_the_stored_answer_and_shows_it(synth_db, use_db, tmp_path, monkeypatch):
    import shutil

    from core.findings import compute_and_store_findings
    from dashboard import data

    db = tmp_path / "copy.duckdb"
    shutil.copy(synth_db, db)
    use_db(db)
    monkeypatch.setattr(data, "RESEARCH_LIVE_MAX_ROWS", 1000)  # this small DB stands in for a full study
    at = page(findings).run()
    ok(at, findings.TITLE)
    assert any("precompute findings" in x.value for x in at.warning)
    compute_and_store_findings(db, "synth", "pair")
    at = page(findings).run()
    ok(at, findings.TITLE)
    assert not any("precompute findings" in x.value for x in at.warning)
    assert at.get("plotly_chart")


@pytest.fixture(scope="module")
def many_langs(tmp_path_factory):
    """(path, dims) of a synthetic database with more languages than Curves draws panels for; built once for
    the tests that read it (the dashboard only reads)."""
    from benchmarks.full_scale import build, shape

    db = tmp_path_factory.mktemp("many") / "many.duckdb"
    dims = shape(60_000, langs=curves.MAX_LANGUAGE_PANELS + 2)
    build(db, dims, seed=1, progress=False)
    return db, dims


def test_curves_of_many_languages_default_to_resource_class_panels(use_db, many_langs):
    db, dims = many_langs
    use_db(db)
    at = page(curves).run()
    ok(at, curves.TITLE)
    assert at.radio(key="curves_facet").value == "resource class"
    table = next(d.value for d in at.dataframe if "AUC" in d.value.columns)
    assert len(table) < dims["langs"] * len(dims["encoders"])  # grouped, not one row per language
    at.radio(key="curves_facet").set_value("language").run()
    ok(at, curves.TITLE)
    table = next(d.value for d in at.dataframe if "AUC" in d.value.columns)
    assert len(table) == dims["langs"] * len(dims["encoders"])


def test_curves_of_many_languages_build_heatmap_and_pairwise_on_demand(use_db, many_langs):
    db, dims = many_langs
    use_db(db)
    at = page(curves).run()
    ok(at, curves.TITLE)
    labels = [e.label for e in at.get("expander")]
    assert "Relative drop by language and pairwise comparison" in labels
    assert len(at.get("vega_lite_chart")) == 1  # the curves; no heatmap while the section is closed
    assert not any("clean" in d.value.columns and "AUC" not in d.value.columns for d in at.dataframe)
    assert len(at.dataframe) == 1  # the robustness table; the language table is built when opened too
    at.session_state["curves_extras_open"] = True  # the user opens the section
    at.session_state["languages_expander"] = True
    at.run()
    ok(at, curves.TITLE)
    assert len(at.get("vega_lite_chart")) == 2 and not at.get("plotly_chart")  # curves and heatmap
    pairwise = next(
        d.value for d in at.dataframe if "clean" in d.value.columns and "AUC" not in d.value.columns
    )
    assert len(pairwise) == dims["langs"]
    assert any("seen by" in " ".join(map(str, d.value.columns)) for d in at.dataframe)  # the language table
