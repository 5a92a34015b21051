"""The Findings and Curves pages on a database of two datasets, one multi-way parallel (``flores200``, eleven
FLORES-200 codes of several classes and scripts) and ``tatoeba``, written with the store's own writers
(``conftest.build_multiway_db``): the dataset selector switches the answer, the per-language panel is there
for flores200 only, its correlation equals one computed from the ranks table directly, and each language is
marked seen / unseen per model."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pytest
from scipy.stats import spearmanr
from streamlit.testing.v1 import AppTest

from core.languages import load_languages
from tests.dashboard.conftest import FLORES_LANGS, MULTIWAY_UNSEEN

pytestmark = pytest.mark.slow  # AppTest renders over multi-way databases

TIMEOUT = 120
PANEL = "Every language: relative drop against resource class and script"


@pytest.fixture
def on_multiway(multiway_db, monkeypatch):
    monkeypatch.setenv("CLIR_DB", str(multiway_db))
    return multiway_db


def _page(name: str) -> AppTest:
    return AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=TIMEOUT)


def _text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def _direct_rho(db, encoder: str) -> tuple[float, int]:
    """Spearman's rho of resource class and mean relative drop at 0.2 over the classified languages above the
    floor, from the ranks table and scipy alone (no project code)."""
    classes = {code: lang.resource_class for code, lang in load_languages().items()}
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            """
            SELECT lang, avg(1.0 / rank) FILTER (noise = 'none') AS clean,
                   (avg(1.0 / rank) FILTER (noise = 'substitute') + avg(1.0 / rank) FILTER (noise = 'delete')) / 2
                   AS noisy
            FROM ranks WHERE dataset = 'flores200' AND encoder = ? GROUP BY lang
            """,
            [encoder],
        ).fetchall()
    used = [(classes[lang], 1 - noisy / clean) for lang, clean, noisy in rows
            if clean >= 0.3 and classes.get(lang) is not None]  # fmt: skip
    x, y = zip(*used)
    return float(spearmanr(x, y).statistic), len(used)


def test_findings_switch_datasets_and_show_the_multiway_panel_only_for_flores(on_multiway):
    at = _page("findings").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="findings_dataset").value == "flores200"  # the first dataset, named
    assert at.selectbox(key="findings_dataset").options == ["FLORES-200 (flores200)", "Tatoeba (tatoeba)"]
    text = _text(at)
    # The headline names the dataset and is over the languages no compared model trained on, counted.
    assert f"On FLORES-200, over the {len(MULTIWAY_UNSEEN)} of {len(FLORES_LANGS)} languages that no compared " \
           "model trained on, low-resource (3 of them), noise level 0.2" in text  # fmt: skip
    assert any("Multi-way parallel data: the headline, the robustness table and the tests are over the 4 "
               "languages no compared model trained on" in c.value for c in at.caption)  # fmt: skip
    assert PANEL in [h.value for h in at.subheader]
    # The rank correlation, with its interval, equals scipy's over the ranks table.
    rho, n = _direct_rho(on_multiway, "e5-small")
    sentence = next(m.value for m in at.markdown if "Spearman's ρ" in m.value)
    assert sentence.startswith("**e5-small**, the mean of the noise types at level 0.2")
    shown = re.search(r"is \*\*([+−]\d\.\d\d)\*\* \(95% CI \[([+−]\d\.\d\d), ([+−]\d\.\d\d)\]\) over (\d+) languages",
                      sentence)  # fmt: skip
    assert shown, sentence
    value, low, high = (float(g.replace("−", "-")) for g in shown.groups()[:3])
    assert value == pytest.approx(rho, abs=0.005) and int(shown.group(4)) == n == 10
    assert -1 <= low <= high <= 1 and high < 0
    assert "1 of unknown resource class" in sentence  # acm_Arab: unclassified, left out and said so
    # Seen / unseen marks: on the five-most / five-least table and per language and model.
    ext = next(d.value for d in at.dataframe if "breaks" in d.value.columns)
    marks = " ".join(ext.astype(str).to_numpy().ravel())
    assert "(seen)" in marks and "(unseen)" in marks
    at.session_state["findings_seen_open"] = True  # the user opens "Languages: which model trained on which"
    at.run()
    table = next(d.value for d in at.dataframe if "in the answer" in d.value.columns).set_index("code")
    assert set(table.index) == set(FLORES_LANGS)
    assert table.loc["yor_Latn", ["e5-small", "labse-e5", "simcse-bitext-e5"]].tolist() == ["unseen"] * 3
    assert (
        table.loc["deu_Latn", "e5-small"] == "seen" and table.loc["acm_Arab", "simcse-bitext-e5"] == "unknown"
    )
    assert table.loc["deu_Latn", "in the answer"].startswith("left out")
    assert table.loc["yor_Latn", "in the answer"] == "Low-resource"
    charts = len(at.get("plotly_chart"))

    at.selectbox(key="findings_dataset").select("tatoeba").run()
    assert not at.exception, [e.value for e in at.exception]
    text = _text(at)
    assert "On Tatoeba, high-resource, noise level 0.2" in text and "FLORES" not in text
    assert PANEL not in [h.value for h in at.subheader] and "Spearman" not in text
    assert len(at.get("plotly_chart")) == charts - 1  # the story chart only


def test_findings_panel_follows_its_selectors_and_their_link(on_multiway):
    at = _page("findings")
    at.query_params["dataset"] = "flores200"
    at.query_params["lang_encoder"] = "simcse-bitext-e5"
    at.query_params["lang_noise"] = "substitute"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="findings_lang_encoder").value == "simcse-bitext-e5"
    sentence = next(m.value for m in at.markdown if "Spearman's ρ" in m.value)
    # simcse-bitext-e5 cannot read amh_Ethi: below the floor, left out of the correlation and said so.
    assert sentence.startswith("**simcse-bitext-e5**, substitute at level 0.2")
    assert "1 below the floor" in sentence and "over 9 languages" in sentence
    at.selectbox(key="findings_lang_encoder").select("labse-e5").run()
    assert next(m.value for m in at.markdown if "Spearman's ρ" in m.value).startswith("**labse-e5**")
    assert at.query_params["lang_encoder"] == "labse-e5"


def test_curves_language_groups_add_scripts_and_classes_and_keep_the_url(on_multiway):
    at = _page("curves")
    at.query_params["dataset"] = "flores200"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="curves_langs").value == sorted(FLORES_LANGS)  # every language by default
    options = at.selectbox(key="curves_group").options
    assert "script Latn (6)" in options and "class 5 The Winners (2)" in options
    at.selectbox(key="curves_group").select("script Deva (2)").run()
    at.button(key="curves_group_only").click().run()
    assert at.multiselect(key="curves_langs").value == ["hin_Deva", "npi_Deva"]
    at.selectbox(key="curves_group").select("class 5 The Winners (2)").run()
    at.button(key="curves_group_add").click().run()
    chosen = at.multiselect(key="curves_langs").value
    assert sorted(chosen) == ["deu_Latn", "fra_Latn", "hin_Deva", "npi_Deva"]
    assert not at.exception, [e.value for e in at.exception]
    assert sorted(at.query_params["langs"].split(",")) == sorted(chosen)  # the URL keeps the selection
    at.radio(key="curves_facet").set_value("script").run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="curves_group_clear").click().run()
    assert at.multiselect(key="curves_langs").value == []
    assert any("Choose at least one" in i.value for i in at.info)
    # A link with a language list opens on it.
    again = _page("curves")
    again.query_params["dataset"] = "flores200"
    again.query_params["langs"] = "amh_Ethi,kin_Latn"
    again.run()
    assert again.multiselect(key="curves_langs").value == ["amh_Ethi", "kin_Latn"] and not again.exception


def test_language_figure_has_one_point_per_language_with_whiskers(on_multiway):
    from core.findings import compute_and_store_findings
    from dashboard.views.findings import language_figure

    answer, _ = compute_and_store_findings(on_multiway, "flores200", "pair")
    d = answer.breakdown.drops
    part = d[(d.encoder == "labse-e5") & (d.noise == "mean")]
    fig = language_figure(part)
    points = [t for t in fig.data if not t.name.startswith("median")]
    left = [t for t in points if t.xaxis == "x"]
    assert sum(len(t.y) for t in left) == len(FLORES_LANGS)  # one point per language in each panel
    assert sum(len(t.y) for t in points) == 2 * len(FLORES_LANGS)
    ys = np.sort(np.concatenate([np.asarray(t.y, float) for t in left]))
    assert np.allclose(ys, np.sort(part["drop"].to_numpy()))
    assert all(t.error_y.array is not None for t in points)
    medians = [t for t in fig.data if t.name.startswith("median")]
    assert len(medians) == 2 and len(medians[0].y) == part["resource_class"].fillna(-1).nunique()
    assert {t.name for t in fig.data} >= {"seen in training", "not seen in training"}


def test_switching_to_a_dataset_without_the_panel_keeps_its_choices_without_a_notice(on_multiway):
    # As the app runs a page: url.begin(), the page, url.finish() (which drops unclaimed parameters, with a notice).
    at = AppTest.from_string(
        "from dashboard import url_state as url\nfrom dashboard.views import findings\n"
        "url.begin()\nfindings.main()\nurl.finish()", default_timeout=TIMEOUT,
    )  # fmt: skip
    at.run()
    at.selectbox(key="findings_lang_encoder").select("labse-e5").run()
    at.selectbox(key="findings_dataset").select("tatoeba").run()
    assert not at.exception and not [w.value for w in at.warning if "ignored" in w.value]
    assert at.query_params["lang_encoder"] == "labse-e5"
    at.selectbox(key="findings_dataset").select("flores200").run()
    assert at.selectbox(key="findings_lang_encoder").value == "labse-e5"  # back where the user left it
