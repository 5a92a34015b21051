"""Any other bitext: a folder of ``{lang}.tsv`` or ``{lang}.jsonl`` files with query / document columns.

Formats (UTF-8, a leading byte-order mark is accepted and dropped):

* ``.tsv``: a header row naming the columns (``query`` and ``document`` among them, each once), then one row
  per pair. There is no quoting: every tab separates two fields and quote characters are literal text, so a
  cell cannot hold a tab or a line break. Every row has exactly as many fields as the header; an empty line
  is skipped. Lines end in ``\\n``, ``\\r\\n`` or ``\\r`` (as for Tatoeba's files).
* ``.jsonl``: one JSON object per line with string ``query`` and ``document`` members; a blank line is
  skipped.

Anything else (a row with a missing or an extra field, a line that is not a JSON object, a non-string cell,
bytes that are not UTF-8) is a :class:`~core.errors.DataError` naming the file and its 1-based line: a
field is never dropped or shifted silently.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.datasets.bitext import Bitext
from core.datasets.textfile import read_text as _read_text
from core.datasets.textfile import split_lines as _lines
from core.errors import DataError, UnknownNameError

QUERY_COL, DOC_COL = "query", "document"


def generic_languages(path: Path) -> list[str]:
    """Return the sorted language codes (file stems) of ``*.tsv`` and ``*.jsonl`` files in ``path``."""
    langs = sorted({f.stem for f in Path(path).iterdir() if f.suffix in (".tsv", ".jsonl")})
    if not langs:
        raise DataError(f"no .tsv or .jsonl bitext files in {str(path)!r}")
    return langs


def _rows_tsv(file: Path) -> list[tuple[int, dict]]:
    lines = _lines(_read_text(file))
    if not lines:
        raise DataError(f"{file.name}: empty (needs a header row with {QUERY_COL!r} and {DOC_COL!r})")
    header = lines[0].split("\t")
    for col in (QUERY_COL, DOC_COL):
        if header.count(col) != 1:
            problem = "no" if col not in header else "more than one"
            raise DataError(
                f"{file.name}:1: the header row has {problem} {col!r} column (columns: {header[:8]!r})"
            )
    rows = []
    for n, line in enumerate(lines[1:], 2):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(
                f"{file.name}:{n}: {len(fields)} tab-separated fields, the header has {len(header)} "
                "(a cell cannot contain a tab: the format has no quoting)"
            )
        rows.append((n, dict(zip(header, fields))))
    return rows


def _rows_jsonl(file: Path) -> list[tuple[int, dict]]:
    rows = []
    # JSON Lines ends records at "\n" only; a "\r" before it is JSON whitespace.
    for n, line in enumerate(_read_text(file).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file.name}:{n}: not JSON ({exc.msg})") from exc
        except (RecursionError, ValueError) as exc:
            # Nesting deeper than the interpreter's stack, or an integer over Python's digit limit.
            what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split("\n")[0]
            raise DataError(f"{file.name}:{n}: not a usable JSON line ({what})") from None
        if not isinstance(row, dict):
            raise DataError(f"{file.name}:{n}: a JSON {type(row).__name__} where an object is needed")
        rows.append((n, row))
    return rows


def load_generic(path: Path, lang: str) -> Bitext:
    """Load ``{lang}.tsv`` (header row with ``query`` and ``document``) or ``{lang}.jsonl`` from ``path``.

    Guarantees row order is kept, so ``qid`` is the 0-based data row (empty lines are not rows), and that
    every row's fields are exactly the header's (see the module docstring for the formats).

    Raises:
        UnknownNameError: no file for ``lang``.
        DataError: naming the file and line: a missing column, a row with too few or too many fields, a line
            that is not a JSON object (or is nested too deeply), a non-string cell, or bytes that are not UTF-8.
    """
    path = Path(path)
    tsv, jsonl = path / f"{lang}.tsv", path / f"{lang}.jsonl"
    if tsv.is_file():
        file, rows = tsv, _rows_tsv(tsv)
    elif jsonl.is_file():
        file, rows = jsonl, _rows_jsonl(jsonl)
    else:
        raise UnknownNameError("language", lang, generic_languages(path))
    for n, row in rows:
        for col in (QUERY_COL, DOC_COL):
            if not isinstance(row.get(col), str):
                raise DataError(f"{file.name}:{n}: no text member {col!r}")
    return Bitext("generic", lang, tuple(r[QUERY_COL] for _, r in rows), tuple(r[DOC_COL] for _, r in rows))
