"""Issue 25, item 4: languages without metadata are an "unknown" resource group, never a crash.

Every database of a generic dataset (and of any new dataset code) holds languages that ``data/languages.csv``
does not list. With noisy cells, the Findings page crashed (``KeyError: 'clean'`` in ``story_figure``): the
resource groups (``low``, ``high``) held none of its languages, so the research answer had no clean MRR at
all. Such languages now form the ``unknown`` group ("unknown resource class"), and every page opens on such
a database. The database comes from a real run of a tiny grid (muse3, one noise level) over a generic TSV
dataset with made-up codes ``qqx`` and ``zzz``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from core.research import UNKNOWN, group_label, resource_groups

from .conftest import dashboard_db

pytestmark = [pytest.mark.hostile, pytest.mark.slow]

TIMEOUT = 120
# Made-up language codes (absent from data/languages.csv); the texts are German and Spanish, which muse3 reads.
PAIRS = {
    "qqx": [
        ("Ich habe Hunger.", "I am hungry."),
        ("Wo ist der Bahnhof?", "Where is the train station?"),
        ("Das Wetter ist heute schön.", "The weather is nice today."),
        ("Mein Bruder spielt gern Fußball.", "My brother likes to play football."),
        ("Kannst du mir helfen?", "Can you help me?"),
        ("Ich lese jeden Abend ein Buch.", "I read a book every evening."),
        ("Der Hund schläft unter dem Tisch.", "The dog is sleeping under the table."),
        ("Wir fahren morgen nach Berlin.", "We are going to Berlin tomorrow."),
        ("Sie trinkt keinen Kaffee.", "She does not drink coffee."),
        ("Das Fenster ist offen.", "The window is open."),
    ],
    "zzz": [
        ("Tengo mucha sed.", "I am very thirsty."),
        ("¿Dónde está la biblioteca?", "Where is the library?"),
        ("Mi madre cocina muy bien.", "My mother cooks very well."),
        ("El gato está en el jardín.", "The cat is in the garden."),
        ("Mañana vamos a la playa.", "Tomorrow we are going to the beach."),
        ("No entiendo la pregunta.", "I do not understand the question."),
        ("Ella canta en un coro.", "She sings in a choir."),
        ("El tren llega a las nueve.", "The train arrives at nine."),
        ("Me gusta aprender idiomas.", "I like learning languages."),
        ("La puerta está cerrada.", "The door is closed."),
    ],
}
GRID = """[dataset]
name = "generic"
path = "{path}"
mode = ["pair", "pooled"]
languages = ["qqx", "zzz"]
[grid]
encoders = ["muse3"]
noise = ["substitute"]
levels = [0.2]
seeds = [0]
"""


@pytest.fixture(scope="module")
def generic_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database of the generic dataset (two languages without metadata); CLIR_DB points at it."""
    from core.pipeline import parse_grid, run_grid

    root = tmp_path_factory.mktemp("generic")
    data = root / "data"
    data.mkdir()
    for lang, pairs in PAIRS.items():
        rows = "".join(f"{q}\t{d}\n" for q, d in pairs)
        (data / f"{lang}.tsv").write_text("query\tdocument\n" + rows, encoding="utf-8")
    db = root / "generic.duckdb"
    report = run_grid(
        parse_grid(GRID.format(path=data), "generic.toml"), db, progress=False, say=lambda _m: None
    )
    assert report.cells_written == 2 * 2 * 2  # modes x languages x (clean + substitute 0.2)
    with dashboard_db(db):
        yield db


def _page(name: str) -> AppTest:
    at = AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=TIMEOUT)
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_languages_without_metadata_form_the_unknown_group():
    """Class 0-2 low, 4-5 high, languages absent from data/languages.csv unknown; class 3 and languages
    listed as unclassified stay in no group (the answer contrasts low with high resources)."""
    assert resource_groups(["deu", "amh", "swh"]) == {"low": ["amh", "swh"], "high": ["deu"]}
    groups = resource_groups(["zzz", "deu", "qqx", "afr", "lfn", "amh"])  # afr: class 3; lfn: unclassified
    assert groups == {"low": ["amh"], "high": ["deu"], UNKNOWN: ["qqx", "zzz"]}
    assert group_label(UNKNOWN) == "Unknown resource class" and group_label("low") == "Low-resource"


def test_findings_page_shows_the_unknown_group(generic_db):
    at = _page("findings")
    _ok(at)
    assert [t.value for t in at.title] == ["Findings"]
    assert at.get("plotly_chart"), "the story chart is drawn"
    text = " ".join(m.value for m in [*at.markdown, *at.caption])
    assert "unknown resource class" in text.lower() and "qqx" in text and "zzz" in text
    # The robustness table holds the unknown group's row, with its clean MRR (not n/a).
    table = [m.value for m in at.markdown if m.value.startswith("| group |")]
    assert table and any("| unknown | muse3 |" in line and "n/a" not in line.split("|")[5]
                         for line in table[0].splitlines()), table  # fmt: skip
    # The same page, read in the other mode.
    at.selectbox(key="findings_mode").select("pooled").run()
    _ok(at)


def test_the_app_entry_point_opens(generic_db):
    at = AppTest.from_file("../../dashboard/app.py", default_timeout=TIMEOUT).run()
    _ok(at)
    assert [t.value for t in at.title] == ["Findings"]


def test_curves_page_facets_by_resource_class(generic_db):
    at = _page("curves")
    _ok(at)
    at.radio(key="curves_facet").set_value("resource class").run()
    _ok(at)
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    data = pa.ipc.open_stream(at.get("vega_lite_chart")[0].proto.datasets[0].data.data).read_all().to_pandas()
    assert spec["facet"]["field"] == "panel" and set(data["panel"]) == {"unknown resource class"}
    at.radio(key="curves_scale").set_value("relative to clean").run()
    _ok(at)


def test_per_query_page(generic_db):
    at = _page("per_query")
    _ok(at)
    assert len(at.dataframe(key="pq_table").value) == 10
    at.selectbox(key="pq_lang").select("zzz").run()
    _ok(at)


def test_live_search_page(generic_db):
    at = _page("live_search")
    _ok(at)
    assert at.metric, "the first stored query is searched"
    at.selectbox(key="live_lang").select("zzz").run()
    _ok(at)
    assert at.metric


def test_runs_page(generic_db):
    at = _page("runs")
    _ok(at)
    assert any("**8** of 8 cells" in m.value for m in at.markdown)
