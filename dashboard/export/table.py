"""Tables for slides and papers: CSV bytes for spreadsheets, a booktabs LaTeX tabular written by hand."""

from __future__ import annotations

import math
import re

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

# The special characters of LaTeX text mode, plus < > | (wrong glyphs under OT1) and the significance marks
# the Findings table carries. One pass over the string, so no replacement is ever escaped twice.
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "▲": r"$\blacktriangle$",
    "▼": r"$\blacktriangledown$",
    "\n": " ",
    "\r": " ",
    "\t": " ",
}
# Every other control character too: TeX stops on most of them ("invalid character"), and ^^L is \par.
_LATEX.update({chr(c): " " for c in (*range(32), 127) if chr(c) not in _LATEX})
_SPECIAL = re.compile("|".join(re.escape(c) for c in _LATEX))
# A cell "is a number" when it starts like one: 0.52, -3, .5, 0.52 [0.49, 0.55] ▲, 12%.
_NUMBER_LIKE = re.compile(r"^\s*[-+−]?(\d|\.\d)")
_EMPTY = {"", "n/a", "nan", "—", "-"}
# OWASP's list of the characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PREAMBLE = r"% needs \usepackage{booktabs} and \usepackage{amssymb} (for \blacktriangle, \blacktriangledown)"


def latex_escape(text: object) -> str:
    r"""``text`` as LaTeX text-mode source that prints it literally (newlines become spaces).

    Example:
        >>> latex_escape("50% of R&D_1 ▲")
        '50\\% of R\\&D\\_1 $\\blacktriangle$'
    """
    return _SPECIAL.sub(lambda m: _LATEX[m.group(0)], str(text))


def csv_cell(value: object) -> object:
    """``value`` as a CSV cell that no spreadsheet runs as a formula (OWASP, "CSV Injection").

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (which
    spreadsheets read as "this is text"); any other value, numbers included (a negative number stays a
    number), is returned unchanged.

    Example:
        >>> csv_cell("=HYPERLINK(1)"), csv_cell("-0.5 [x]"), csv_cell(-0.5), csv_cell("amh")
        ("'=HYPERLINK(1)", "'-0.5 [x]", -0.5, 'amh')
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_column(col: pd.Series) -> pd.Series:
    if not (col.dtype == object or isinstance(col.dtype, (pd.StringDtype, pd.CategoricalDtype))):
        return col  # numbers, booleans and dates are written as such
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    try:  # vectorised: a Python call per cell costs seconds on the Runs page's 500,000-row exports
        starts = col.str.startswith(_FORMULA_START).fillna(False).astype(bool)
    except AttributeError:  # an object column without any text
        return col
    if not starts.any():
        return col
    col = col.copy()
    col[starts] = col[starts].map(csv_cell)
    return col


def table_csv(df: pd.DataFrame) -> bytes:
    """``df`` as UTF-8 CSV bytes (no BOM, no index, full float precision, CRLF rows as RFC 4180 has them,
    line breaks inside a cell quoted): the one CSV writer of the product
    (the dashboard's table downloads and the Runs page's export both call it).

    Guarantees: every header and text cell goes through :func:`csv_cell`, so opening the file in a
    spreadsheet runs no formula; ``pandas.read_csv`` reads it back to the same values, except that such
    text cells keep their leading ``'``.
    """
    safe = pd.DataFrame({i: _csv_column(df.iloc[:, i]) for i in range(df.shape[1])}, index=df.index)
    if isinstance(df.columns, pd.MultiIndex):
        safe.columns = pd.MultiIndex.from_tuples(
            [tuple(map(csv_cell, c)) for c in df.columns], names=df.columns.names
        )
    else:
        safe.columns = [csv_cell(c) for c in df.columns]
    # CRLF rows (RFC 4180): the writer then quotes every cell holding a \r or a \n, so a carriage return
    # inside a text can never start a new row (whose first cell a spreadsheet would read on its own).
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def _protect(tex: str) -> str:
    r"""A cell that starts a table row, made safe from the command before it: ``\\``, ``\toprule`` and
    ``\midrule`` look past spaces for an optional ``[dimen]`` (and ``\\`` for a ``*``), so a cell starting
    with ``[`` would fail to compile ("Missing number") and one starting with ``*`` would lose it. ``{}``
    ends that look-ahead and prints nothing."""
    return "{}" + tex if tex.lstrip().startswith(("[", "*")) else tex


def _is_missing(value: object) -> bool:
    return (
        value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT
    )


def _cell(value: object, digits: int) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _protect(latex_escape(value))


def _right_aligned(col: pd.Series) -> bool:
    """Numbers right, text left: numeric dtypes, and text columns whose every cell starts like a number."""
    if is_numeric_dtype(col) and not is_bool_dtype(col):
        return True
    cells = [str(v).strip() for v in col if not _is_missing(v)]
    cells = [c for c in cells if c.lower() not in _EMPTY]
    return bool(cells) and all(_NUMBER_LIKE.match(c) for c in cells)


def _header(name: object) -> str:
    return _protect(latex_escape(" / ".join(map(str, name)) if isinstance(name, tuple) else name))


def table_latex(
    df: pd.DataFrame, caption: str | None = None, label: str | None = None, *, digits: int = 3
) -> str:
    r"""``df`` as a booktabs tabular: one column per DataFrame column (the index is dropped; call
    ``reset_index()`` to keep it), numbers right-aligned and text left-aligned, floats to ``digits`` places,
    missing values empty, and every header and cell escaped so any string prints literally (▲/▼ become
    ``$\blacktriangle$`` / ``$\blacktriangledown$``; control characters become spaces; a cell starting with
    ``[`` or ``*`` is preceded by ``{}``, so the row command before it cannot take it as its argument).

    Guarantees: the first line is a comment naming the packages it needs (booktabs, amssymb); with a
    ``caption`` or ``label`` the tabular is wrapped in a ``table`` float carrying them (the caption is
    escaped, the label is used as given), otherwise it is a bare tabular that fits a beamer frame.

    Raises:
        ValueError: ``df`` has no columns, or ``label`` contains characters LaTeX labels cannot hold.

    Example:
        >>> print(table_latex(pd.DataFrame({"encoder": ["labse"], "MRR": [0.5]})))  # doctest: +NORMALIZE_WHITESPACE
        % needs \usepackage{booktabs} and \usepackage{amssymb} (for \blacktriangle, \blacktriangledown)
        \begin{tabular}{lr}
        \toprule
        encoder & MRR \\
        \midrule
        labse & 0.500 \\
        \bottomrule
        \end{tabular}
    """
    if df.shape[1] == 0:
        raise ValueError("cannot write a table with no columns")
    if label is not None and not re.fullmatch(r"[A-Za-z0-9:._+-]+", label):
        raise ValueError(f"LaTeX label {label!r} may hold only letters, digits and : . _ + -")
    spec = "".join("r" if _right_aligned(df.iloc[:, i]) else "l" for i in range(df.shape[1]))
    body = [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_header(c) for c in df.columns) + r" \\",
        r"\midrule",
        *(
            " & ".join(_cell(v, digits) for v in row) + r" \\"
            for row in df.itertuples(index=False, name=None)
        ),
        r"\bottomrule",
        r"\end{tabular}",
    ]
    if caption is None and label is None:
        return "\n".join([PREAMBLE, *body]) + "\n"
    head = [PREAMBLE, r"\begin{table}[t]", r"\centering"]
    if caption is not None:
        head.append(rf"\caption{{{latex_escape(caption)}}}")
    if label is not None:
        head.append(rf"\label{{{label}}}")
    return "\n".join([*head, *body, r"\end{table}"]) + "\n"
