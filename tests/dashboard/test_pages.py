"""AppTest over every page on the small real DB: no exception, the heading is the page title, changing
widgets changes what is shown, and on each page at least one shown number equals the database's value."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import components as ui
from dashboard.views import curves, findings, live_search, per_query, runs

pytestmark = pytest.mark.slow  # AppTest renders of every page, damaged databases included

TIMEOUT = 120


def page(module) -> AppTest:
    name = module.__name__.rsplit(".", 1)[1]
    return AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=TIMEOUT)


def ok(at: AppTest, title: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [title]


def stored(db, sql: str, *params):
    """The first value of ``sql`` over the database, read directly (not through the dashboard)."""
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()[0][0]


def chart_specs(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("plotly_chart")]


def vega_charts(at: AppTest) -> list[tuple[dict, pd.DataFrame]]:
    """Each Vega-Lite chart on the page: its spec and its data (the first dataset)."""
    return [(json.loads(c.proto.spec), pa.ipc.open_stream(c.proto.datasets[0].data.data).read_all().to_pandas())
            for c in at.get("vega_lite_chart")]  # fmt: skip


def html_bodies(at: AppTest) -> str:
    return "".join(h.proto.body for h in at.get("html"))


def test_app_entry_point_shows_the_findings_page(small_db):
    at = AppTest.from_file("../../dashboard/app.py", default_timeout=TIMEOUT).run()
    ok(at, findings.TITLE)
    assert chart_specs(at)


def test_curves_widgets_change_the_chart(small_db):
    at = page(curves).run()
    ok(at, curves.TITLE)
    assert not chart_specs(at)  # no plotly.js on this page: curves and heatmap are drawn by Vega-Lite
    (spec, base), (_, heat) = vega_charts(at)
    # The heatmap's cells are 1 - MRR(level) / MRR(clean) of the stored ranks.
    level, noise = at.select_slider(key="curves_heat_level").value, at.selectbox(key="curves_noise").value
    mode = at.selectbox(key="curves_mode").value
    mrr = "SELECT avg(1.0 / rank) FROM ranks WHERE mode = ? AND lang = 'amh' AND encoder = 'muse3' AND noise = ? AND level = ?"
    drop = heat.set_index(["encoder", "language"]).loc[("muse3", "amh"), "drop"]
    want = 1 - stored(small_db, mrr, mode, noise, level) / stored(small_db, mrr, mode, "none", 0.0)
    assert drop == pytest.approx(want, abs=1e-9)
    assert set(base["encoder"]) >= {"muse3"} and spec["facet"]["field"] == "panel"
    at.selectbox(key="curves_metric").select("accuracy@1 (recall@1)").run()
    ok(at, curves.TITLE)
    _, acc = vega_charts(at)[0]
    assert not acc["y"].equals(base["y"])
    at.radio(key="curves_scale").set_value("relative to clean").run()
    _, relative = vega_charts(at)[0]
    clean = relative.query("kind == 'curve' and level == 0")["y"]  # NaN where the clean value is 0
    assert clean.notna().any() and clean.dropna().eq(1.0).all()
    at.radio(key="curves_facet").set_value("resource class").run()
    ok(at, curves.TITLE)
    _, by_class = vega_charts(at)[0]
    assert set(by_class["panel"]) != set(relative["panel"])
    # The chart shows the page's numbers: each point and band is the curve table's.
    table = next(d.value for d in at.dataframe if "AUC" in d.value.columns)
    assert len(by_class.query("kind == 'curve' and level == 0")) == len(table)
    table = next(d.value for d in at.dataframe if "AUC" in d.value.columns)
    assert {"AUC", "half-level", "n"} <= set(table.columns)
    at.radio(key="curves_facet").set_value("language").run()
    at.selectbox(key="curves_metric").select("MRR").run()
    table = next(d.value for d in at.dataframe if "AUC" in d.value.columns).set_index("facet")
    mode = at.selectbox(key="curves_mode").value
    row = table.loc[ui.lang_name("amh")]
    mrr = "SELECT avg(1.0 / rank) FROM ranks WHERE mode = ? AND lang = 'amh' AND noise = ? AND level = ?"
    assert row["clean MRR"] == pytest.approx(stored(small_db, mrr, mode, "none", 0.0), abs=1e-9)
    assert row["MRR @0.1"] == pytest.approx(stored(small_db, mrr, mode, "substitute", 0.1), abs=1e-9)
    at.multiselect(key="curves_langs").set_value([]).run()
    ok(at, curves.TITLE)
    assert any("at least one" in i.value for i in at.info)


def test_per_query_filters_and_detail(small_db):
    at = page(per_query).run()
    ok(at, per_query.TITLE)
    table = at.dataframe(key="pq_table").value
    assert {"query", "noisy query", "muse3 clean", "muse3 noisy", "muse3 drop", "muse3 flips"} <= set(
        table.columns
    )
    n_all = len(table)
    assert n_all == 40
    mode, lang = at.selectbox(key="pq_mode").value, at.selectbox(key="pq_lang").value
    for qid, clean, noisy in table[["qid", "muse3 clean", "muse3 noisy"]].head(5).itertuples(index=False):
        rank = "SELECT rank FROM ranks WHERE mode = ? AND lang = ? AND qid = ? AND noise = ?"
        assert (clean, noisy) == (stored(small_db, rank, mode, lang, qid, "none"),
                                  stored(small_db, rank, mode, lang, qid, "substitute"))  # fmt: skip
    assert "Gold document" in html_bodies(at) and "Noisy (substitute @ 0.1)" in html_bodies(at)
    at.radio(key="pq_filter").set_value(per_query.FILTERS[2]).run()
    ok(at, per_query.TITLE)
    broke = at.dataframe(key="pq_table").value
    assert len(broke) < n_all
    assert ((broke["muse3 clean"] == 1) & (broke["muse3 noisy"] > 1)).all()
    at.selectbox(key="pq_lang").select("deu").run()
    ok(at, per_query.TITLE)
    assert any("German" in c.value for c in at.caption)
    last = int(at.selectbox(key="pq_qid").options[-1].split(":")[0])
    at.selectbox(key="pq_qid").set_value(last).run()
    ok(at, per_query.TITLE)
    assert f"Query {last}" in [h.value for h in at.subheader]


def test_live_search_amharic_and_widgets(small_db):
    at = page(live_search).run()
    ok(at, live_search.TITLE)
    assert at.selectbox(key="live_lang").value == "amh"
    # The box starts with the first example from the data, so the page opens on results.
    text = at.text_input(key="live_q").value
    qid = stored(small_db, "SELECT qid FROM queries WHERE lang = 'amh' AND text = ?", text)
    first = html_bodies(at)
    assert "Gold document" in first or "gold document" in first
    assert any("ms" in m.value for m in at.metric if m.label.startswith("latency"))
    clean_top, noisy_top = at.dataframe[0].value, at.dataframe[1].value
    assert len(clean_top) == 5 and clean_top["cosine"].is_monotonic_decreasing
    assert noisy_top["cosine"].is_monotonic_decreasing
    # The default noise (substitute @ 0.1, seed 0) is a stored condition: the live ranks are the stored ones.
    assert (at.selectbox(key="live_noise").value, at.slider(key="live_level").value) == ("substitute", 0.1)
    where = "mode = 'pair' AND lang = 'amh' AND level = ? AND noise = ? AND seed = 0 AND qid = ?"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["gold rank, clean"] == str(stored(small_db, f"SELECT rank FROM ranks WHERE {where}", 0.0,
                                                      "none", qid))  # fmt: skip
    assert metrics["gold rank, noisy"] == str(stored(small_db, f"SELECT rank FROM ranks WHERE {where}", 0.1,
                                                      "substitute", qid))  # fmt: skip
    best = stored(small_db, f"SELECT top_scores[1] FROM ranks WHERE {where}", 0.1, "substitute", qid)
    assert noisy_top["cosine"].iloc[0] == pytest.approx(best, abs=1e-3)
    # Every document of the noisy top-k carries its move against the clean ranking.
    assert noisy_top["change"].str.match(r"^(=|▲ \d+|▼ \d+|clean #[\d,]+)$").all()
    # A new noise sample is the next seed: the noisy text changes, the clean side does not.
    at.button(key="live_resample").click().run()
    ok(at, live_search.TITLE)
    assert at.number_input(key="live_seed").value == 1
    assert at.dataframe[0].value.equals(clean_top)
    assert html_bodies(at) != first
    # An example pill puts its query in the box and searches it.
    pills = at.get("button_group")
    assert pills, "examples are offered"
    at.slider(key="live_level").set_value(0.3).run()
    ok(at, live_search.TITLE)
    assert html_bodies(at) != first


HOSTILE = {
    "empty": ("", "info"),
    "long": ("ሀ" * 10_000, "error"),
    "nul": ("ሰላም\x00world", "error"),
    "rtl": ("\u202eمرحبا بالعالم\u202c", None),
    "zwj": ("👩\u200d👩\u200d👧 family", None),
    "html": ("<script>alert(1)</script><b>bold</b>", None),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_live_search_hostile_input(small_db, case):
    text, outcome = HOSTILE[case]
    at = page(live_search).run()
    at.slider(key="live_level").set_value(0.0).run()  # no edits: the text must come back intact, escaped
    at.text_input(key="live_q").input(text).run()
    ok(at, live_search.TITLE)
    if outcome == "error":
        assert at.error and not at.metric
    elif outcome == "info":
        assert any("empty" in i.value for i in at.info)
    else:
        assert at.metric, "a valid query is searched"
        body = html_bodies(at)
        assert "<script" not in body and "<b>" not in body
        if case == "html":
            assert "&#60;script&#62;" in body


def test_check_query_refuses_lone_surrogates_and_controls():
    assert live_search.check_query("abc\ud800def") is not None
    assert live_search.check_query("a\x07b") is not None
    assert live_search.check_query("x" * (live_search.MAX_CHARS + 1)) is not None
    assert live_search.check_query("ሰላም ዓለም") is None


def test_runs_coverage_exports_and_report(small_db):
    at = page(runs).run()
    ok(at, runs.TITLE)
    charts = at.get("vega_lite_chart")  # the coverage heatmap, drawn by Vega-Lite
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rect", "text"]
    cells = pa.ipc.open_stream(charts[0].proto.datasets[0].data.data).read_all().to_pandas()
    assert len(cells) == 2 and set(cells["cells"]) == {"4/4"} and cells["mean"].eq(1.0).all()  # 8 cells
    assert any(
        "**8** of 8 cells" in m.value and "cells of its grid are stored" in m.value for m in at.markdown
    )
    # The export is built on request only (reading a large selection on every page load cost seconds).
    assert not {"Download CSV", "Download Parquet"} & {b.proto.label for b in at.get("download_button")}
    before = [m.value for m in at.markdown if "per-query rows" in m.value]
    n_rows = stored(small_db, "SELECT count(*) FROM ranks WHERE mode = ? AND noise IN ('none', 'substitute')",
                    at.selectbox(key="runs_mode").value)  # fmt: skip
    assert f"**{n_rows:,}** per-query rows" in before[0]
    at.button(key="runs_prepare").click().run()
    ok(at, runs.TITLE)
    assert {"Download CSV", "Download Parquet"} <= {b.proto.label for b in at.get("download_button")}
    csv_rows = at.session_state["runs_export"][1].decode("utf-8").strip().splitlines()
    assert len(csv_rows) == n_rows + 1 and csv_rows[0].startswith("dataset,mode,corpus,lang,encoder")
    at.multiselect(key="runs_langs").set_value(["amh"]).run()
    after = [m.value for m in at.markdown if "per-query rows" in m.value]
    assert before != after
    # The prepared export belongs to the previous selection: not offered for this one.
    assert "Download CSV" not in [b.proto.label for b in at.get("download_button")]
    at.button(key="runs_build_report").click().run()
    ok(at, runs.TITLE)
    assert "Download HTML report" in [b.proto.label for b in at.get("download_button")]
    report = at.session_state["runs_report"]
    assert "Plotly.newPlot" in report and "<script src=" not in report and "Robustness summary" in report


def test_missing_db_gives_a_message(use_db, tmp_path):
    use_db(tmp_path / "nope.duckdb")
    for module in (curves, per_query, live_search, runs):
        at = page(module).run()
        ok(at, module.TITLE)
        assert any("No results database" in i.value for i in at.info)


def test_empty_and_foreign_db_give_a_message(use_db, tmp_path):
    from core.store import connect

    empty = tmp_path / "empty.duckdb"
    with connect(empty):
        pass  # migrated schema, no cells
    use_db(empty)
    at = page(curves).run()
    ok(at, curves.TITLE)
    assert any("holds no results" in i.value for i in at.info)
    foreign = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE t (x INTEGER)").fetchall()
    con.close()
    use_db(foreign)
    at = page(per_query).run()
    ok(at, per_query.TITLE)
    assert any("cannot be read" in w.value for w in at.warning)


def test_missing_cell_gives_a_message(use_db, db_copy):
    con = duckdb.connect(str(db_copy))
    con.execute("DELETE FROM ranks WHERE lang = 'deu' AND noise = 'none'").fetchall()
    con.close()
    use_db(db_copy)
    at = page(per_query).run()
    at.selectbox(key="pq_lang").select("deu").run()
    ok(at, per_query.TITLE)
    assert any("No clean and noisy ranks" in w.value for w in at.warning)


def test_runs_shows_background_job_progress(use_db, db_copy):
    import json

    from core.jobs import status_path

    status_path(db_copy).write_text(json.dumps(
        {"stage": "training simcse", "done": 3, "total": 10, "message": "epoch 1", "updated_at": "now"}
    ))  # fmt: skip
    use_db(db_copy)
    at = page(runs).run()
    ok(at, runs.TITLE)
    bars = at.get("progress")
    assert bars and "training simcse" in bars[0].proto.text and bars[0].proto.value == 30


@pytest.mark.parametrize("frac", [0.3, 0.5, 0.8, 0.99])
def test_damaged_database_is_one_line_on_every_page(use_db, small_db, tmp_path, frac):
    """A truncated file never shows a traceback. Where the cut removes blocks that the file's header
    declares in use, every page says so in one line; past that, DuckDB reads blocks lazily, so a page whose
    blocks all lie before the cut may still render, and it must then render without error."""
    import duckdb

    data = small_db.read_bytes()
    damaged = tmp_path / "damaged.duckdb"
    damaged.write_bytes(data[: int(len(data) * frac)])
    with duckdb.connect(str(small_db), read_only=True) as conn:
        row = conn.execute("PRAGMA database_size").fetchall()[0]
        info = dict(zip([d[0] for d in conn.description], row))
    surely_short = len(data) * frac < info["used_blocks"] * info["block_size"]
    use_db(damaged)
    for module in (curves, per_query, live_search, runs):
        at = page(module).run()
        assert not at.exception, (module.TITLE, at.exception)
        messages = [w.value for w in at.warning] + [e.value for e in at.error]
        if surely_short:
            assert any("damaged or truncated" in m for m in messages), (module.TITLE, messages)
        for m in messages:
            assert "\n" not in m and "Traceback" not in m and ".py" not in m, m


def test_runs_builds_the_stored_cells_table_only_when_opened(use_db, db_copy):
    with duckdb.connect(str(db_copy)) as conn:  # a partial grid: some cells missing
        conn.execute("DELETE FROM cells WHERE lang = 'amh' AND noise = 'substitute'")
        n_cells = conn.execute("SELECT count(*) FROM cells").fetchall()[0][0]
    use_db(db_copy)
    at = page(runs).run()
    ok(at, runs.TITLE)
    labels = [e.label for e in at.get("expander")]
    assert f"Stored cells by condition ({n_cells:,})" in labels and any(
        "Missing cells (" in x for x in labels
    )
    tables = [d.value for d in at.dataframe]
    assert not any("completed_at" in t.columns for t in tables)  # neither the stored nor the missing cells
    at.session_state["runs_stored_open"] = True
    at.session_state["runs_missing_open"] = True
    at.run()
    ok(at, runs.TITLE)
    stored_table = next(d.value for d in at.dataframe if "completed_at" in d.value.columns)
    assert stored_table["cells"].sum() == n_cells
    missing = next(d.value for d in at.dataframe if list(d.value.columns) == list(runs.CELL_COLUMNS))
    assert set(missing["lang"]) == {"amh"} and set(missing["noise"]) == {"substitute"}
    # The hash join gives the same flags as comparing every cell's key tuple.
    cov = runs.coverage_against(json.loads(q_runs(db_copy)), stored_rows(db_copy))
    have = set(map(tuple, stored_rows(db_copy)[list(runs.CELL_COLUMNS)].itertuples(index=False)))
    assert cov["stored"].tolist() == [
        tuple(r) in have for r in cov[list(runs.CELL_COLUMNS)].itertuples(index=False)
    ]
    assert (~cov["stored"]).sum() == len(missing)


def q_runs(db) -> str:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute("SELECT grid_json FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()[0][0]


def stored_rows(db):
    from core.store import queries as q

    with duckdb.connect(str(db), read_only=True) as conn:
        return q.coverage(conn)


def test_per_query_flip_chart_is_vega_lite_with_the_stored_ranks(small_db):
    at = page(per_query).run()
    ok(at, per_query.TITLE)
    assert not at.get("plotly_chart")  # no plotly.js on this page: it delayed the table by seconds
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1
    shown = pa.ipc.open_stream(charts[0].proto.datasets[0].data.data).read_all().to_pandas()
    qid, lang = at.selectbox(key="pq_qid").value, at.selectbox(key="pq_lang").value
    mode, noise = at.selectbox(key="pq_mode").value, at.selectbox(key="pq_noise").value
    for enc, level, rank in shown[["encoder", "level", "rank"]].itertuples(index=False):
        want = stored(small_db, "SELECT rank FROM ranks WHERE mode = ? AND lang = ? AND encoder = ? AND qid = ? AND "
                      "level = ? AND noise = (CASE WHEN ? = 0 THEN 'none' ELSE ? END) AND seed = 0",
                      mode, lang, enc, qid, level, level, noise)  # fmt: skip
        assert rank == want
    assert sorted(shown["level"]) == [0.0, 0.1]


def test_live_search_remembers_a_repeated_query_and_computes_a_new_one(small_db):
    from core.encoders import document_side
    from dashboard import data

    enc, err = data.encoder("muse3")
    assert enc is not None, err
    corpus = stored(small_db, "SELECT corpus FROM cells WHERE mode = 'pair' AND lang = 'deu' LIMIT 1")
    index = data.doc_index("muse3", document_side(enc).fingerprint, corpus, data.stamp(), "flat")
    first = data.search_cached("muse3", index, ["Ich habe Hunger.", "Ich habe Hungr."], 5)
    again = data.search_cached("muse3", index, ["Ich habe Hunger.", "Ich habe Hungr."], 5)
    fresh = data.search("muse3", index, ["Ich habe Hunger.", "Ich habe Hungr."], 5)
    assert (
        (again[0] == first[0]).all() and (again[1] == first[1]).all() and again[2] == first[2]
    )  # remembered
    assert (fresh[0] == first[0]).all() and np.allclose(fresh[1], first[1], atol=1e-6)  # the same answer
    other = data.search_cached("muse3", index, ["Wo ist der Bahnhof?", "Wo ist der Banhof?"], 5)
    assert not np.array_equal(other[1], first[1])


def _toy_curve(encoders: list[str]) -> pd.DataFrame:
    rows = [{"facet": "deu", "encoder": e, "level": lvl, "value": v, "low": v - 0.05, "high": v + 0.05,
             "rel": v / 0.9, "rel_low": (v - 0.05) / 0.9, "rel_high": (v + 0.05) / 0.9, "n": 100}
            for e in encoders for lvl, v in ((0.0, 0.9), (0.1, 0.7))]  # fmt: skip
    return pd.DataFrame(rows)


def test_every_encoder_of_a_large_database_is_drawn_distinctly():
    names = [f"enc{i:02d}" for i in range(len(curves.PALETTE) * len(curves.DASHES))]
    looks = [curves.style(n, names) for n in names]
    assert len(set(looks)) == len(names)  # no two encoders share colour and dash
    first = looks[: len(curves.PALETTE)]
    assert len({c for c, _ in first}) == len(first) >= 12 and {d for _, d in first} == {curves.DASHES[0]}

    kw = {"relative": False, "metric_label": "MRR", "all_encoders": names, "facet_labels": {}}
    solid = curves.chart(_toy_curve(names[:12]), **kw).to_dict()
    assert not _find_key(solid, "strokeDash")  # up to 12 encoders: colours alone, solid lines
    shown = names[10:14]
    (dash,) = _find_key(curves.chart(_toy_curve(shown), **kw).to_dict(), "strokeDash")
    assert dash["scale"]["domain"] == shown
    assert dash["scale"]["range"] == [[1, 0], [1, 0], [6, 3], [6, 3]]
    fig = curves.figure(_toy_curve(shown), **kw)
    lines = {t.name: t.line for t in fig.data if t.mode == "lines+markers"}
    assert lines["enc11"].dash == "solid" and lines["enc12"].dash == "12px,6px"
    assert lines["enc12"].color == curves.color("enc00", names) != lines["enc11"].color


def _find_key(spec, key: str) -> list:
    """Every value stored under ``key`` anywhere in a nested JSON-like ``spec``."""
    if isinstance(spec, dict):
        return [v for k, v in spec.items() if k == key] + [
            x for v in spec.values() for x in _find_key(v, key)
        ]
    if isinstance(spec, list):
        return [x for v in spec for x in _find_key(v, key)]
    return []


@pytest.mark.parametrize(("n_langs", "every_label"), [(9, True), (40, False)])
def test_heatmaps_show_whole_language_names_and_every_one_that_fits(n_langs, every_label):
    langs = [f"l{i:02d}" for i in range(n_langs)]
    cov = pd.DataFrame({"encoder": "muse3", "lang": langs, "stored": True})
    curve = pd.DataFrame({"facet": langs * 2, "encoder": "muse3", "level": [0.0] * n_langs + [0.1] * n_langs,
                          "rel": [1.0] * n_langs + [0.5] * n_langs})  # fmt: skip
    for spec in (runs.coverage_chart(cov).to_dict(), curves.heatmap_chart(curve, 0.1, {}).to_dict()):
        (x,) = {json.dumps(v, sort_keys=True) for v in _find_key(spec, "x") if v.get("field") == "language"}
        axis = json.loads(x)["axis"]
        assert axis["labelLimit"] >= 400 and axis["labelOverlap"] is (not every_label)
