"""``diacritics``: drop or swap combining marks and dependent vowel signs, never base letters."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

from core.noise import ethiopic
from core.noise.doc import split_uniform
from core.noise.engine import Family, per_unit, run_one
from core.noise.result import NoiseResult
from core.noise.text import cluster_script, fits_scripts

# Groups of marks a writer confuses with one another (swap targets), per script family.
_GROUPS = (
    # Latin/Greek/Cyrillic accents above (grave, acute, circumflex, tilde, macron, breve, diaeresis,
    # ring, double acute, caron) and below (dot, cedilla, ogonek, macron below): é<->è, ş<->ș...
    "\u0300\u0301\u0302\u0303\u0304\u0306\u0308\u030a\u030b\u030c",
    "\u0323\u0326\u0327\u0328\u0331",
    # Arabic harakat: tanwin, fatha, damma, kasra, shadda, sukun.
    "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652",
    # Hebrew niqqud vowel points (sheva ... qubuts).
    "\u05b0\u05b1\u05b2\u05b3\u05b4\u05b5\u05b6\u05b7\u05b8\u05b9\u05bb",
    # Thai tone marks, and vowels above / below the consonant.
    "\u0e48\u0e49\u0e4a\u0e4b",
    "\u0e34\u0e35\u0e36\u0e37",
    "\u0e38\u0e39",
)
# Brahmic blocks share ISCII's layout, so short/long vowel-sign pairs sit at the same offsets in each:
# i/ii, u/uu, short e/e, e/ai, short o/o, o/au, candrabindu/anusvara.
_BRAHMIC_PAIRS = (
    (0x3F, 0x40),
    (0x41, 0x42),
    (0x46, 0x47),
    (0x47, 0x48),
    (0x4A, 0x4B),
    (0x4B, 0x4C),
    (0x01, 0x02),
)
_BRAHMIC_BLOCKS = range(0x0900, 0x0D80, 0x80)
_VARIATION = frozenset(map(chr, [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]))
_SWAP_P = 0.4  # share of edits that swap a mark rather than drop it


def _partners() -> dict[str, tuple[str, ...]]:
    table: dict[str, set[str]] = {}
    for group in _GROUPS:
        for m in group:
            table.setdefault(m, set()).update(set(group) - {m})
    for base in _BRAHMIC_BLOCKS:
        for x, y in _BRAHMIC_PAIRS:
            a, b = chr(base + x), chr(base + y)
            if unicodedata.category(a)[0] == "M" and unicodedata.category(b)[0] == "M":
                table.setdefault(a, set()).add(b)
                table.setdefault(b, set()).add(a)
    return {m: tuple(sorted(p)) for m, p in table.items()}


SWAPS = _partners()


@lru_cache(maxsize=65536)
def _mark_positions(unit: str) -> tuple[str, tuple[int, ...]]:
    """NFD of ``unit`` and the positions of its editable marks (never position 0, the base)."""
    d = unicodedata.normalize("NFD", unit)
    pos = tuple(
        k for k, ch in enumerate(d) if k > 0 and unicodedata.category(ch)[0] == "M" and ch not in _VARIATION
    )
    return d, pos


def has_diacritic(unit: str) -> bool:
    """True when ``unit`` carries a mark this family can drop or swap (or is an Ethiopic syllable)."""
    return ethiopic.is_syllable(unit) or bool(_mark_positions(unit)[1])


@lru_cache(maxsize=65536)
def _choices(unit: str) -> tuple[str, tuple[int, ...], tuple[tuple[str, ...], ...]]:
    """NFD of ``unit``, the positions of its editable marks and, per position, the marks it may be
    swapped for: only marks the base's script uses (Script_Extensions), so Cyrillic ў may lose its
    breve, never gain a caron."""
    d, pos = _mark_positions(unit)
    fit = frozenset({cluster_script(unit)})
    return d, pos, tuple(tuple(m for m in SWAPS.get(d[k], ()) if fits_scripts(m, fit)) for k in pos)


def mark_slip(old: str, form: str | None, a: float, b: float) -> str | None:
    """Cluster ``old`` (of a text in normal form ``form``) with one mark dropped (60%) or swapped for a
    confusable one (40%); None when it has no mark."""
    if ethiopic.is_syllable(old):
        # Ethiopic vowels are not marks but syllable orders: the analogue is a wrong vowel order.
        return ethiopic.other_order(old, a)
    d, pos, partners = _choices(old)
    if not pos:
        return None
    j = split_uniform(b, len(pos))[0]
    k = pos[j]
    rep = ""
    if partners[j] and a >= 1 - _SWAP_P:
        rep = partners[j][split_uniform((a - (1 - _SWAP_P)) / _SWAP_P, len(partners[j]))[0]]
    return unicodedata.normalize(form or "NFC", d[:k] + rep + d[k + 1 :])


propose = per_unit(mark_slip)
FAMILY = Family(propose, eligible=has_diacritic)


def diacritics(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Drop or swap diacritics: combining marks, Indic matras, Arabic harakat, Hebrew niqqud.

    A selected cluster is decomposed (NFD), one of its marks is dropped (60%: Kabyle ḍ -> d,
    Hindi कि -> क, Arabic أ -> ا) or swapped for a mark of the same group that the letter's script uses
    (40%: é -> è, ि -> ी, fatha -> kasra), and the cluster is recomposed in the input's normal form. Base letters are never
    deleted. Ethiopic has no marks: its vowel is the syllable's order, so a selected syllable changes
    order (ገ -> ግ). Only clusters carrying a mark are eligible; the selection probability is scaled so
    that the expected fraction of non-space clusters edited is ``level`` where enough marks exist
    (it saturates, e.g. on English, and the realised CER says so).

    Args:
        text: input text.
        level: target fraction of non-space clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code (unused; the rules are per script).

    Returns:
        A :class:`NoiseResult` with ``substitute`` edits, one cluster each.
    """
    return run_one(text, level, rng, lang, FAMILY)
