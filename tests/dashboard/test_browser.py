"""A real browser (Debian's Chromium through Playwright) drives the running app: every page through the
navigation, its heading and a chart, one live search in Amharic; screenshots go to test-artefacts/."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = REPO / "test-artefacts"
PAGES = [("Degradation curves", True), ("Findings", True), ("Per-query diffs", True), ("Live search", False),
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
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
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


def test_every_page_and_an_amharic_live_search(server):
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 2200})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server)
        page.wait_for_selector("h1", timeout=60_000)
        for title, chart in PAGES:
            page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
            page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
            _settle(page)
            assert page.locator("h1").first.inner_text().strip() == title
            if chart:
                page.wait_for_selector(".js-plotly-plot", timeout=30_000)
            assert page.get_by_test_id("stException").count() == 0
            page.screenshot(
                path=str(ARTEFACTS / f"dashboard-{title.lower().replace(' ', '-')}.png"), full_page=True
            )
            if title == "Live search":
                page.get_by_text("Type your own").click()
                _settle(page)
                box = page.get_by_test_id("stTextArea").locator("textarea")
                box.fill("ቶም ብዙ ጊዜ ከውሻው ጋር ይናገራል።")
                box.press("Control+Enter")
                _settle(page)
                page.wait_for_selector("text=latency (encode + search)", timeout=60_000)
                assert page.get_by_test_id("stMetric").count() >= 1
                assert page.get_by_test_id("stException").count() == 0
                page.screenshot(path=str(ARTEFACTS / "dashboard-live-search-amharic.png"), full_page=True)
        browser.close()
    assert not errors, errors
