"""A real browser (Debian's Chromium through Playwright) drives the running app: every page through the
navigation, its heading and a chart; Findings' numbers against the database; a live search typed in Amharic
and submitted with Enter; a copied URL opened in a fresh page; screenshots go to test-artefacts/."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = REPO / "test-artefacts"
PAGES = [("Findings", True), ("Degradation curves", True), ("Per-query diffs", True), ("Live search", False),
         ("Runs", True)]  # fmt: skip

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(small_db):
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLIR_DB": str(small_db)}
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "viewer"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start:\n" + (proc.stdout.read() if proc.stdout else ""))
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _settle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the script run finished (the 'Running...' status widget is gone)."""
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
    page.wait_for_timeout(300)


def _launch(p):
    return p.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTEFACTS / f"dashboard-{name}.png"), full_page=True)


def _direct(db, sql: str, *params):
    import duckdb

    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchone()[0]


def test_every_page_and_an_amharic_live_search(server, small_db):
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1440, "height": 2200})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server)
        # The landing page is Findings, and its numbers are the database's.
        page.wait_for_selector("h1:has-text('Findings')", timeout=60_000)
        _settle(page)
        row = page.locator("tr", has=page.locator("td", has_text="muse3")).filter(has_text="high").first
        cells = row.locator("td").all_inner_texts()
        mrr = "SELECT avg(1.0 / rank) FROM ranks WHERE mode = 'pair' AND lang = 'deu' AND encoder = 'muse3' "
        clean = _direct(small_db, mrr + "AND noise = 'none'")
        noisy = _direct(small_db, mrr + "AND noise = 'substitute' AND level = 0.1 AND seed = 0")
        assert cells[3] == "1"  # training seeds averaged into the row (one here)
        assert cells[4].startswith(f"{clean:.3f} [")
        assert any(c.startswith(f"{1 - noisy / clean:.3f} [") for c in cells[5:])
        link = row.locator("a").first.get_attribute("href")
        assert link and link.startswith("runs?")
        # Exports for slides and papers: the chart as PNG (rendered by Chromium on click), the table as LaTeX.
        with page.expect_download(timeout=90_000) as png:
            page.get_by_test_id("stDownloadButton").filter(has_text="PNG").first.click()
        assert Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with page.expect_download(timeout=30_000) as tex:
            page.get_by_test_id("stDownloadButton").filter(has_text="LaTeX").first.click()
        assert "\\toprule" in Path(tex.value.path()).read_text(encoding="utf-8")
        for title, chart in PAGES:
            page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
            page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
            _settle(page)
            assert page.locator("h1").first.inner_text().strip() == title
            if chart:  # plotly or, for the page's first chart where plotly.js would delay it, Vega-Lite
                page.wait_for_selector(
                    ".js-plotly-plot, [data-testid='stVegaLiteChart'] svg.marks", timeout=30_000
                )
            assert page.get_by_test_id("stException").count() == 0
            _shot(page, title.lower().replace(" ", "-"))
            if title == "Live search":
                # One line, Enter searches: no Ctrl+Enter, no button.
                box = page.get_by_test_id("stTextInput").locator("input")
                box.fill("ቶም ብዙ ጊዜ ከውሻው ጋር ይናገራል።")
                box.press("Enter")
                _settle(page)
                page.wait_for_selector("text=ቶም ብዙ ጊዜ ከውሻው ጋር ይናገራል።", timeout=60_000)
                page.wait_for_selector("text=latency (encode both + search)", timeout=60_000)
                assert page.get_by_test_id("stMetric").count() >= 1
                assert page.get_by_test_id("stDataFrame").count() >= 2  # clean and noisy, side by side
                assert page.get_by_test_id("stException").count() == 0
                assert "q=" in page.url
                _shot(page, "live-search-amharic")
        browser.close()
    assert not errors, errors


def test_a_copied_url_restores_the_view_in_a_fresh_page(server):
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1440, "height": 1600})
        page.goto(f"{server}/curves")
        page.wait_for_selector("h1:has-text('Degradation curves')", timeout=60_000)
        _settle(page)
        page.get_by_test_id("stSidebar").get_by_text("relative to clean", exact=True).click()
        _settle(page)
        page.wait_for_function("() => location.search.includes('scale=relative')", timeout=30_000)
        copied = page.url
        fresh = browser.new_context().new_page()  # a colleague opening the link: no shared session
        fresh.set_viewport_size({"width": 1440, "height": 1600})
        fresh.goto(copied)
        fresh.wait_for_selector("h1:has-text('Degradation curves')", timeout=60_000)
        _settle(fresh)
        radio = fresh.get_by_test_id("stSidebar").get_by_role("radio", name="relative to clean")
        assert radio.is_checked()
        assert fresh.url == copied
        _shot(fresh, "curves-from-link")
        # A hostile or stale link is a notice, never an error.
        fresh.goto(f"{server}/curves?noise=%3Cscript%3E&langs=amh,zzz")
        fresh.wait_for_selector("h1:has-text('Degradation curves')", timeout=60_000)
        _settle(fresh)
        assert fresh.get_by_test_id("stException").count() == 0
        assert fresh.get_by_text("ignored", exact=False).count() >= 1
        _shot(fresh, "curves-bad-link")
        browser.close()
