"""The Ethiopic syllabary as typists see it: a consonant row times a vowel order.

Each syllable is one code point, laid out in the Unicode block in rows of 8 columns: orders 1-7
(ä u i a e ə o) and an 8th, labialised (-wa) or extra form. On phonetic keyboards (SERA convention:
Keyman / GeezIME "Amharic") a syllable is typed as a consonant key then a vowel key; the 6th order
(ə, no vowel) is the consonant key alone.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from core.noise.doc import split_uniform

_BLOCK = 0x1200
_SADIS = 5  # 6th order, 0-based: what a typist gets when the vowel key is missed


def is_syllable(ch: str) -> bool:
    """True for a letter of the main Ethiopic block (U+1200-U+135A)."""
    return len(ch) == 1 and _BLOCK <= ord(ch) <= 0x135A and unicodedata.category(ch) == "Lo"


def row_and_order(ch: str) -> tuple[int, int]:
    """(consonant row, 0-based vowel order) of a syllable."""
    off = ord(ch) - _BLOCK
    return off // 8, off % 8


@lru_cache(maxsize=512)
def row(r: int) -> tuple[str | None, ...]:
    """The 8 cells of consonant row ``r``; None where Unicode assigns no letter."""
    cells = (chr(_BLOCK + 8 * r + k) for k in range(8))
    return tuple(c if unicodedata.category(c) == "Lo" else None for c in cells)


def other_order(ch: str, u: float) -> str | None:
    """Same consonant, another vowel order: the 6th (vowel key missed) with probability 0.4, else any."""
    r, o = row_and_order(ch)
    cells = row(r)
    if o != _SADIS and cells[_SADIS]:
        if u < 0.4:
            return cells[_SADIS]
        u = (u - 0.4) / 0.6  # rescale what is left of the uniform to [0, 1)
    options = [c for k, c in enumerate(cells) if c and k != o]
    if not options:
        return None
    return options[split_uniform(u, len(options))[0]]


def same_order(ch: str, consonant_row: int) -> str | None:
    """The syllable of ``consonant_row`` in ``ch``'s vowel order (its 6th order if that cell is empty)."""
    cells = row(consonant_row)
    o = row_and_order(ch)[1]
    return cells[o] or cells[_SADIS]
