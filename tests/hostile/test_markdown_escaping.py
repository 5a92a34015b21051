"""Issue 25, item 10 (regression c): text from the data or a link never renders as Markdown.

A language code such as ``**bold**[x](http:e.vil)`` (a generic dataset's file name) rendered as bold text and a
link in the Per-query page's ``st.info`` and the Live search page's ``st.error``. Every string that comes
from the data, the database or a link now goes through one helper, :func:`dashboard.components.safe`, before
it reaches a message, caption, heading or widget label. The pages are driven with AppTest over a database
the real pipeline computed, opened by a link that names the hostile language and query; the rendered
Markdown of every element is searched for the raw input.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard import components as ui

from .conftest import dashboard_db

pytestmark = pytest.mark.hostile

TIMEOUT = 120
LANG = "**bold**[x](http:e.vil)"  # a file name cannot hold "/": the closest a generic dataset gets
QUERY = "**bold**[x](http://e.vil) www.e.vil a@e.vil $x$ :red[y] <b>z</b>"
RAW = ("**bold**", "[x](", "](http", "http://", "www.e.vil", "a@e.vil", "<b>", "$x$", ":red[")


@pytest.fixture(scope="module")
def hostile_lang_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real run over a generic dataset whose one language is ``LANG`` (clean cells only: the noise
    needs a known language); CLIR_DB points at it for the module."""
    from core.pipeline import parse_grid, run_grid

    root = tmp_path_factory.mktemp("markdown")
    data = root / "data"
    data.mkdir()
    (data / f"{LANG}.tsv").write_text(
        "query\tdocument\nhello world\thallo Welt\ngood morning\tguten Morgen\nthank you\tdanke\n",
        encoding="utf-8",
    )
    grid = (
        f'[dataset]\nname = "generic"\npath = "{data}"\nlanguages = ["{LANG}"]\n'
        '[grid]\nencoders = ["minilm"]\nnoise = ["substitute"]\nlevels = [0.0]\n'
    )
    db = root / "markdown.duckdb"
    run_grid(parse_grid(grid, "markdown.toml"), db, progress=False, say=lambda _m: None)
    with dashboard_db(db):
        yield db


def _open(page: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_string(f"from dashboard.views import {page}\n{page}.main()", default_timeout=TIMEOUT)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _markdown(at: AppTest) -> list[str]:
    """Every Markdown source the page rendered: messages, text, headings and widget labels."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
    out = [e.value for kind in kinds for e in getattr(at, kind)]
    out += [w.label for w in at.text_input]
    out += [o.content for b in at.get("button_group") for o in b.proto.options]
    return out


def _assert_escaped(shown: list[str]) -> None:
    for value in shown:
        for raw in RAW:
            assert raw not in value, (raw, value)


@pytest.mark.slow
def test_per_query_info_shows_the_language_code_as_text(hostile_lang_db):
    at = _open("per_query", {"lang": LANG})
    infos = [i.value for i in at.info]
    assert any("No noisy cells are stored for" in v for v in infos), infos
    assert any(html.unescape(v).count(LANG) == 1 for v in infos), infos  # shown, as its characters
    _assert_escaped(_markdown(at))


@pytest.mark.slow
def test_live_search_error_shows_the_language_code_as_text(hostile_lang_db):
    at = _open("live_search", {"lang": LANG, "q": QUERY})
    errors = [e.value for e in at.error]
    assert any(v.startswith("Cannot apply substitute noise: unknown language") for v in errors), errors
    assert any(LANG in html.unescape(v) for v in errors), errors
    assert at.text_input(key="live_q").value == QUERY  # the link's query is in the box, unchanged
    _assert_escaped(_markdown(at))


def test_safe_neutralises_markdown_links_and_autolinks():
    out = ui.safe(QUERY + "\n- item\r\n# head\r> quote")
    _assert_escaped([out])
    assert "\n" not in out and "\r" not in out
    assert html.unescape(out.replace("<br>", "\n")) == QUERY + "\n- item\n# head\n> quote"
    assert ui.safe("- a list item").startswith("&#45;") and ui.safe("+ x").startswith("&#43;")
    assert ui.safe("deu: 3 cells over 20 / 60 queries @ 0.1") == "deu: 3 cells over 20 / 60 queries @ 0.1"


@given(st.text())
def test_safe_keeps_every_character_and_adds_no_markup(text):
    out = ui.safe(text)
    assert "\n" not in out and "\r" not in out
    bare = re.sub(r"&#\d+;|<br>", "", out)  # what is left outside the entities and line breaks
    assert not set(bare) & set("&<>*_`[]()#$\\~|!{}\"'") and "://" not in bare and "www." not in bare.lower()
    assert html.unescape(out).replace("<br>", "\n") == text.replace("\r\n", "\n").replace("\r", "\n")
