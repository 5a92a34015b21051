"""First paint of every dashboard page in a real browser (Debian's Chromium through Playwright).

    python benchmarks/first_paint.py --db results/demo.duckdb [--repeat 3] [--shots DIR] [--pages curves,runs]
                                     [--floors-only | --no-floors]

Starts ``streamlit run dashboard/app.py`` on 127.0.0.1 (a free port) over ``--db``, then for each page opens
its URL in a fresh browser context (a new session, as a colleague opening a link) and times three moments:
the heading drawn (Streamlit's own start-up in the browser), the page's answer drawn (Findings' sentences,
Curves' chart, Per-query's table, Live search's results for the default example, Runs' tables), and the run
finished (every chart drawn). The first round warms the server (encoders load once per process, document
vectors are read once); figures are medians of the ``--repeat`` later rounds; the limit, 2 s, applies to the
answer. For scale, the same three moments are first measured on Streamlit's floors: a page holding only a
title and one plotly chart, one Vega-Lite chart, one table, or one line of text (each front-end library is a
bundle a fresh session loads and compiles before it draws). Servers are stopped by their PID at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LIMIT_S = 2.0
# url path -> (heading, selector of the content that answers the page's question)
PAGES = {
    "": ("Findings", "text=breaks least"),
    "curves": ("Degradation curves", '[data-testid="stVegaLiteChart"] svg.marks'),  # the curves (Vega-Lite)
    "per-query": ("Per-query diffs", '[data-testid="stDataFrame"]'),
    "live-search": ("Live search", '[data-testid="stMetric"]'),
    "runs": ("Runs", '[data-testid="stDataFrame"]'),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Streamlit's own floors on this machine: a page holding a title and one element drawn by each of the
# front-end libraries the pages use (each is a separate JavaScript bundle the browser loads and compiles on
# first use in a fresh session): plotly.js, Vega-Lite (st.line_chart / st.altair_chart), the data grid.
FLOORS = {
    "plotly chart": (
        """import plotly.graph_objects as go
import streamlit as st
st.title("Floor")
st.plotly_chart(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])))
""",
        ".js-plotly-plot",
    ),
    "Vega-Lite chart": (
        """import pandas as pd
import streamlit as st
st.title("Floor")
st.line_chart(pd.DataFrame({"x": [0.0, 0.1, 0.2], "y": [0.9, 0.7, 0.4]}), x="x", y="y")
""",
        '[data-testid="stVegaLiteChart"] svg.marks',
    ),
    "dataframe": (
        """import pandas as pd
import streamlit as st
st.title("Floor")
st.dataframe(pd.DataFrame({"a": range(1000), "b": ["text"] * 1000}))
""",
        '[data-testid="stDataFrame"]',
    ),
    "text only": (
        """import streamlit as st
st.title("Floor")
st.markdown("**An answer** in text.")
""",
        "text=An answer",
    ),
}


def serve(db: Path, script: str = "dashboard/app.py") -> tuple[subprocess.Popen, str]:
    """A Streamlit server of ``script`` on 127.0.0.1 over ``db``; returns (process, base URL) once it answers."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLIR_DB": str(db)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("streamlit did not start")


def paint(
    browser, url: str, heading: str, content: str, shot: Path | None, shared=None
) -> tuple[float, float, float]:
    """Seconds from navigation until the heading, then ``content``, are drawn and the run has finished.

    Each call is a new Streamlit session; in a new browser context (a first visit: nothing cached) unless
    ``shared`` is a context to open the page in (a returning visitor: the browser's HTTP and code caches
    hold the front-end bundles)."""
    context = shared or browser.new_context(viewport={"width": 1440, "height": 1800})
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(f"h1:has-text('{heading}')", timeout=120_000)
    t_heading = time.perf_counter() - t0
    page.wait_for_selector(f"{content} >> visible=true", timeout=120_000)
    t_answer = time.perf_counter() - t0
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)
    page.wait_for_timeout(50)
    t_done = time.perf_counter() - t0
    if shot:
        page.screenshot(path=str(shot), full_page=True)
    page.close()
    if shared is None:
        context.close()
    return t_heading, t_answer, t_done


DEFINITIONS = """  heading: the page's h1 is drawn (Streamlit's start-up in the browser: first paint)
  answer:  the page's main element is drawn and visible (Findings' sentences, Curves' chart, Per-query's
           table, Live search's metrics, Runs' first table); the 2 s limit applies here
  done:    the script run has finished and the status widget is gone (everything drawn)"""


def _print_floors(floors: dict, repeat: int, header: bool = True) -> None:
    if header:
        print(f"Streamlit floors: medians of {repeat} fresh sessions after a warm-up round")
    print(f"  {'page':<28} {'heading':>8} {'answer':>8} {'done':>8}")
    for name, times in floors.items():
        h, a, d = (statistics.median(t[i] for t in times) for i in range(3))
        print(f"  {'(floor: ' + name + ')':<28} {h:7.2f}s {a:7.2f}s {d:7.2f}s  a title and one {name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=ROOT / "results" / "demo.duckdb")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shots", type=Path, default=None, help="save one screenshot per page here")
    ap.add_argument("--floors-only", action="store_true", help="measure Streamlit's floors only")
    ap.add_argument("--no-floors", action="store_true", help="skip the floors (quicker)")
    ap.add_argument("--returning", action="store_true",
                    help="every session in one browser context (a returning visitor: bundles cached)")  # fmt: skip
    ap.add_argument("--pages", default="", help="only these url paths, comma-separated ('findings' for /)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    wanted = {"" if p.strip() == "findings" else p.strip() for p in args.pages.split(",") if p.strip()}
    pages = {path: v for path, v in PAGES.items() if not wanted or path in wanted}

    floors: dict[str, list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (script, selector) in FLOORS.items() if not args.no_floors else ():
            floor_app = Path(tmp) / "floor.py"
            floor_app.write_text(script, encoding="utf-8")
            proc, base = serve(args.db.resolve(), str(floor_app))
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    floors[name] = [
                        paint(browser, base, "Floor", selector, None) for _ in range(args.repeat + 1)
                    ][1:]
                    browser.close()
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    if args.floors_only:
        _print_floors(floors, args.repeat)
        return 0
    proc, base = serve(args.db.resolve())
    ok = True
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            times: dict[str, list[tuple[float, float, float]]] = {path: [] for path in pages}
            shared = browser.new_context(viewport={"width": 1440, "height": 1800}) if args.returning else None
            for round_ in range(args.repeat + 1):
                for path, (heading, content) in pages.items():
                    shot = None
                    if args.shots and round_ == args.repeat:
                        args.shots.mkdir(parents=True, exist_ok=True)
                        shot = args.shots / f"{path or 'findings'}.png"
                    t = paint(browser, f"{base}/{path}", heading, content, shot, shared)
                    if round_:  # round 0 warms the server
                        times[path].append(t)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    who = "a returning visitor's browser (bundles cached)" if args.returning else "fresh browser contexts"
    print(f"First paint, {args.db}: medians of {args.repeat} new sessions in {who} after a warm-up round "
          f"(limit {LIMIT_S} s for the answer)")  # fmt: skip
    print(DEFINITIONS)
    _print_floors(floors, args.repeat, header=False)
    for path, (heading, _) in pages.items():
        h, a, d = (statistics.median(t[i] for t in times[path]) for i in range(3))
        ok &= a <= LIMIT_S
        print(f"  {heading:<28} {h:7.2f}s {a:7.2f}s {d:7.2f}s  {'ok' if a <= LIMIT_S else 'SLOW'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
