"""Text primitives every noise family shares: grapheme clusters, scripts, normal forms and CER.

Units are extended grapheme clusters (UAX #29) as ``regex``'s ``\\X`` finds them, so an Indic conjunct,
a base with its combining marks or an emoji ZWJ sequence is one unit that no edit splits.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from itertools import accumulate

import numpy as np
import regex
from fontTools.unicodedata import Scripts
from fontTools.unicodedata import script as _ft_script
from fontTools.unicodedata import script_extension as _ft_scx
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


def _invisible_code_points() -> frozenset[str]:
    """Code points that draw nothing: format characters (Cf: ZWSP, ZWNJ, ZWJ, word joiner, bidi marks,
    soft hyphen, BOM...), controls (Cc) other than whitespace, and the other Default_Ignorable ones
    (combining grapheme joiner, variation selectors, Hangul fillers)."""
    cps = [*range(0x30000), *range(0xE0000, 0xE1000)]
    out = {chr(c) for c in cps if unicodedata.category(chr(c)) in ("Cf", "Cc") and not chr(c).isspace()}
    out |= set(map(chr, [0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, *range(0x180B, 0x1810)]))
    out |= set(map(chr, [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]))
    return frozenset(out)


#: Invisible code points (see :func:`_invisible_code_points`). Noise never replaces, inserts, deletes
#: or moves a cluster made only of these and whitespace: such clusters are *blank*, like spaces.
INVISIBLE = _invisible_code_points()


@lru_cache(maxsize=65536)
def is_blank(unit: str) -> bool:
    """True for a cluster made only of whitespace and invisible code points (ZWSP, ZWNJ, ZWJ...).

    Blank clusters are never edited by any noise type and are not counted by ``level`` nor by CER's
    denominator: ``level`` is the expected fraction of *visible* non-space clusters edited.
    """
    return all(ch.isspace() or ch in INVISIBLE for ch in unit)


def blank_flags(units: list[str], text: str) -> list[bool]:
    """``[is_blank(u) for u in units]``, fast when ``text`` has no invisible code point (the usual case)."""
    if INVISIBLE.isdisjoint(text):
        return list(map(str.isspace, units))
    return list(map(is_blank, units))


#: Kinds of cluster the rules of docs/noise.md distinguish.
KINDS = ("blank", "letter", "digit", "punct", "symbol", "other")


@lru_cache(maxsize=65536)
def cluster_kind(unit: str) -> str:
    """What a cluster is, from its first visible code point's general category.

    ``blank`` (see :func:`is_blank`), ``letter`` (L*, or a mark M*), ``digit`` (N*), ``punct`` (P*),
    ``symbol`` (S*: currency, maths, emoji) or ``other`` (private use, unassigned).
    """
    if is_blank(unit):
        return "blank"
    first = next(ch for ch in unit if not (ch.isspace() or ch in INVISIBLE))
    return {"L": "letter", "M": "letter", "N": "digit", "P": "punct", "S": "symbol"}.get(
        unicodedata.category(first)[0], "other"
    )


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
def fits_scripts(ch: str, scripts: frozenset[str]) -> bool:
    """True when code point ``ch`` belongs in text of ``scripts``: its Script_Extensions contain Common,
    Inherited or one of ``scripts``. Latin ``,`` fits anywhere; the Devanagari danda ``।`` (Common, but used
    only by Brahmic scripts) fits Devanagari text, not Armenian; an Arabic letter fits only Arabic."""
    scx = _ft_scx(ch)
    return not scx.isdisjoint(NEUTRAL_SCRIPTS) or not scx.isdisjoint(scripts)


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

    Defined as ``levenshtein(clusters(original), clusters(noisy)) / max(1, non-blank clusters of
    original)``. The denominator counts non-blank clusters (neither whitespace nor invisible, see
    :func:`is_blank`) because ``level`` is the expected fraction of those edited; with it the two agree
    (a text of spaces only has CER 0 or its distance).

    Args:
        original: the text before noise.
        noisy: the text after noise.
        units: ``graphemes(original)`` when the caller already has it.
        n_ns: its number of non-blank clusters, likewise.

    Returns:
        A float >= 0 (above 1 when more edits than clusters, e.g. heavy insertion).
    """
    if original == noisy:
        return 0.0
    if units is None:
        units = graphemes(original)
    n = len(units) - sum(blank_flags(units, original)) if n_ns is None else n_ns
    if is_simple(original) and is_simple(noisy):
        # One cluster per code point on both sides: the string distance is the cluster distance (C speed).
        dist = Levenshtein.distance(original, noisy)
    else:
        dist = Levenshtein.distance(units, graphemes(noisy))
    return dist / max(1, n)


#: The script id of code points with no script of its own (Common, Inherited, Unknown) in :func:`script_table`.
NO_SCRIPT = np.iinfo(np.int16).max


@lru_cache(maxsize=1)
def script_table() -> tuple[np.ndarray, tuple[str, ...]]:
    """Script id of every code point (``NO_SCRIPT`` for Common, Inherited, Unknown) and the id -> name
    list: :func:`char_script` for a whole array of code points at once."""
    names = tuple(sorted(set(Scripts.VALUES) - NEUTRAL_SCRIPTS))
    ids = {n: k for k, n in enumerate(names)}
    bounds = np.append(np.array(Scripts.RANGES, np.int64), 0x110000)
    values = np.array([ids.get(v, NO_SCRIPT) for v in Scripts.VALUES], np.int16)
    return np.repeat(values, np.diff(bounds)), names
