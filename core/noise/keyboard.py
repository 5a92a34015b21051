"""``keyboard``: neighbour-key slips on the xkeyboard-config layout a speaker of the language types on."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

from core.noise import ethiopic
from core.noise import substitute as _substitute
from core.noise.doc import Doc, split_uniform
from core.noise.engine import Family, run_one
from core.noise.hits import Hits, Proposals
from core.noise.kinds import keep_invisibles
from core.noise.layouts import Layout, layout, layout_for_language, layout_for_script
from core.noise.result import NoiseResult
from core.noise.text import INVISIBLE, NEUTRAL_SCRIPTS, cluster_kind, cluster_script, fits_scripts
from core.noise.words import word_scripts

FALLBACK = "fallback:same-script"
#: What :func:`slip` returns where no layout types the cluster: the same-kind substitution decides.
UNTYPED = ("untyped", 0, 0, "")
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


@lru_cache(maxsize=65536)
def _plan(lang: str, old: str, word_script: str, allowed: frozenset[str]) -> tuple:
    """How cluster ``old`` slips in a word of script ``word_script`` (scripts ``allowed``), for language
    ``lang``: ``("ethiopic",)`` (a syllable on ``et``), ``("key", positions, options)`` (keystroke
    ``positions[k]`` of ``old`` slips to one of ``options[k]``), ``("base", options)`` (an accented
    letter typed with a dead key: the slip hits a neighbour of its base letter), or ``("untyped",)``."""
    lay = _layout_of(lang, old, word_script)
    if lay is None:
        return ("untyped",)
    if lay.name == ETHIOPIC and ethiopic.is_syllable(old):
        return ("ethiopic",)
    positions = tuple(k for k, ch in enumerate(old) if _options(lay.name, ch, allowed))
    if positions:
        return ("key", positions, tuple(_options(lay.name, old[k], allowed) for k in positions))
    options = _options(lay.name, unicodedata.normalize("NFD", old)[:1], allowed)
    return ("base", options) if options else ("untyped",)


def _slip(plan: tuple, old: str, form: str | None, a: float, b: float) -> str | None | tuple:
    """The slip ``plan`` gives with uniforms ``a`` (the neighbour) and ``b`` (the keystroke): the new
    cluster, None (no edit), or :data:`UNTYPED`."""
    how = plan[0]
    if how == "key":
        positions, options = plan[1], plan[2]
        j = split_uniform(b, len(positions))[0]
        k, opts = positions[j], options[j]
        new = old[:k] + opts[split_uniform(a, len(opts))[0]] + old[k + 1 :]
    elif how == "base":
        new = keep_invisibles(old, plan[1][split_uniform(a, len(plan[1]))[0]])
    elif how == "ethiopic":
        return _ethiopic_slip(old, a, b)
    else:
        return UNTYPED
    return unicodedata.normalize(form, new) if form and not new.isascii() else new


def slip(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Replace one keystroke of cluster ``i`` by a neighbour key's (``b`` picks it, ``a`` the neighbour);
    :data:`UNTYPED` when no layout types the cluster. (:func:`propose` computes the same by column.)"""
    old = doc.units[i]
    new = _slip(_plan(doc.lang, old, doc.word_script(i), doc.word_scripts(i)), old, doc.form, a, b)
    return new if new is None or new is UNTYPED else ("substitute", i, i + 1, new)


def propose(h: Hits) -> Proposals:
    """Keyboard slips at the selected clusters (:func:`slip`, with each word's scripts found by column);
    a same-kind substitution (``substitute``'s proposal) where no layout types the cluster (Han, kana,
    Hangul, punctuation absent from the layout...)."""
    m = len(h)
    script_of, allowed = word_scripts(h)
    b, langs, form = h.batch, h.langs, h.form
    joined = b.joined
    olds = map(joined.__getitem__, map(slice, b.start[h.row].tolist(), b.end[h.row].tolist()))
    props = Proposals.empty(m)
    news = props.new
    untyped = []
    for k, (q, i, a, bb, old, ws, al) in enumerate(
        zip(h.q.tolist(), h.i.tolist(), h.a.tolist(), h.b.tolist(), olds, script_of, allowed, strict=True)
    ):
        own = cluster_script(old)
        if own not in NEUTRAL_SCRIPTS:
            ws = own
        elif ws is None:
            doc = h.doc(q)
            ws = doc.word_script(i)
        if al is None:
            al = h.doc(q).word_scripts(i)
        new = _slip(_plan(langs[q], old, ws, al), old, form(q), a, bb)
        if new is UNTYPED:
            untyped.append(k)
        elif new is not None:
            news[k] = new
    ok = np.fromiter((x is not None for x in news), bool, m)
    props.ok, props.gs, props.ge = ok, h.i.copy(), h.i + 1
    if untyped:
        idx = np.array(untyped, np.int64)
        props.put(idx, _substitute.propose(h.take(idx)))
    return props


@lru_cache(maxsize=4096)
def text_layout(lang: str, script: str | None) -> str:
    """Layout reported for a text of language ``lang`` whose first script of its own is ``script``:
    the language's if it types that script, else the script's default layout, else
    ``fallback:same-script``."""
    lang_lay = _language_layout(lang)
    if script is not None:
        if lang_lay is not None and script in lang_lay.scripts:
            return lang_lay.name
        return layout_for_script(script) or FALLBACK
    return lang_lay.name if lang_lay is not None else FALLBACK


FAMILY = Family(propose, layout=text_layout)


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
    return run_one(text, level, rng, lang, FAMILY)
