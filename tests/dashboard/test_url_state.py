"""Links that reproduce a view: every page's selection is in the URL; opening it restores the view; invalid
parameters fall back to defaults with a notice, never an error (AppTest on the small real DB)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import url_state as url
from dashboard.views import curves, findings, live_search, per_query, runs

pytestmark = pytest.mark.slow  # two AppTest sessions per page

TIMEOUT = 120


def page(module, params: dict[str, str] | None = None) -> AppTest:
    name = module.__name__.rsplit(".", 1)[1]
    at = AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=TIMEOUT)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    return at.run()


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def params(at: AppTest) -> dict[str, str]:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def notices(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


@pytest.mark.parametrize("module", [curves, per_query, live_search, runs, findings])
def test_a_copied_url_restores_the_view_in_a_fresh_session(small_db, module):
    first = page(module)
    clean(first)
    # Change something a user would, so the link differs from the defaults.
    if module is curves:
        first.radio(key="curves_scale").set_value("relative to clean").run()
        first.multiselect(key="curves_langs").set_value(["amh"]).run()
    elif module is per_query:
        first.radio(key="pq_filter").set_value(per_query.FILTERS[2]).run()
    elif module is live_search:
        first.text_input(key="live_q").input("ሰላም ለሁሉም").run()
        first.slider(key="live_level").set_value(0.3).run()
    elif module is runs:
        first.multiselect(key="runs_langs").set_value(["deu"]).run()
    elif module is findings:
        first.selectbox(key="findings_mode").select("pooled").run()
    clean(first)
    link = params(first)
    assert link, "the view is in the URL"
    again = page(module, link)
    clean(again)
    assert params(again) == link
    assert not notices(again)
    shown = {w.key: w.value for w in [*first.selectbox, *first.multiselect, *first.radio, *first.slider,
                                      *first.text_input] if w.key}  # fmt: skip
    restored = {w.key: w.value for w in [*again.selectbox, *again.multiselect, *again.radio, *again.slider,
                                         *again.text_input] if w.key}  # fmt: skip
    assert restored == shown


def test_curves_link_sets_every_selector(small_db):
    at = page(curves, {"metric": "accuracy@1 (recall@1)", "langs": "deu", "scale": "relative to clean",
                       "facet": "all languages pooled", "mode": "pooled"})  # fmt: skip
    clean(at)
    assert at.selectbox(key="curves_metric").value == "accuracy@1 (recall@1)"
    assert at.multiselect(key="curves_langs").value == ["deu"]
    assert at.radio(key="curves_scale").value == "relative to clean"
    assert at.selectbox(key="curves_mode").value == "pooled"


def test_invalid_parameters_fall_back_with_a_notice(small_db):
    at = page(curves, {"noise": "bogus", "langs": "deu,xxx", "metric": "`<b>x</b>`", "scale": "",
                       "nonsense": "1"})  # fmt: skip
    clean(at)
    assert at.selectbox(key="curves_noise").value == "substitute"
    assert at.multiselect(key="curves_langs").value == ["deu"]  # the known language is kept
    assert at.selectbox(key="curves_metric").value == "MRR"
    text = notices(at)
    assert "`noise`" in text and "bogus" in text and "xxx" in text
    assert "<b>" in text and "`<b>" not in text  # shown inside a code span, backticks neutralised
    assert params(at)["noise"] == "substitute"  # the URL now says what is shown


def test_live_search_from_a_link_searches_and_rejects_bad_numbers(small_db):
    at = page(live_search, {"q": "ሰላም ዓለም", "level": "9", "seed": "abc", "k": "10"})
    clean(at)
    assert at.text_input(key="live_q").value == "ሰላም ዓለም"
    assert at.slider(key="live_level").value == pytest.approx(0.1)  # 9 is outside 0-0.5
    assert at.number_input(key="live_seed").value == 0
    assert "`level`" in notices(at) and "`seed`" in notices(at)
    assert at.metric, "the linked query was searched"
    hostile = page(live_search, {"q": "a\x00b"})
    clean(hostile)
    assert "NUL" in notices(hostile)


def test_app_drops_parameters_no_page_uses(small_db):
    at = AppTest.from_file("../../dashboard/app.py", default_timeout=TIMEOUT)
    at.query_params["nonsense"] = "1"
    at.run()
    clean(at)
    assert "nonsense" in notices(at) and "not used on this page" in notices(at)
    assert "nonsense" not in params(at)


def test_link_and_param_forms():
    assert url.param("curves_heat_level") == "heat_level"
    assert (
        url.link("curves", langs=["amh", "deu"], level=0.2, corpus=None) == "curves?langs=amh%2Cdeu&level=0.2"
    )
    assert url.link("runs") == "runs"
