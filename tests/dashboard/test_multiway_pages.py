"""Every page on a database holding Tatoeba, FLORES-200 and NTREX-128 (pair and document) cells, computed by
the pipeline from hand-written files: each page switches to each dataset and mode without an exception, and
shows the multi-way sets' own language codes."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.pipeline import parse_grid, run_grid
from dashboard.views import curves, findings, live_search, per_query, runs
from tests.core.test_multiway_datasets import write_flores, write_ntrex

pytestmark = pytest.mark.slow

GRID = """
[dataset]
name = "{name}"
path = "{path}"
mode = {mode}
languages = {langs}
[grid]
encoders = ["muse3"]
noise = ["delete"]
levels = [0.1, 0.3]
"""
PAGES = {curves: "curves", findings: "findings", live_search: "live", per_query: "pq", runs: "runs"}


@pytest.fixture(scope="module")
def multiway_db(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("multiway")
    flores, ntrex = write_flores(root / "flores"), write_ntrex(root / "ntrex")
    db = root / "m.duckdb"
    for name, path, mode, langs in (
        ("flores200", flores, '"pair"', '["xho_Latn", "amh_Ethi"]'),
        ("ntrex128", ntrex, '["pair", "document"]', '["amh", "aze-Latn"]'),
        ("tatoeba", data_dir, '"pair"', '["amh"]'),
    ):
        text = GRID.format(name=name, path=path, mode=mode, langs=langs)
        if name == "tatoeba":
            text = text.replace("[grid]", "max_queries = 10\n[grid]")
        run_grid(parse_grid(text), db, progress=False, say=lambda _m: None)
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: restored when the module's tests are done
        for var, value in (("CLIR_DB", db), ("CLIR_NTREX128_DIR", ntrex), ("CLIR_FLORES200_DIR", flores)):
            mp.setenv(var, str(value))
        yield db


def _shown(at: AppTest) -> str:
    """Every text a user can read on the page: selector values and options, Markdown, captions, tables."""
    parts = [w.value for w in at.selectbox] + [w.options for w in (*at.selectbox, *at.multiselect)]
    parts += [m.value for m in (*at.markdown, *at.caption)]
    parts += [d.value.to_string() for d in at.dataframe]
    return str(parts)


@pytest.mark.parametrize("module", list(PAGES), ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_every_page_shows_every_dataset_and_mode(multiway_db, module):
    name = module.__name__.rsplit(".", 1)[1]
    at = AppTest.from_string(f"from dashboard.views import {name}\n{name}.main()", default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    prefix = PAGES[module]
    for dataset, mode, code in (
        ("flores200", "pair", "amh_Ethi"),
        ("ntrex128", "pair", "aze-Latn"),
        ("ntrex128", "document", "aze-Latn"),
        ("tatoeba", "pair", "amh"),
    ):
        at.selectbox(key=f"{prefix}_dataset").set_value(dataset).run()
        at.selectbox(key=f"{prefix}_mode").set_value(mode).run()
        assert not at.exception, (dataset, mode, [e.value for e in at.exception])
        assert [t.value for t in at.title] == [module.TITLE]
        if dataset != "tatoeba" and module is not runs:
            assert code in _shown(at), (module.__name__, dataset, mode)
