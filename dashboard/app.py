"""CLIR Noise Lab dashboard: ``streamlit run dashboard/app.py`` (``make dashboard``, and a plain ``streamlit run``
from the repository root through ``.streamlit/config.toml``, bind it to 127.0.0.1).

Reads the precompute's DuckDB (``$CLIR_DB``, default ``results/demo.duckdb``) read-only; pages are thin
modules under ``dashboard/views`` with a ``main()`` each (not ``pages/``: a folder of that name beside the
main script switches Streamlit to its legacy multipage mode and bypasses ``st.navigation``). Findings comes
first: the answer at a glance. Every page's selection is in the URL (``dashboard/url_state.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts dashboard/ on the path, not the repo
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from core.errors import ClirError, user_message  # noqa: E402
from dashboard import components as ui  # noqa: E402
from dashboard import url_state as url  # noqa: E402
from dashboard.views import curves, findings, live_search, per_query, runs  # noqa: E402

PAGES = [
    st.Page(findings.main, title=findings.TITLE, icon=":material/lightbulb:", default=True),
    st.Page(curves.main, title=curves.TITLE, icon=":material/show_chart:", url_path="curves"),
    st.Page(per_query.main, title=per_query.TITLE, icon=":material/compare_arrows:", url_path="per-query"),
    st.Page(live_search.main, title=live_search.TITLE, icon=":material/search:", url_path="live-search"),
    st.Page(runs.main, title=runs.TITLE, icon=":material/storage:", url_path="runs"),
]


def main() -> None:
    """Configure the page, draw the navigation and run the selected page."""
    st.set_page_config(page_title="CLIR Noise Lab", page_icon=":material/spellcheck:", layout="wide")
    page = st.navigation(PAGES)
    st.sidebar.caption("CLIR Noise Lab: how cross-lingual retrieval degrades when queries contain typos.")
    url.begin()
    try:
        page.run()
        url.finish()
    except ClirError as exc:  # any expected failure (locked, missing, foreign DB) is a message, not a trace
        st.warning(ui.safe(exc))  # it may quote a path or a name: shown as text, never as Markdown
    except Exception as exc:  # a damaged file or a full disk is a one-line message too, never a traceback
        message = user_message(exc)
        if message is None:
            raise
        st.warning(ui.safe(message))


main()
