"""FLORES-200 sentences in SIB-200's layout: ``<code>/{train,dev,test}.tsv`` with ``index_id, category, text``.

The same ``index_id`` is the same sentence in every language (multi-way parallel), and ``eng_Latn`` is the
English side of every language. Files are tab-separated without quoting (quote characters are text), UTF-8
with an optional BOM, any line end; an empty line is not a row.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.datasets.bitext import Bitext
from core.datasets.textfile import read_text, split_lines
from core.errors import DataError, UnknownNameError

NAME = "flores200"
ENGLISH = "eng_Latn"
SPLITS: tuple[str, ...] = ("train", "dev", "test")
COLUMNS = ("index_id", "category", "text")
_HEADER = "\t".join(COLUMNS)
_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


def flores_label(split: str | None) -> str:
    """The dataset name stored with cells: ``flores200`` for all 1,004 sentences, ``flores200-test`` for one
    split (another corpus, so its cells never mix with the whole set's)."""
    return NAME if split is None else f"{NAME}-{split}"


def _split_files(folder: Path, split: str | None) -> list[Path]:
    if split is not None and split not in SPLITS:
        raise UnknownNameError("split", split, SPLITS)
    return [folder / f"{s}.tsv" for s in ((split,) if split else SPLITS)]


def flores_languages(path: Path) -> list[str]:
    """The sorted FLORES codes (``amh_Ethi``) of ``path``'s language folders, English excluded.

    Raises:
        DataError: ``path`` has no English side (``eng_Latn/``) or no other language.
    """
    path = Path(path)
    if not (path / ENGLISH).is_dir():
        raise DataError(f"no FLORES-200 English side ({ENGLISH}/) in {str(path)!r}")
    langs = sorted(d.name for d in path.iterdir() if d.is_dir() and _CODE.match(d.name) and d.name != ENGLISH)
    if not langs:
        raise DataError(f"no FLORES-200 language folders (e.g. amh_Ethi/) in {str(path)!r}")
    return langs


def read_sentences(path: Path, code: str, split: str | None = None) -> dict[int, str]:
    """``{index_id: text}`` of one language (all splits, or ``split``), read as the module docstring says.

    Raises:
        UnknownNameError: unknown split.
        DataError: naming file and line: a missing split file, a header other than ``index_id, category,
            text``, a row without exactly three fields, an ``index_id`` that is not an integer or appears
            twice, an empty text, bytes that are not UTF-8.
    """
    out: dict[int, str] = {}
    for file in _split_files(Path(path) / code, split):
        if not file.is_file():
            raise DataError(f"{NAME}/{code}: {file.name} is missing in {str(file.parent)!r}")
        lines = split_lines(read_text(file))
        if not lines or tuple(lines[0].split("\t")) != COLUMNS:
            raise DataError(f"{code}/{file.name}:1: the header must be {_HEADER!r}")
        for n, line in enumerate(lines[1:], 2):
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != len(COLUMNS):
                raise DataError(f"{code}/{file.name}:{n}: {len(fields)} tab-separated fields, expected 3")
            raw_id, _, text = fields
            if not raw_id.isascii() or not raw_id.isdigit():
                raise DataError(f"{code}/{file.name}:{n}: index_id {raw_id[:20]!r} is not an integer")
            qid = int(raw_id)
            if qid in out:
                raise DataError(f"{code}/{file.name}:{n}: index_id {qid} appears twice")
            if not text.strip():
                raise DataError(f"{code}/{file.name}:{n}: index_id {qid} has no text")
            out[qid] = text
    return out


def flores_english(path: Path, split: str | None = None) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The English side: ``(index_ids, sentences)`` in ``index_id`` order (see :func:`read_sentences`)."""
    english = read_sentences(Path(path), ENGLISH, split)
    ids = tuple(sorted(english))
    return ids, tuple(english[i] for i in ids)


def load_flores(path: Path, lang: str, split: str | None = None) -> Bitext:
    """One language of FLORES-200 against the English side, ordered by ``index_id`` (its ``qid``).

    Guarantees ``queries[i]`` and ``documents[i]`` are the language's and English's sentence with the same
    ``index_id``, for every ``index_id`` of the split(s), and that the language has exactly English's ids.

    Raises:
        UnknownNameError: ``lang`` has no folder in ``path`` (the message lists those that do), or unknown
            split.
        DataError: a malformed file (see :func:`read_sentences`), or a language whose ids differ from
            English's (a missing or extra sentence).
    """
    path = Path(path)
    if lang == ENGLISH or not _CODE.match(lang or "") or not (path / lang).is_dir():
        raise UnknownNameError("language", lang, flores_languages(path))
    english = read_sentences(path, ENGLISH, split)
    own = read_sentences(path, lang, split)
    if own.keys() != english.keys():
        missing = sorted(english.keys() - own.keys())
        extra = sorted(own.keys() - english.keys())
        what = f"missing index_id {missing[:5]}" if missing else f"index_id {extra[:5]} not in English"
        raise DataError(
            f"{NAME}/{lang}: {len(own)} sentences where English ({ENGLISH}) has {len(english)} ({what}); "
            "a multi-way parallel set needs every sentence in every language"
        )
    ids = sorted(english)
    return Bitext(
        flores_label(split), lang, tuple(own[i] for i in ids), tuple(english[i] for i in ids), tuple(ids)
    )
