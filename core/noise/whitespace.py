"""``whitespace``: segmentation noise, spaces dropped between words or inserted inside them."""

from __future__ import annotations

import numpy as np

from core.noise.engine import Doc, Family, run
from core.noise.result import NoiseResult

#: Scripts written without spaces between words: there, spurious spaces are the segmentation error.
UNSPACED_SCRIPTS = frozenset({"Hani", "Hira", "Kana", "Thai", "Laoo", "Khmr", "Mymr", "Tibt", "Java", "Bali"})


def whitespace_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Drop the space ending cluster ``i``'s word (``a < .5``, spaced scripts) or split after ``i``.

    Splits go after the selected cluster only, so two selected clusters never insert at one gap; a
    word-final cluster drops the following space instead.
    """
    units, space, n = doc.units, doc.space, len(doc.units)
    split_ok = i + 1 < n and not space[i + 1]
    if split_ok and (a >= 0.5 or doc.script_at(i) in UNSPACED_SCRIPTS):
        return "insert", i + 1, i + 1, " "
    j = i + 1
    while j < n and not space[j]:
        j += 1
    # A single space between two words (not leading/trailing, not part of a run) joins them when dropped.
    if 0 < j < n - 1 and not space[j - 1] and not space[j + 1] and units[j] == " ":
        return "delete", j, j + 1, ""
    return ("insert", i + 1, i + 1, " ") if split_ok else None


FAMILY = Family(whitespace_kernel)


def whitespace(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Drop spaces between words and insert spaces inside words.

    Each non-space cluster is selected with probability ``level``; a selected cluster in a spaced script
    drops the (single U+0020) space that ends its word with probability 1/2 (joining two words),
    otherwise a space is inserted right after it inside its word (splitting it). In scripts written without word spaces (Han,
    kana, Thai, Lao, Khmer, Myanmar, Tibetan, Javanese, Balinese) only spurious spaces are inserted: that
    is how segmentation fails there. Only U+0020 is inserted; leading, trailing and repeated spaces are
    never touched.

    Args:
        text: input text.
        level: expected fraction of non-space clusters with a whitespace edit, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code (unused; the script is read from the text).

    Returns:
        A :class:`NoiseResult` with ``insert`` (of ``" "``) and ``delete`` (of a space) edits.
    """
    return run(text, level, rng, lang, whitespace_kernel)
