"""``keyboard``: neighbour-key slips on the xkeyboard-config layout a speaker of the language types on."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

from core.noise import ethiopic
from core.noise.engine import Doc, Family, run, split_uniform
from core.noise.layouts import Layout, layout, layout_for_language, layout_for_script
from core.noise.result import NoiseResult
from core.noise.substitute import keep_invisibles, substitute_kernel
from core.noise.text import INVISIBLE, NEUTRAL_SCRIPTS, cluster_kind, cluster_script, fits_scripts

FALLBACK = "fallback:same-script"
#: Layout whose geometry the Ethiopic syllable model uses (xkeyboard-config ``et``).
ETHIOPIC = "et"


def _language_layout(lang: str) -> Layout | None:
    name = layout_for_language(lang)
    return layout(name) if name else None


@lru_cache(maxsize=8192)
def _layout_of(lang: str, unit: str, word_script: str) -> Layout | None:
    """Layout to type ``unit`` on: for a letter, the language's if it has the letter's script, else that
    script's default; for punctuation, digits and symbols, the language's if the character is on it,
    else the default layout of the word's script if it is there; None otherwise."""
    lang_lay = _language_layout(lang)
    if cluster_kind(unit) == "letter":
        sc = cluster_script(unit)
        sc = word_script if sc in NEUTRAL_SCRIPTS else sc
        if lang_lay is not None and sc in lang_lay.scripts:
            return lang_lay
        name = layout_for_script(sc)
        return layout(name) if name else None
    ch = unit[0]
    if lang_lay is not None and ch in lang_lay.key_of:
        return lang_lay
    name = layout_for_script(word_script)
    if name and ch in layout(name).key_of:
        return layout(name)
    return None


@lru_cache(maxsize=65536)
def _options(name: str, ch: str, allowed: frozenset[str]) -> tuple[str, ...]:
    """Neighbours of ``ch`` on layout ``name`` that fit the scripts ``allowed`` (Common ones included)."""
    return tuple(
        n for n in layout(name).neighbours.get(ch, ()) if n not in INVISIBLE and fits_scripts(n, allowed)
    )


@lru_cache(maxsize=1)
def _ethiopic_rows() -> dict[int, str]:
    """Consonant row -> the character of ``et`` on that row's key (XKB types a row's 1st order)."""
    out: dict[int, str] = {}
    for ch in layout(ETHIOPIC).key_of:
        if ethiopic.is_syllable(ch):
            out.setdefault(ethiopic.row_and_order(ch)[0], ch)
    return out


def _ethiopic_slip(old: str, a: float, b: float) -> str | None:
    """Wrong vowel (``b < .5``: another order) or neighbouring consonant key on ``et`` (same order)."""
    if b >= 0.5:
        key_char = _ethiopic_rows().get(ethiopic.row_and_order(old)[0])
        if key_char is not None:
            rows = []
            for n in layout(ETHIOPIC).neighbours.get(key_char, ()):
                if ethiopic.is_syllable(n) and (r := ethiopic.row_and_order(n)[0]) not in rows:
                    rows.append(r)
            if rows:
                return ethiopic.same_order(old, rows[split_uniform(a, len(rows))[0]])
    return ethiopic.other_order(old, a)


def keyboard_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Replace one keystroke of cluster ``i`` by a neighbour key's (``b`` picks it, ``a`` the neighbour);
    a same-kind substitution when no layout types the cluster."""
    old = doc.units[i]
    lay = _layout_of(doc.lang, old, doc.word_script(i))
    if lay is not None:
        if lay.name == ETHIOPIC and ethiopic.is_syllable(old):
            new = _ethiopic_slip(old, a, b)
            return None if new is None else ("substitute", i, i + 1, new)
        allowed = doc.word_scripts(i)
        positions = [k for k, ch in enumerate(old) if _options(lay.name, ch, allowed)]
        if positions:
            k = positions[split_uniform(b, len(positions))[0]]
            options = _options(lay.name, old[k], allowed)
            new = old[:k] + options[split_uniform(a, len(options))[0]] + old[k + 1 :]
            return "substitute", i, i + 1, doc.normalize(new)
        base = unicodedata.normalize("NFD", old)[:1]
        options = _options(lay.name, base, allowed)
        if options:
            # An accented letter typed with a dead key: the slip hits a neighbour of its base letter.
            new = options[split_uniform(a, len(options))[0]]
            return "substitute", i, i + 1, doc.normalize(keep_invisibles(old, new))
    return substitute_kernel(doc, i, a, b)


def text_layout(doc: Doc) -> str:
    """Layout reported for a text: the language's if it types the text's first script, else that
    script's default layout, else ``fallback:same-script``."""
    lang_lay = _language_layout(doc.lang)
    for u in doc.units:
        sc = cluster_script(u)
        if sc not in NEUTRAL_SCRIPTS:
            if lang_lay is not None and sc in lang_lay.scripts:
                return lang_lay.name
            return layout_for_script(sc) or FALLBACK
    return lang_lay.name if lang_lay is not None else FALLBACK


FAMILY = Family(keyboard_kernel, layout=text_layout)


def keyboard(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Neighbour-key typos on xkeyboard-config layouts (``data/keyboards_xkb.json``).

    A selected cluster has one of its keystrokes replaced by a key adjacent on the layout of the
    language (from xkeyboard-config's ISO 639 lists, with documented overrides), or of the cluster's
    script when the language has none or the word is in another script. Shift level and letter/mark kind
    are kept, and a neighbour is only taken if it is Common (digits, punctuation) or of a script of the
    edited word: a letter slips to a neighbouring letter or punctuation key, punctuation to a neighbouring
    key of the same layout. Ethiopic syllables are typed consonant + vowel: a slip gives the same consonant
    in another order (ገ -> ጉ) or the consonant of a neighbouring key of the ``et`` layout in the same
    order. Clusters no layout types (Han, kana, Hangul, punctuation absent from the layout...) get a
    same-kind substitution instead (see ``substitute``).

    Args:
        text: input text.
        level: expected fraction of non-blank clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code, which picks the layout.

    Returns:
        A :class:`NoiseResult` whose ``layout`` names the layout used (``"fallback:same-script"`` when
        no layout types the text).
    """
    doc = Doc(text, lang)
    return run(text, level, rng, lang, keyboard_kernel, layout=text_layout(doc), doc=doc)
