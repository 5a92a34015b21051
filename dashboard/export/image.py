"""Plotly figures as PNG or SVG bytes, rendered by the system's headless Chromium (no kaleido, no download).

Playwright's sync API belongs to the thread that started it, and Streamlit runs every script run in a thread
of its own; so one worker thread owns the browser and one page with plotly.js loaded, and callers from any
thread hand it jobs through a queue. The browser starts on the first image (about a second), serves every
later one warm, closes itself after ``idle_s`` without work and at interpreter exit. The page never touches
the network: plotly.js comes from the installed plotly package and every request is aborted.
"""

from __future__ import annotations

import atexit
import base64
import logging
import os
import queue
import threading
import urllib.parse
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Literal

import plotly.graph_objects as go

from core.errors import ExportUnavailable

log = logging.getLogger(__name__)

CHROMIUM = os.environ.get("CLIR_CHROMIUM", "/usr/bin/chromium")
NEEDS_CHROMIUM = "chart export needs Chromium: apt-get install chromium"
FORMATS = ("png", "svg")
_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Resolved or rejected inside the page, so a figure plotly cannot draw never blocks the worker for good.
_TO_IMAGE = """async ([spec, opts, ms]) => {
  const timer = new Promise((_, reject) => setTimeout(() => reject(new Error(`no image after ${ms} ms`)), ms));
  return await Promise.race([Plotly.toImage(JSON.parse(spec), opts), timer]);
}"""
_STOP = object()


def _plotly_js() -> str:
    import plotly.offline

    return plotly.offline.get_plotlyjs()


def _decode(data_url: str) -> bytes:
    """Bytes of a ``data:`` URL, base64 (PNG) or percent-encoded (SVG)."""
    head, _, body = data_url.partition(",")
    return base64.b64decode(body) if head.endswith(";base64") else urllib.parse.unquote(body).encode("utf-8")


class ChartRenderer:
    """A headless Chromium that turns plotly figures into image bytes; safe to call from any thread.

    Guarantees: at most one browser per renderer, owned by one worker thread, started on first use and
    restarted on the next call after it idles out, closes or crashes; jobs run one at a time in arrival order;
    a job that fails (bad figure, timeout) fails alone and the browser keeps serving.
    """

    def __init__(
        self, executable: str | os.PathLike = CHROMIUM, *, timeout_s: float = 60.0, idle_s: float = 600.0
    ):
        self.executable = Path(executable)
        self.timeout_s, self.idle_s = timeout_s, idle_s
        self._lock = threading.Lock()
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._running = False

    def render(
        self, fig: go.Figure, fmt: Literal["png", "svg"], width: int, height: int, scale: float
    ) -> bytes:
        """The figure as ``fmt`` bytes, ``width`` x ``height`` CSS pixels (PNG pixels times ``scale``).

        Raises:
            ExportUnavailable: Chromium or Playwright is missing or will not start, or the image timed out.
            ValueError: a bad format, size or scale; or plotly rejected the figure.
        """
        if fmt not in FORMATS:
            raise ValueError(f"unknown image format {fmt!r}; valid: {', '.join(FORMATS)}")
        if int(width) <= 0 or int(height) <= 0 or not scale > 0:
            raise ValueError(f"image size must be positive, got {width}x{height} at scale {scale}")
        opts = {"format": fmt, "width": int(width), "height": int(height), "scale": float(scale)}
        done: Future = Future()
        with self._lock:
            if not self._running:
                self._start()
            # Put under the lock: an idling worker decides to stop under it too, so no job is left unserved.
            self._jobs.put((fig.to_json(), opts, done))
        try:
            return done.result(timeout=self.timeout_s + 5)
        except FutureTimeout:
            raise ExportUnavailable(f"chart export timed out after {self.timeout_s:g} s") from None

    def start(self) -> None:
        """Start the browser now unless it runs (blocking, about a second); :meth:`render` does it anyway.

        Raises:
            ExportUnavailable: Chromium or Playwright is missing or will not start.
        """
        with self._lock:
            if not self._running:
                self._start()

    def close(self) -> None:
        """Close the browser and stop the worker (idempotent); the next :meth:`render` starts a new one."""
        with self._lock:
            thread, running = self._thread, self._running
            if running:
                self._jobs.put(_STOP)
        if thread is not None:
            thread.join(timeout=15)

    def _start(self) -> None:
        # Called with the lock held: concurrent first callers wait here for one browser, not start two.
        if not self.executable.is_file():
            raise ExportUnavailable(NEEDS_CHROMIUM)
        ready: Future = Future()
        self._jobs = queue.Queue()
        self._thread = threading.Thread(
            target=self._work, args=(ready, self._jobs), name="chart-export", daemon=True
        )
        self._thread.start()
        ready.result(timeout=self.timeout_s)
        self._running = True

    def _open(self):
        """(playwright, browser, page) with plotly.js loaded; raises ExportUnavailable when that fails."""
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise ExportUnavailable("chart export needs Playwright: pip install playwright") from None
        pw = sync_playwright().start()
        try:
            browser = pw.chromium.launch(executable_path=str(self.executable), args=_ARGS)
            page = browser.new_page()
            page.route("**/*", lambda route: route.abort())
            page.set_content("<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>")
            page.add_script_tag(content=_plotly_js())
        except Exception as exc:
            pw.stop()
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportUnavailable(
                f"chart export cannot start Chromium ({first}); {NEEDS_CHROMIUM}"
            ) from exc
        return pw, browser, page

    def _work(self, ready: Future, jobs: queue.Queue) -> None:
        try:
            pw, browser, page = self._open()
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            self._serve(jobs, browser, page)
        finally:
            try:
                browser.close()
                pw.stop()
            except Exception:  # a crashed browser cannot be closed twice; nothing is left to free
                log.debug("chart export: browser already gone", exc_info=True)

    def _serve(self, jobs: queue.Queue, browser, page) -> None:
        while True:
            try:
                job = jobs.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    if jobs.empty():  # under the lock: no render() can slip a job in after this check
                        self._running = False
                        return
                continue
            if job is _STOP:
                self._retire(jobs)
                return
            spec, opts, done = job
            if not done.set_running_or_notify_cancel():
                continue
            try:
                done.set_result(_decode(page.evaluate(_TO_IMAGE, [spec, opts, int(self.timeout_s * 1000)])))
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                done.set_exception(ValueError(f"plotly could not draw the figure: {first}"))
                if not browser.is_connected():
                    self._retire(jobs)
                    return

    def _retire(self, jobs: queue.Queue) -> None:
        """Mark the worker stopped and fail whatever is still queued (its callers would wait forever)."""
        with self._lock:
            self._running = False
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                return
            if job is not _STOP:
                job[2].set_exception(ExportUnavailable("chart export: the browser stopped; try again"))


_default: ChartRenderer | None = None
_default_lock = threading.Lock()


def _renderer() -> ChartRenderer:
    global _default
    with _default_lock:
        if _default is None:
            _default = ChartRenderer()
            atexit.register(_default.close)
        return _default


def warm_up() -> None:
    """Start the shared browser in the background so the first :func:`figure_image` is fast; returns at once.

    Never raises: a missing Chromium is reported by the first :func:`figure_image` instead.
    """

    def start() -> None:
        try:
            _renderer().start()
        except ExportUnavailable as exc:
            log.info("chart export warm-up: %s", exc)

    threading.Thread(target=start, name="chart-export-warm-up", daemon=True).start()


def figure_image(
    fig: go.Figure,
    fmt: Literal["png", "svg"] = "png",
    width: int = 1200,
    height: int = 700,
    scale: float = 2.0,
) -> bytes:
    """The figure rendered by plotly.js in the process's shared headless Chromium, as PNG or SVG bytes.

    Guarantees: a PNG is ``round(width * scale)`` x ``round(height * scale)`` pixels (scale 2 makes slides
    sharp); an SVG is vector text with the figure's titles and labels as text. Nothing is fetched from the
    network. The first call starts the browser (about a second); later calls from any thread reuse it.

    Raises:
        ExportUnavailable: Chromium is missing (message: "chart export needs Chromium: apt-get install
            chromium"), will not start, or the image timed out.
        ValueError: ``fmt`` is not png/svg, a size is not positive, or plotly rejected the figure.

    Example:
        >>> png = figure_image(go.Figure(go.Bar(x=["a"], y=[1])), "png", 800, 450, scale=2)  # doctest: +SKIP
    """
    return _renderer().render(fig, fmt, width, height, scale)


__all__ = ["CHROMIUM", "NEEDS_CHROMIUM", "ChartRenderer", "figure_image", "warm_up"]
