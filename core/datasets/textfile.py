"""Reading the datasets' text files: UTF-8, a leading BOM dropped, universal line ends."""

from __future__ import annotations

import io
from pathlib import Path

from core.errors import DataError

_BOM = "\ufeff"


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` without their terminators; ``\\n``, ``\\r\\n`` and a lone ``\\r`` end a line.

    Not ``str.splitlines``, which would also split a sentence at U+2028, U+0085 or a form feed that belong
    to its text. A final terminator does not start an empty last line.
    """
    return [line.rstrip("\r\n") for line in io.StringIO(text, newline="")]


def read_text(file: Path) -> str:
    """The file's text without a leading BOM.

    Raises:
        DataError: the file cannot be read, or holds bytes that are not UTF-8 (the message names the file
            and the 1-based line of the first bad byte).
    """
    try:
        raw = Path(file).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {str(file)!r}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The bytes before the first bad one decode: count the lines they span (the bad byte's line included).
        line = len(split_lines(raw[: exc.start].decode("utf-8") + "x"))
        raise DataError(f"{Path(file).name}:{line}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return text.removeprefix(_BOM)
