"""Tatoeba test set in LASER's layout: ``tatoeba.XXX-eng.XXX`` and ``tatoeba.XXX-eng.eng``."""

from __future__ import annotations

import re
from pathlib import Path

from core.datasets.bitext import Bitext
from core.errors import DataError, UnknownNameError

_FILE = re.compile(r"^tatoeba\.([a-z]{3})-eng\.\1$")


def tatoeba_file(path: str | Path, lang: str, side: str) -> Path:
    """The file of ``lang``'s ``side`` (``lang`` itself or ``"eng"``) in ``path``: the layout's one spelling.

    Example:
        >>> tatoeba_file("data", "amh", "eng").name
        'tatoeba.amh-eng.eng'
    """
    return Path(path) / f"tatoeba.{lang}-eng.{side}"


def tatoeba_languages(path: Path) -> list[str]:
    """Return the sorted ISO 639-3 codes that have both files in ``path``.

    Raises:
        DataError: if ``path`` holds no Tatoeba file at all.
    """
    langs = sorted(
        m.group(1)
        for f in Path(path).iterdir()
        if (m := _FILE.match(f.name)) and tatoeba_file(path, m.group(1), "eng").is_file()
    )
    if not langs:
        raise DataError(f"no Tatoeba files (tatoeba.XXX-eng.XXX) in {str(path)!r}")
    return langs


def _read_lines(file: Path) -> list[str]:
    # Only the line terminator is removed: inner whitespace is part of the sentence a typist produced.
    with open(file, encoding="utf-8", newline="") as fh:
        return [line.rstrip("\r\n") for line in fh]


def load_tatoeba(path: Path, lang: str) -> Bitext:
    """Load one language of the Tatoeba test set.

    Guarantees ``queries[i]`` is line ``i`` of ``tatoeba.{lang}-eng.{lang}`` and ``documents[i]`` line ``i``
    of ``tatoeba.{lang}-eng.eng``, both without their line terminator.

    Raises:
        UnknownNameError: ``lang`` has no files in ``path`` (the message lists the languages that do).
        DataError: the files are not valid UTF-8, are empty, or differ in length.
    """
    src, eng = tatoeba_file(path, lang, lang), tatoeba_file(path, lang, "eng")
    if not (src.is_file() and eng.is_file()):
        raise UnknownNameError("language", lang, tatoeba_languages(path))
    try:
        return Bitext("tatoeba", lang, tuple(_read_lines(src)), tuple(_read_lines(eng)))
    except UnicodeDecodeError as exc:
        raise DataError(f"{src.name}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
