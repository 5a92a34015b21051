"""Same-kind rules shared by ``substitute``, ``insert`` and ``keyboard``: which cluster of the selected
cluster's kind and script a typist produces instead of it or next to it."""

from __future__ import annotations

from core.noise.doc import Doc, match_case
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
