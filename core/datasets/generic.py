"""Any other bitext: a folder of ``{lang}.tsv`` or ``{lang}.jsonl`` files with query / document columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from core.datasets.bitext import Bitext
from core.errors import DataError, UnknownNameError

QUERY_COL, DOC_COL = "query", "document"


def generic_languages(path: Path) -> list[str]:
    """Return the sorted language codes (file stems) of ``*.tsv`` and ``*.jsonl`` files in ``path``."""
    langs = sorted({f.stem for f in Path(path).iterdir() if f.suffix in (".tsv", ".jsonl")})
    if not langs:
        raise DataError(f"no .tsv or .jsonl bitext files in {str(path)!r}")
    return langs


def _rows_tsv(file: Path) -> list[dict]:
    with open(file, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _rows_jsonl(file: Path) -> list[dict]:
    rows = []
    with open(file, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{file.name}:{n}: not JSON ({exc.msg})") from exc
    return rows


def load_generic(path: Path, lang: str) -> Bitext:
    """Load ``{lang}.tsv`` (header row with ``query`` and ``document``) or ``{lang}.jsonl`` from ``path``.

    Guarantees row order is kept, so ``qid`` is the 0-based data row.

    Raises:
        UnknownNameError: no file for ``lang``.
        DataError: a missing column, a non-string cell, or bad UTF-8 / JSON.
    """
    path = Path(path)
    tsv, jsonl = path / f"{lang}.tsv", path / f"{lang}.jsonl"
    try:
        if tsv.is_file():
            file, rows = tsv, _rows_tsv(tsv)
        elif jsonl.is_file():
            file, rows = jsonl, _rows_jsonl(jsonl)
        else:
            raise UnknownNameError("language", lang, generic_languages(path))
    except UnicodeDecodeError as exc:
        raise DataError(f"{lang}: not UTF-8 ({exc.reason})") from exc
    for n, row in enumerate(rows):
        for col in (QUERY_COL, DOC_COL):
            if not isinstance(row.get(col), str):
                raise DataError(f"{file.name}: row {n} has no text column {col!r}")
    return Bitext("generic", lang, tuple(r[QUERY_COL] for r in rows), tuple(r[DOC_COL] for r in rows))
