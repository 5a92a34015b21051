"""Exports for slides and papers: chart images through the system Chromium, tables as CSV and LaTeX."""

from __future__ import annotations

import io
import re
import shutil
import struct
import threading
import time
import xml.etree.ElementTree as ET

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.export import (
    NEEDS_CHROMIUM,
    ChartRenderer,
    ExportUnavailable,
    figure_image,
    latex_escape,
    table_csv,
    table_latex,
    warm_up,
)
from dashboard.export.image import CHROMIUM

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is missing (apt-get install -y chromium)"
)


def _figure() -> go.Figure:
    fig = go.Figure(go.Scatter(x=[0, 0.1, 0.2], y=[0.91, 0.74, 0.52], name="amh", mode="lines+markers"))
    fig.update_layout(title="MRR under typos", xaxis_title="noise level epsilon", yaxis_title="MRR at 1")
    return fig


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which the PNG format puts first."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("width, height, scale", [(640, 360, 1), (800, 450, 2)])
def test_png_has_the_requested_pixel_size(width, height, scale):
    data = figure_image(_figure(), "png", width=width, height=height, scale=scale)
    assert data.startswith(PNG_SIGNATURE)
    assert _png_size(data) == (width * scale, height * scale)
    assert data.endswith(b"IEND\xaeB`\x82")  # complete file, not a truncated one


@pytest.mark.browser
@needs_chromium
def test_svg_is_xml_with_the_figures_text():
    data = figure_image(_figure(), "svg", width=800, height=450, scale=1)
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 800 450"
    text = " ".join(t for t in root.itertext())
    assert "noise level epsilon" in text and "MRR under typos" in text and "MRR at 1" in text


@pytest.mark.browser
@needs_chromium
def test_renders_from_many_threads_through_one_browser():
    # Streamlit runs each script run in its own thread; Playwright's sync API would refuse a second thread.
    renderer = ChartRenderer()
    results: list[bytes] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            fig = _figure().update_layout(title=f"figure {i}")
            results.append(renderer.render(fig, "svg" if i % 2 else "png", 300, 200, 1))
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors and len(results) == 6
        first = renderer._thread
        renderer.render(_figure(), "png", 100, 100, 1)
        assert renderer._thread is first  # warm: the same worker and browser served every call
    finally:
        renderer.close()
    assert not renderer._thread.is_alive()
    assert renderer.render(_figure(), "png", 120, 80, 1).startswith(PNG_SIGNATURE)  # restarts after close
    renderer.close()


@pytest.mark.browser
@needs_chromium
def test_a_failing_figure_fails_alone_offline_and_the_browser_keeps_serving():
    renderer = ChartRenderer(timeout_s=20)
    try:
        with pytest.raises(ValueError, match="image format"):
            renderer.render(_figure(), "gif", 100, 100, 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="positive"):
            renderer.render(_figure(), "png", 0, 100, 1)
        # A map needs plotly's CDN for its outlines; the page may not fetch anything, so plotly fails.
        with pytest.raises(ValueError, match="topojson"):
            renderer.render(go.Figure(go.Scattergeo(lon=[0], lat=[0])), "png", 200, 200, 1)
        assert renderer.render(_figure(), "png", 100, 100, 1).startswith(PNG_SIGNATURE)
    finally:
        renderer.close()


@pytest.mark.browser
@needs_chromium
def test_warm_up_returns_at_once_and_the_next_image_uses_its_browser():
    t0 = time.perf_counter()
    warm_up()
    assert time.perf_counter() - t0 < 0.5
    assert figure_image(_figure(), "svg", 200, 100, 1).startswith(b"<svg")


def test_missing_chromium_is_one_clear_line(tmp_path):
    renderer = ChartRenderer(executable=tmp_path / "no-chromium")
    with pytest.raises(ExportUnavailable) as err:
        renderer.render(_figure(), "png", 100, 100, 1)
    assert str(err.value) == NEEDS_CHROMIUM == "chart export needs Chromium: apt-get install chromium"
    assert renderer._thread is None  # nothing was started


def test_latex_escapes_every_special_character():
    hostile = r"50% & $5 #1 a_b {x} ~y ^z \cmd <a|b> ▲▼"
    assert latex_escape(hostile) == (
        r"50\% \& \$5 \#1 a\_b \{x\} \textasciitilde{}y \textasciicircum{}z \textbackslash{}cmd "
        r"\textless{}a\textbar{}b\textgreater{} $\blacktriangle$$\blacktriangledown$"
    )
    assert latex_escape("two\nlines") == "two lines"


def _unescaped(line: str, char: str) -> int:
    return len(re.findall(rf"(?<!\\){re.escape(char)}", line))


def test_latex_table_columns_alignment_and_hostile_cells():
    df = pd.DataFrame(
        {
            "encoder & model": ["labse", "e5_small {v2}", "50% \\ 100%"],
            "lang": ["amh", "deu", "x^2~"],
            "clean MRR": ["0.912 [0.88, 0.94] ▲", "0.804 [0.77, 0.83] ▼", "n/a"],
            "drop": [0.1234, float("nan"), -0.5],
            "n": [168, 1000, 3],
        }
    )
    tex = table_latex(df)
    lines = tex.splitlines()
    assert lines[0].startswith("%") and "booktabs" in lines[0] and "amssymb" in lines[0]
    assert lines[1] == r"\begin{tabular}{llrrr}"
    rows = [ln for ln in lines if ln.endswith(r"\\")]
    assert len(rows) == 1 + len(df)
    assert all(_unescaped(r, "&") == df.shape[1] - 1 for r in rows)
    assert rows[0].startswith(r"encoder \& model & lang & clean MRR")
    assert r"e5\_small \{v2\}" in tex and r"50\% \textbackslash{} 100\%" in tex
    assert r"0.912 [0.88, 0.94] $\blacktriangle$" in tex and r"$\blacktriangledown$" in tex
    assert rows[1].split(" & ")[3] == "0.123" and rows[2].split(" & ")[3] == ""  # digits=3, NaN empty
    rules = [ln for ln in lines if ln in (r"\toprule", r"\midrule", r"\bottomrule")]
    assert rules == [r"\toprule", r"\midrule", r"\bottomrule"]
    assert r"\begin{table}" not in tex


def test_latex_caption_and_label_make_a_float():
    tex = table_latex(pd.DataFrame({"a": [1]}), caption="MRR of 5% noise", label="tab:mrr")
    assert r"\begin{table}[t]" in tex and tex.rstrip().endswith(r"\end{table}")
    assert r"\caption{MRR of 5\% noise}" in tex and r"\label{tab:mrr}" in tex
    with pytest.raises(ValueError, match="label"):
        table_latex(pd.DataFrame({"a": [1]}), label="tab:{bad}")
    with pytest.raises(ValueError, match="no columns"):
        table_latex(pd.DataFrame())


def test_csv_round_trips_through_pandas():
    df = pd.DataFrame(
        {
            "encoder": ["labse", 'quote "q", comma', "ቋንቋ ▲"],
            "mrr": [0.123456789012, 1.0, float("nan")],
            "n": [168, 1000, 3],
        }
    )
    data = table_csv(df)
    assert isinstance(data, bytes) and not data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8")
    pd.testing.assert_frame_equal(back, df)
