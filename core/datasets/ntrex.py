"""NTREX-128: ``newstest2019-ref.<code>.txt``, line *i* translating line *i* of ``newstest2019-src.eng.txt``.

``DOCUMENT_IDS.tsv`` names each line's news document (123 documents, their lines contiguous and in order).
UTF-8 with an optional BOM, any line end. Every file must have English's line count: a line is a sentence's
place, so an empty line stays a (missing) sentence and is never skipped; a pair whose translation or English
sentence is empty is left out of the queries, the others keep their line number as ``qid``.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.datasets.bitext import Bitext
from core.datasets.textfile import read_text, split_lines
from core.errors import DataError, UnknownNameError

NAME = "ntrex128"
ENGLISH_FILE = "newstest2019-src.eng.txt"
DOCUMENT_IDS = "DOCUMENT_IDS.tsv"
_FILE = re.compile(r"^newstest2019-ref\.([a-z]{3}(?:-[A-Za-z0-9]+)?)\.txt$")


def ntrex_file(path: str | Path, code: str) -> Path:
    """The file of language ``code`` in ``path``: the layout's one spelling."""
    return Path(path) / f"newstest2019-ref.{code}.txt"


def ntrex_languages(path: Path) -> list[str]:
    """The sorted NTREX codes (``amh``, ``aze-Latn``) of ``path``'s reference files.

    Raises:
        DataError: ``path`` has no English source file or no reference file.
    """
    path = Path(path)
    if not (path / ENGLISH_FILE).is_file():
        raise DataError(f"no NTREX-128 English side ({ENGLISH_FILE}) in {str(path)!r}")
    langs = sorted(m.group(1) for f in path.iterdir() if (m := _FILE.match(f.name)) and f.is_file())
    if not langs:
        raise DataError(f"no NTREX-128 files (newstest2019-ref.XXX.txt) in {str(path)!r}")
    return langs


def _lines(file: Path) -> list[str]:
    return split_lines(read_text(file))


def document_ids(path: Path) -> tuple[str, ...]:
    """Each English line's document id, from ``DOCUMENT_IDS.tsv`` (first column), checked for contiguity.

    Raises:
        DataError: the file is missing, has an empty id, or a document's lines are not contiguous.
    """
    file = Path(path) / DOCUMENT_IDS
    if not file.is_file():
        raise DataError(f"{NAME}: {DOCUMENT_IDS} is missing in {str(path)!r} (it names each line's document)")
    ids = []
    for n, line in enumerate(_lines(file), 1):
        doc = line.split("\t")[0].strip()
        if not doc:
            raise DataError(f"{DOCUMENT_IDS}:{n}: no document id")
        ids.append(doc)
    seen: set[str] = set()
    for n, (prev, doc) in enumerate(zip([None, *ids], ids), 1):
        if doc != prev:
            if doc in seen:
                raise DataError(f"{DOCUMENT_IDS}:{n}: document {doc!r} resumes after another: not contiguous")
            seen.add(doc)
    return tuple(ids)


def load_ntrex(path: Path, lang: str, split: str | None = None) -> Bitext:
    """One language of NTREX-128 against the English source, with each pair's document id.

    Guarantees ``queries[i]`` is line ``qids[i]`` (0-based) of the language's file and ``documents[i]`` the
    same line of the English file, ``doc_ids[i]`` that line's document; lines whose translation or English
    sentence is empty are left out.

    Raises:
        UnknownNameError: no file for ``lang`` (the message lists the languages that have one).
        DataError: a file that is not UTF-8, or whose line count differs from English's.
    """
    path = Path(path)
    file = ntrex_file(path, lang)
    if not _FILE.match(file.name) or not file.is_file():
        raise UnknownNameError("language", lang, ntrex_languages(path))
    english = _lines(path / ENGLISH_FILE)
    own = _lines(file)
    docs = document_ids(path)
    for name, lines in ((file.name, own), (DOCUMENT_IDS, docs)):
        if len(lines) != len(english):
            raise DataError(
                f"{NAME}/{lang}: {name} has {len(lines)} lines where {ENGLISH_FILE} has {len(english)}; "
                "line i of every file must translate English line i"
            )
    keep = [i for i, (q, e) in enumerate(zip(own, english)) if q.strip() and e.strip()]
    return Bitext(
        NAME, lang,
        tuple(own[i] for i in keep), tuple(english[i] for i in keep), tuple(keep), tuple(docs[i] for i in keep),
    )  # fmt: skip


def ntrex_english(path: Path, split: str | None = None) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The English side: ``(line numbers, sentences)`` of its non-empty lines (``split`` must be None)."""
    english = _lines(Path(path) / ENGLISH_FILE)
    keep = [i for i, e in enumerate(english) if e.strip()]
    return tuple(keep), tuple(english[i] for i in keep)


def english_documents(path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The English news documents in order of first line: ``(document id, its non-empty sentences)``."""
    path = Path(path)
    english = _lines(path / ENGLISH_FILE)
    docs = document_ids(path)
    if len(docs) != len(english):
        raise DataError(
            f"{NAME}: {DOCUMENT_IDS} has {len(docs)} lines where {ENGLISH_FILE} has {len(english)}"
        )
    out: dict[str, list[str]] = {}
    for doc, sentence in zip(docs, english):
        out.setdefault(doc, [])
        if sentence.strip():
            out[doc].append(sentence)
    return tuple((d, tuple(s)) for d, s in out.items())
