"""Text primitives every noise family shares: grapheme clusters, scripts, normal forms and CER.

Units are extended grapheme clusters (UAX #29) as ``regex``'s ``\\X`` finds them, so an Indic conjunct,
a base with its combining marks or an emoji ZWJ sequence is one unit that no edit splits.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from itertools import accumulate

import regex
from fontTools.unicodedata import script as _ft_script
from rapidfuzz.distance import Levenshtein

_CLUSTER = regex.compile(r"\X")

# Code points that can glue onto a neighbour inside one grapheme cluster. A text with none of them
# segments into one cluster per code point, so the hot path skips the (slow, ~15 us) \X scan. Built from
# regex's own Unicode tables so the shortcut can never disagree with \X.
_JOINING_RE = regex.compile(
    r"[\p{Grapheme_Cluster_Break=Extend}\p{Grapheme_Cluster_Break=SpacingMark}"
    r"\p{Grapheme_Cluster_Break=ZWJ}\p{Grapheme_Cluster_Break=L}\p{Grapheme_Cluster_Break=V}"
    r"\p{Grapheme_Cluster_Break=T}\p{Grapheme_Cluster_Break=Prepend}"
    r"\p{Grapheme_Cluster_Break=Regional_Indicator}\p{InCB=Linker}\r]"
)


def _joining_code_points() -> frozenset[str]:
    """Every code point matched by ``_JOINING_RE`` (planes 0-2 and 14; the others are unassigned)."""
    cps = [c for c in range(0x30000) if not 0xD800 <= c < 0xE000] + list(range(0xE0000, 0xE1000))
    return frozenset(_JOINING_RE.findall("".join(map(chr, cps))))


JOINING = _joining_code_points()

#: Scripts that mark "no script of its own" (ISO 15924): Common, Inherited, Unknown.
NEUTRAL_SCRIPTS = frozenset({"Zyyy", "Zinh", "Zzzz"})


def is_simple(text: str) -> bool:
    """True when every code point of ``text`` is its own grapheme cluster (fast pre-check)."""
    # CR LF is the one ASCII pair that forms a single cluster.
    return ("\r" not in text) if text.isascii() else JOINING.isdisjoint(text)


def graphemes(text: str) -> list[str]:
    """Split ``text`` into extended grapheme clusters (UAX #29).

    Guarantees ``"".join(graphemes(text)) == text``.
    """
    return list(text) if is_simple(text) else _CLUSTER.findall(text)


def cluster_starts(units: list[str]) -> list[int]:
    """Code-point offset of each cluster, plus the total length as a final entry."""
    return list(accumulate(map(len, units), initial=0))


@lru_cache(maxsize=65536)
def char_script(ch: str) -> str:
    """ISO 15924 code of the Unicode Script property of one code point (``Zyyy`` = Common)."""
    return _ft_script(ch)


@lru_cache(maxsize=65536)
def cluster_script(unit: str) -> str:
    """Script of a grapheme cluster: that of its first code point with a script of its own.

    A cluster made only of Common/Inherited code points (punctuation, digits, emoji) is Common
    (``Zyyy``), or whatever neutral script its first code point has.
    """
    for ch in unit:
        sc = char_script(ch)
        if sc not in NEUTRAL_SCRIPTS:
            return sc
    return char_script(unit[0]) if unit else "Zyyy"


def is_mark(ch: str) -> bool:
    """True for combining marks (general category M*): Latin accents, matras, harakat, niqqud."""
    return unicodedata.category(ch)[0] == "M"


def has_orphan_mark(units: list[str]) -> bool:
    """True when some cluster starts with a combining mark, i.e. a mark has no base to sit on."""
    return any(u and is_mark(u[0]) for u in units)


def normal_form(text: str) -> str | None:
    """The Unicode normal form ``text`` is in: ``"NFC"`` (preferred when both hold), ``"NFD"`` or None."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return "NFC"
    if unicodedata.is_normalized("NFD", text):
        return "NFD"
    return None


def cluster_distance(a: list[str], b: list[str]) -> int:
    """Levenshtein distance between two cluster sequences (insert, delete, substitute each cost 1)."""
    return Levenshtein.distance(a, b)


def cer(original: str, noisy: str, units: list[str] | None = None, n_ns: int | None = None) -> float:
    """Realised character error rate over grapheme clusters.

    Defined as ``levenshtein(clusters(original), clusters(noisy)) / max(1, non-space clusters of
    original)``. The denominator counts non-space clusters because ``level`` is the expected fraction of
    non-space clusters edited; with it the two agree (a text of spaces only has CER 0 or its distance).

    Args:
        original: the text before noise.
        noisy: the text after noise.
        units: ``graphemes(original)`` when the caller already has it.
        n_ns: its number of non-space clusters, likewise.

    Returns:
        A float >= 0 (above 1 when more edits than clusters, e.g. heavy insertion).
    """
    if original == noisy:
        return 0.0
    if units is None:
        units = graphemes(original)
    n = len(units) - sum(map(str.isspace, units)) if n_ns is None else n_ns
    if is_simple(original) and is_simple(noisy):
        # One cluster per code point on both sides: the string distance is the cluster distance (C speed).
        dist = Levenshtein.distance(original, noisy)
    else:
        dist = Levenshtein.distance(units, graphemes(noisy))
    return dist / max(1, n)
