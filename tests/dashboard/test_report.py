"""The HTML report: plotly.js inlined exactly once, nothing fetched, size close to plotly.js plus the data."""

from __future__ import annotations

import shutil

import pandas as pd
import plotly.graph_objects as go
import plotly.offline
import pytest

from dashboard.report import build_report

CHROMIUM = "/usr/bin/chromium"


def _report() -> str:
    sections = []
    for i, lang in enumerate(["amh", "deu", "swh"]):
        fig = go.Figure(go.Scatter(x=[0, 0.1, 0.2], y=[0.9 - i / 10, 0.7, 0.5], name=lang))
        fig.update_layout(title=f"MRR {lang}")
        sections.append((f"Curve {lang}", fig, f"note <{lang}> & more"))
    table = pd.DataFrame({"encoder": ["labse", "muse3"], "MRR": [0.91, 0.84]})
    sections.append(("Summary", table, ""))
    return build_report("Typos & retrieval", sections, meta={"database": "demo.duckdb"})


def test_plotly_js_once_no_network_and_small():
    js = plotly.offline.get_plotlyjs()
    report = _report()
    # Two distinctive pieces of the library, each present once: the whole of it was inlined once.
    for piece in (js[:300], js[len(js) // 2 : len(js) // 2 + 300], js[-300:]):
        assert report.count(piece) == 1
    assert report.count("Plotly.newPlot") == 3
    assert "<script src=" not in report and 'src="http' not in report and "src='http" not in report
    assert len(report) < len(js) + 200_000
    assert "note &lt;amh&gt; &amp; more" in report and "<h1>Typos &amp; retrieval</h1>" in report


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is missing (apt-get install -y chromium)")
def test_report_draws_every_chart_offline(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    path = tmp_path / "report.html"
    path.write_text(_report(), encoding="utf-8")
    fetched: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        def block(route):
            # Only the file itself may load: anything else would need a network the reader may not have.
            if route.request.url != path.as_uri():
                fetched.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        page.route("**/*", block)
        page.goto(path.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3")
        titles = page.eval_on_selector_all(".js-plotly-plot .gtitle", "els => els.map(e => e.textContent)")
        browser.close()
    assert not errors and not fetched
    assert titles == ["MRR amh", "MRR deu", "MRR swh"]
