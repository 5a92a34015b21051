"""Issue 25, item 7: a shared link restores the level it was written for, never a neighbour that prints alike.

With levels 0.2 and 0.20000001 in one grid, links wrote both as ``0.2`` (``{:g}``) and reopened on
0.20000001 without a notice. URL values of floats must round-trip exactly, and a value matching no stored
level falls back with the usual notice. Real grid (muse3, 8 German queries), real pages (AppTest).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import url_state as url

from .conftest import dashboard_db

pytestmark = pytest.mark.hostile

TIMEOUT = 120
NEAR = 0.20000001
GRID = """[dataset]
name = "tatoeba"
languages = ["deu"]
max_queries = 8
[grid]
encoders = ["muse3"]
noise = ["delete"]
levels = [0.2, 0.20000001]
seeds = [0]
"""


@pytest.fixture(scope="module")
def close_levels_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database holding levels 0.2 and 0.20000001; CLIR_DB points at it for the module."""
    raw = os.environ.get("CLIR_DATA_DIR")
    if not raw or not any(Path(raw).glob("tatoeba.*-eng.eng")):
        pytest.skip("CLIR_DATA_DIR must point at the Tatoeba v1 folder")
    from core.pipeline import parse_grid, run_grid

    db = tmp_path_factory.mktemp("levels") / "levels.duckdb"
    run_grid(parse_grid(GRID, "levels.toml"), db, progress=False, say=lambda _m: None)
    with dashboard_db(db):
        yield db


def _page(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_string(
        "from dashboard.views import per_query\nper_query.main()", default_timeout=TIMEOUT
    )
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _params(at: AppTest) -> dict[str, str]:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def _notices(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def test_close_floats_have_distinct_url_forms_that_read_back_exactly():
    assert url.dump(0.2) != url.dump(NEAR)
    for value in (0.2, NEAR, 0.1 + 0.2, 1e-07, 0.05):
        assert float(url.dump(value)) == value
    assert url.dump(2.0) == "2" and url.dump(0.1) == "0.1"  # short forms stay short
    assert url.link("curves", level=NEAR) == f"curves?level={NEAR!r}"


@pytest.mark.slow
def test_the_link_written_for_a_level_reopens_on_that_level(close_levels_db):
    first = _page()
    levels = first.select_slider(key="pq_level").options
    assert len(levels) == 2, levels  # both levels are offered
    for chosen in (0.2, NEAR):
        first.select_slider(key="pq_level").set_value(chosen).run()
        assert first.select_slider(key="pq_level").value == chosen
        link = _params(first)
        again = _page(link)
        assert again.select_slider(key="pq_level").value == chosen, (link, chosen)
        assert _params(again)["level"] == link["level"]
        assert "`level`" not in _notices(again)


@pytest.mark.slow
def test_a_level_matching_no_stored_level_falls_back_with_a_notice(close_levels_db):
    # "0.20" is 0.2 written another way: the same float, so the same level, silently.
    same = _page({"level": "0.20"})
    assert same.select_slider(key="pq_level").value == 0.2
    assert "`level`" not in _notices(same)
    for raw in ("0.2000000049", "0.25", "abc"):
        at = _page({"level": raw})
        assert at.select_slider(key="pq_level").value == NEAR  # the default: the last level
        assert "`level`" in _notices(at) and raw in _notices(at), raw
