"""``substitute``: replace a cluster by another cluster of the same kind and script."""

from __future__ import annotations

import numpy as np

from core.noise.engine import Doc, Family, match_case, run
from core.noise.result import NoiseResult
from core.noise.tables import numeral_alternatives, pool
from core.noise.text import INVISIBLE, cluster_kind


def same_kind(doc: Doc, i: int, u: float, avoid: str | None = None) -> str | None:
    """A cluster of the kind of cluster ``i`` drawn by the uniform ``u`` (None when there is none).

    A letter gives a letter of its word's script (by the language's frequencies, in the letter case of
    cluster ``i``); a digit another numeral of its own system (Arabic-Indic stays Arabic-Indic);
    punctuation gives punctuation and a symbol a symbol, both among those the language uses that fit the
    word's script (or, in a word without letters, the script of the text around it). ``avoid`` is never returned.
    """
    old = doc.units[i]
    kind = cluster_kind(old)
    if kind == "letter":
        cand = pool(*source_pool(doc, i, kind))
        new = cand.draw(u, avoid=avoid) if cand else None
        return None if new is None else match_case(old, new)
    if kind == "digit":
        ch = next(c for c in old if c not in INVISIBLE)
        alts = numeral_alternatives(ch) + (() if avoid is not None else (ch,))
        return alts[min(int(u * len(alts)), len(alts) - 1)] if alts else None
    if kind in ("punct", "symbol"):
        cand = pool(*source_pool(doc, i, kind))
        return cand.draw(u, avoid=avoid) if cand else None
    return None  # blank or unassigned/private use: never edited


def source_pool(doc: Doc, i: int, kind: str) -> tuple[str, str, str]:
    """The arguments of :func:`core.noise.tables.pool` that cluster ``i``, a letter, punctuation or a
    symbol (``kind``), draws its replacement from: the language, its word's script, the kind."""
    sc = doc.word_script(i)
    if kind != "letter" and sc == "Zyyy":
        # A word of punctuation only ("-", "..."): the text around it says which script's marks fit.
        sc = doc.script_at(i)
    return doc.lang, sc, kind


def keep_invisibles(old: str, new: str) -> str:
    """``new`` followed by the invisible code points (ZWNJ, ZWJ...) that end ``old``: replacing a letter
    keeps the joiner that shapes it."""
    k = len(old)
    while k > 0 and old[k - 1] in INVISIBLE:
        k -= 1
    tail = old[k:]
    return new if not tail or new.endswith(tail) else new + tail


def substitute_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Cluster ``i`` becomes another cluster of its kind (``a`` draws it; see :func:`same_kind`)."""
    old = doc.units[i]
    new = same_kind(doc, i, a, avoid=old)
    if new is None:
        return None
    return "substitute", i, i + 1, doc.normalize(keep_invisibles(old, new))


FAMILY = Family(substitute_kernel)


def substitute(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Substitute visible grapheme clusters with other clusters of the same kind and script.

    Each non-blank cluster is replaced with probability ``level``. A letter becomes a letter of its own
    script drawn by the language's cluster frequencies (see :mod:`core.noise.tables`), in its letter case;
    punctuation becomes punctuation, a digit a digit of the same numeral system, a symbol a symbol, so no
    letter of a script absent from the word ever appears. Whole clusters are replaced, so marks never
    lose their base; a trailing ZWNJ/ZWJ is kept. Blank clusters (spaces, ZWSP and other invisibles) are
    never touched.

    Args:
        text: input text (any normal form; it is preserved).
        level: expected fraction of non-blank clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code, used to pick the frequency table.

    Returns:
        A :class:`NoiseResult` with ``substitute`` edits.

    Example:
        >>> substitute("abc", 0.0, np.random.default_rng(0), "eng").noisy
        'abc'
    """
    return run(text, level, rng, lang, substitute_kernel)
