"""Self-contained HTML report: plotly charts (plotly.js inlined once) and summary tables, one file that
opens offline in any browser, for people who will not run the app."""

from __future__ import annotations

import html
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
h1{font-size:1.7rem} h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;font-size:.85rem} th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{background:#f5f5f5} td:first-child,td:nth-child(2){text-align:left} .note{color:#555;font-size:.9rem}
"""


def build_report(
    title: str,
    sections: list[tuple[str, go.Figure | pd.DataFrame, str]],
    meta: dict[str, str] | None = None,
) -> str:
    """Return one HTML document holding every section in order.

    Args:
        title: the report's heading.
        sections: (heading, plotly figure or DataFrame, note) triples; notes and headings are escaped, tables
            are rendered with ``DataFrame.to_html`` (which escapes cell text).
        meta: key -> value lines shown under the title (database, run, selection...).

    The first figure carries plotly.js inline; later ones reuse it, so the file needs no network.
    """
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Generated {datetime.now():%Y-%m-%d %H:%M} by CLIR Noise Lab.</p>",
    ]
    if meta:
        parts.append("<ul class='note'>")
        parts += [f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in meta.items()]
        parts.append("</ul>")
    js_done = False
    for heading, body, note in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(body, go.Figure):
            parts.append(
                body.to_html(full_html=False, include_plotlyjs=not js_done, config={"displaylogo": False})
            )
            js_done = True
        else:
            parts.append(body.to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="", escape=True))
        if note:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
    parts.append("</body></html>")
    return "".join(parts)
