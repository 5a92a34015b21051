"""One text as a family's per-cluster rule reads it: its clusters, which are blank, its language and form.

Rules that need more than a column (a layout lookup, a word's script) get a :class:`Doc` of the text
holding the selected cluster; the engine makes it from the batch's segmentation (:func:`doc_of`), so a
text is never cut twice.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from core.noise.text import NEUTRAL_SCRIPTS, char_script, cluster_script


class Doc:
    """A text cut into grapheme clusters (``units``), with ``space[i]`` True for *blank* clusters
    (whitespace or invisible code points only; see :func:`core.noise.text.is_blank`): no family edits
    them. ``form`` is the text's normal form (:func:`core.noise.text.normal_form`)."""

    __slots__ = ("text", "units", "space", "lang", "form")

    def __init__(self, text: str, units: Sequence[str], space: Sequence[bool], lang: str, form: str | None):
        self.text, self.units, self.space, self.lang, self.form = text, units, space, lang, form

    def normalize(self, s: str) -> str:
        """``s`` in the text's own normal form (NFC in, NFC out)."""
        return unicodedata.normalize(self.form, s) if self.form and not s.isascii() else s

    def context_script(self, left: int, right: int) -> str:
        """Script of the nearest cluster with a script of its own, searching outward from ``left`` and
        ``right`` alternately; ``Zyyy`` when the whole text is Common/Inherited."""
        units, n = self.units, len(self.units)
        for d in range(max(left + 1, n - right)):
            for j in (left - d, right + d):
                if 0 <= j < n:
                    sc = cluster_script(units[j])
                    if sc not in NEUTRAL_SCRIPTS:
                        return sc
        return "Zyyy"

    def script_at(self, i: int) -> str:
        """Script of cluster ``i``, or of its nearest neighbour with one when it is Common/Inherited."""
        sc = cluster_script(self.units[i])
        return sc if sc not in NEUTRAL_SCRIPTS else self.context_script(i - 1, i + 1)

    def word_script(self, i: int) -> str:
        """Script of cluster ``i``, else of the nearest cluster of its *word* (the run of non-blank
        clusters around it) with a script of its own; ``Zyyy`` when the word has none (``"3,5"``).

        Edits never look past the word: a comma between two Latin words of a Hebrew text is not Hebrew.
        """
        units, space, n = self.units, self.space, len(self.units)
        sc = cluster_script(units[i])
        if sc not in NEUTRAL_SCRIPTS:
            return sc
        lo, hi, go_left, go_right = i - 1, i + 1, True, True
        while go_left or go_right:
            for j, go in ((lo, go_left), (hi, go_right)):
                if go and 0 <= j < n and not space[j]:
                    sc = cluster_script(units[j])
                    if sc not in NEUTRAL_SCRIPTS:
                        return sc
            go_left = go_left and lo >= 0 and not space[lo]
            go_right = go_right and hi < n and not space[hi]
            lo, hi = lo - 1, hi + 1
        return "Zyyy"

    def word_scripts(self, i: int) -> frozenset[str]:
        """Scripts (not Common/Inherited) of the word around cluster ``i`` (see :meth:`word_script`)."""
        units, space, n = self.units, self.space, len(self.units)
        lo = hi = i
        while lo > 0 and not space[lo - 1]:
            lo -= 1
        while hi + 1 < n and not space[hi + 1]:
            hi += 1
        return frozenset(char_script(ch) for u in units[lo : hi + 1] for ch in u) - NEUTRAL_SCRIPTS


def split_uniform(u: float, k: int) -> tuple[int, float]:
    """Turn one uniform into an index in ``range(k)`` and a fresh uniform (the remainder, rescaled)."""
    x = u * k
    i = min(int(x), k - 1)
    return i, min(x - i, 0.9999999999)


def match_case(old: str, new: str) -> str:
    """``new`` in the letter case of ``old`` (a slip rarely toggles Shift), when that keeps its length."""
    if old.islower() and not new.islower():
        low = new.lower()
        return low if len(low) == len(new) else new
    if old.isupper() and new.islower():
        up = new.upper()
        return up if len(up) == len(new) else new
    return new
