"""Issue 25, item 6: no exported file runs or breaks anything where it is opened.

CSV: the Runs page's export wrote cells starting with ``=``, ``+``, ``-``, ``@`` as they were, which a
spreadsheet runs as formulas (CSV injection). Every CSV the product writes now goes through one writer,
:func:`dashboard.export.table_csv`, which prefixes such text cells with ``'`` (OWASP), tab and carriage return
included, and leaves numbers numbers. LaTeX: a cell starting with ``[`` right after ``\\\\`` or ``\\midrule``
was read as the row command's optional argument (the table did not compile); it is now preceded by ``{}``.
The LaTeX is compiled where a TeX engine is installed, checked as text everywhere.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboard.export import table_csv, table_latex

pytestmark = pytest.mark.hostile

FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://e.vil","x")']


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_text_cells_that_a_spreadsheet_would_run_are_quoted():
    df = pd.DataFrame({"text": FORMULAS, "n": range(len(FORMULAS)), "x": [-0.5] * len(FORMULAS)})
    rows = _cells(table_csv(df))
    assert rows[0] == ["text", "n", "x"]
    assert [r[0] for r in rows[1:]] == ["'" + f for f in FORMULAS]
    assert all(r[2] == "-0.5" for r in rows[1:]), "numbers stay numbers, negative ones too"
    plain = pd.DataFrame({"a": ["amh", "x=1", "a-b", " =x"], "n": [1, 2, 3, 4]})
    assert [r[0] for r in _cells(table_csv(plain))[1:]] == ["amh", "x=1", "a-b", " =x"]
    # A line break inside a text is quoted: "=1+1" after it never starts a row of its own.
    broken = _cells(table_csv(pd.DataFrame({"a": ["x\r=1+1", "y\n=2", "z\r\n@3"], "n": [1, 2, 3]})))
    assert broken[1:] == [["x\r=1+1", "1"], ["y\n=2", "2"], ["z\r\n@3", "3"]]


def test_headers_categories_and_mixed_columns_are_quoted_too():
    df = pd.DataFrame(
        {
            "=cmd": ["a", "b"],
            "cat": pd.Categorical(["-x", "y"]),
            "mixed": [3, "@x"],
            "str": pd.array(["+1", None], dtype="string"),
        }
    )
    rows = _cells(table_csv(df))
    assert rows == [["'=cmd", "cat", "mixed", "str"], ["a", "'-x", "3", "'+1"], ["b", "y", "'@x", ""]]


@pytest.fixture
def hostile_db(data_dir: Path, tmp_path: Path) -> Path:
    """A real run (muse3, 4 German queries), then a query text replaced by a formula, as an attacker who
    controls the data would write it."""
    from core.pipeline import parse_grid, run_grid

    grid = (
        '[dataset]\nname = "tatoeba"\nlanguages = ["deu"]\nmax_queries = 4\n'
        '[grid]\nencoders = ["muse3"]\nnoise = ["delete"]\nlevels = [0.1]\nseeds = [0]\n'
    )
    db = tmp_path / "csv.duckdb"
    run_grid(parse_grid(grid, "csv.toml"), db, progress=False, say=lambda _m: None)
    with duckdb.connect(str(db)) as conn:
        conn.execute('UPDATE ranks SET query_noisy = \'=HYPERLINK("http://e.vil","click")\' WHERE qid = 0')
    return db


@pytest.mark.slow
def test_the_runs_page_export_is_escaped(hostile_db, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CLIR_DB", str(hostile_db))
    at = AppTest.from_string("from dashboard.views import runs\nruns.main()", default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="runs_prepare").click().run()
    assert not at.exception, [e.value for e in at.exception]
    rows = _cells(at.session_state["runs_export"][1])
    column = rows[0].index("query_noisy")
    noisy = [r[column] for r in rows[1:] if r[column].lstrip("'").startswith("=")]
    assert noisy and all(c == '\'=HYPERLINK("http://e.vil","click")' for c in noisy), noisy


def test_latex_protects_a_cell_that_starts_a_row_with_a_bracket_or_a_star():
    df = pd.DataFrame({"[h]": ["[0.50, 0.60]", "*x", " [y]", "ok"], "MRR": [0.5, 0.25, 0.125, 1.0]})
    lines = table_latex(df).splitlines()
    head = lines.index(r"\toprule") + 1
    assert lines[head].startswith("{}[h] &")
    body = lines[lines.index(r"\midrule") + 1 : lines.index(r"\bottomrule")]
    assert [b.split(" & ")[0] for b in body] == ["{}[0.50, 0.60]", "{}*x", "{} [y]", "ok"]
    # Nothing after a row command starts with a bracket or a star any more.
    for before, after in zip(lines, lines[1:]):
        if before.endswith((r"\\", r"\midrule", r"\toprule")):
            assert not after.lstrip().startswith(("[", "*")), after


def test_latex_escapes_special_and_control_characters():
    hostile = "50% & $x$ #1 a_b {c} ~ ^ \\input{/etc/passwd} \x00\x0c\x7f end"
    cell = table_latex(pd.DataFrame({"c": [hostile]})).splitlines()[-3]
    assert "\\input" not in cell.replace("\\textbackslash{}input", "")
    assert not any(ch in cell for ch in "\x00\x0c\x7f")
    for raw in ("%", "&", "$", "#", "_", "{", "}"):
        assert cell.count("\\" + raw) == hostile.count(raw), raw


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX engine here (pdflatex)")
def test_latex_table_compiles(tmp_path):
    df = pd.DataFrame({"[a]": ["[0.5, 1]", "*x", "50% & $y$ \\z"], "n": [1.0, 2.0, 3.0]})
    doc = (
        "\\documentclass{article}\\usepackage{booktabs,amssymb}\\begin{document}\n"
        + table_latex(df, caption="[cap] 5%")
        + "\\end{document}\n"
    )
    (tmp_path / "t.tex").write_text(doc, encoding="utf-8")
    out = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:]
