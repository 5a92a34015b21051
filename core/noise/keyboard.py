"""``keyboard``: neighbour-key slips on the layout a speaker of the language types on."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from core.noise import ethiopic
from core.noise.engine import Doc, run, split_uniform
from core.noise.result import NoiseResult
from core.noise.substitute import substitute_kernel
from core.noise.text import JOINING, NEUTRAL_SCRIPTS, char_script, cluster_script, is_mark

FALLBACK = "fallback:same-script"
_EMPTY = "·"
_SAME_ROW, _NEXT_ROW = 1.01, 0.8  # neighbour thresholds, in key widths (see keyboards.toml)


@dataclass(frozen=True, slots=True)
class Layout:
    """A keyboard layout reduced to what slips need: each character's neighbour-key characters."""

    name: str
    source: str
    neighbours: dict[str, tuple[str, ...]]
    scripts: frozenset[str]


@lru_cache(maxsize=1)
def _raw() -> dict:
    text = resources.files("core.noise").joinpath("data/keyboards.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _grid(spec: dict, raw: dict) -> tuple[list[float], list[list[str]], list[list[str]]]:
    if "derive" in spec:
        d = spec["derive"]
        stagger, rows, shift = _grid(raw["layouts"][d["from"]], raw)

        def move(tok: str) -> str:
            out = []
            for ch in tok:
                cp = ord(ch)
                if d["from_block"] <= cp < d["from_block"] + 0x80:
                    ch = chr(cp - d["from_block"] + d["to_block"])
                    if unicodedata.category(ch) == "Cn":
                        return _EMPTY  # the target script has no such letter
                out.append(ch)
            return "".join(out)

        return stagger, [[move(t) for t in r] for r in rows], [[move(t) for t in r] for r in shift]
    rows = [r.split(" ") for r in spec["rows"]]
    shift = [r.split(" ") for r in spec["shift"]]
    return list(spec["stagger"]), rows, shift


def _joins(ch: str) -> bool:
    return is_mark(ch) or ch in JOINING


@lru_cache(maxsize=64)
def layout(name: str) -> Layout:
    """The layout called ``name`` in ``data/keyboards.toml``.

    Neighbours are keys whose centres are within one key width on the same row or 0.8 on the adjacent
    row (after row stagger), at the same Shift level, and of the same kind: a base letter's neighbours
    are base characters and a mark's are marks, so a slip never orphans a combining mark.

    Raises:
        KeyError: no layout of that name.
    """
    raw = _raw()
    spec = raw["layouts"][name]
    stagger, rows, shift = _grid(spec, raw)
    keys = []  # (row, centre x, level, token)
    for r, (plain, shifted) in enumerate(zip(rows, shift, strict=True)):
        for j, (t0, t1) in enumerate(zip(plain, shifted, strict=True)):
            x = stagger[r] + j + 0.5
            keys.append((r, x, 0, t0))
            keys.append((r, x, 1, t1))
    nb: dict[str, list[str]] = {}
    scripts: set[str] = set()
    for r, x, lv, tok in keys:
        if len(tok) != 1 or tok == _EMPTY:
            continue
        sc = char_script(tok)
        if sc not in NEUTRAL_SCRIPTS:
            scripts.add(sc)
        for r2, x2, lv2, tok2 in keys:
            if lv2 != lv or tok2 in (_EMPTY, tok) or (r2, x2) == (r, x):
                continue
            near = abs(x2 - x) <= (_SAME_ROW if r2 == r else _NEXT_ROW) and abs(r2 - r) <= 1
            if near and _joins(tok) == _joins(tok2[0]):
                nb.setdefault(tok, [])
                if tok2 not in nb[tok]:
                    nb[tok].append(tok2)
    return Layout(name, spec["source"], {k: tuple(v) for k, v in nb.items()}, frozenset(scripts))


def layout_names() -> list[str]:
    """Every layout in the data file."""
    return sorted(_raw()["layouts"])


def layout_for(lang: str, script: str | None = None) -> str | None:
    """Layout name for ``lang``; if the language has none, that of ``script``; None when neither."""
    raw = _raw()
    return raw["languages"].get(lang) or (raw["scripts"].get(script) if script else None)


@lru_cache(maxsize=1)
def _ethiopic_keys() -> tuple[dict[str, int], dict[int, str]]:
    key_to_row = {k: ethiopic.row_and_order(v)[0] for k, v in _raw()["ethiopic_keys"].items()}
    return key_to_row, {r: k for k, r in key_to_row.items()}


def _ethiopic_slip(old: str, a: float, b: float) -> str | None:
    """Wrong vowel key (``b < .5``: another order) or neighbouring consonant key (same order)."""
    if b >= 0.5:
        key_to_row, row_to_key = _ethiopic_keys()
        key = row_to_key.get(ethiopic.row_and_order(old)[0])
        qwerty = layout("ethiopic-sera").neighbours
        if key is not None:
            rows = []
            for n in qwerty.get(key, ()):
                # Shift is often missed or hit: fall back to the other case's consonant.
                r = key_to_row.get(n, key_to_row.get(n.swapcase()))
                if r is not None and r not in rows:
                    rows.append(r)
            if rows:
                return ethiopic.same_order(old, rows[split_uniform(a, len(rows))[0]])
    return ethiopic.other_order(old, a)


@lru_cache(maxsize=4096)
def _cluster_layout(lang: str, unit: str) -> Layout | None:
    """Layout to type ``unit`` on: the language's if it has the unit's script, else the script's own."""
    sc = cluster_script(unit)
    name = layout_for(lang)
    if name is not None and (sc in layout(name).scripts or sc in NEUTRAL_SCRIPTS):
        return layout(name)
    name = layout_for("", sc) if sc not in NEUTRAL_SCRIPTS else name or layout_for("", "Latn")
    return layout(name) if name else None


def keyboard_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Replace one keystroke of cluster ``i`` by a neighbour key's (``b`` picks it, ``a`` the neighbour)."""
    old = doc.units[i]
    lay = _cluster_layout(doc.lang, old)
    if lay is not None:
        if lay.name == "ethiopic-sera" and ethiopic.is_syllable(old):
            new = _ethiopic_slip(old, a, b)
            return None if new is None else ("substitute", i, i + 1, new)
        nb = lay.neighbours
        positions = [k for k, ch in enumerate(old) if ch in nb]
        if positions:
            k = positions[split_uniform(b, len(positions))[0]]
            options = nb[old[k]]
            new = old[:k] + options[split_uniform(a, len(options))[0]] + old[k + 1 :]
            return "substitute", i, i + 1, doc.normalize(new)
        base = unicodedata.normalize("NFD", old)[:1]
        if base in nb:
            # An accented letter typed with a dead key: the slip hits a neighbour of its base letter.
            options = nb[base]
            return "substitute", i, i + 1, doc.normalize(options[split_uniform(a, len(options))[0]])
    return substitute_kernel(doc, i, a, b)


def text_layout(doc: Doc) -> str:
    """Layout reported for a text: the language's, else that of its first script that has one."""
    name = layout_for(doc.lang)
    if name:
        return name
    for u in doc.units:
        sc = cluster_script(u)
        if sc not in NEUTRAL_SCRIPTS:
            return layout_for("", sc) or FALLBACK
    return FALLBACK


def keyboard(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Neighbour-key typos on real layouts (``data/keyboards.toml``, each with its source).

    A selected cluster has one of its keystrokes replaced by a key adjacent on the layout of the
    language (QWERTY/AZERTY/QWERTZ variants, ЙЦУКЕН incl. Tatar, Arabic, Persian, Uyghur, Hebrew, Greek,
    Georgian, Thai Kedmanee, InScript for nine Brahmic scripts), or of the cluster's script when the
    language is unlisted or the word is in another script. Shift level and letter/mark kind are kept.
    Ethiopic syllables are typed consonant + vowel (SERA keys): a slip gives the same consonant in
    another order (ገ -> ጉ) or a neighbouring key's consonant in the same order. Clusters no layout
    covers (Han, kana, Hangul...) get a same-script substitution instead.

    Args:
        text: input text.
        level: expected fraction of non-space clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code, which picks the layout.

    Returns:
        A :class:`NoiseResult` whose ``layout`` names the layout used (``"fallback:same-script"`` when
        no layout is known for the text).
    """
    doc = Doc(text, lang)
    return run(text, level, rng, lang, keyboard_kernel, layout=text_layout(doc), doc=doc)
