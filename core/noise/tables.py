"""Per-language replacement pools: which cluster a typist is likely to insert or substitute.

Pools hold clusters of one *kind* (letter, punctuation, symbol; see :func:`core.noise.text.cluster_kind`):
a letter is only ever replaced by a letter of its own script, punctuation by punctuation. Letter pools
have four tiers, most specific first, so every script has one:

1. the language's own cluster frequencies, per script, counted on the Tatoeba sentences
   (``data/charfreq.json``, built by ``python -m core.noise.build.tables``);
2. the same counts pooled over every Tatoeba language written in that script (unknown languages);
3. the letters of the script's xkeyboard-config layout, uniformly (what a typist of it can produce);
4. every letter of the script in the Unicode Script property, uniformly (scripts no layout covers).

Never a Latin (or any other script's) fallback: the script is read from the text.
"""

from __future__ import annotations

import json
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from fontTools.unicodedata import Scripts

from core.noise.layouts import script_letters
from core.noise.text import JOINING, NEUTRAL_SCRIPTS, cluster_kind, cluster_script, fits_scripts

_DEFAULT = {"punct": tuple(".,;:!?-'\"()"), "symbol": tuple("+=*/%&@#$")}


@dataclass(frozen=True, slots=True)
class Pool:
    """Clusters of one script with cumulative draw probabilities (``cum[-1] == 1``)."""

    units: tuple[str, ...]
    cum: tuple[float, ...]

    def draw(self, u: float, avoid: str | None = None) -> str | None:
        """Cluster at quantile ``u`` in [0, 1); the next one if that is ``avoid``; None if nothing else."""
        i = min(bisect_right(self.cum, u), len(self.units) - 1)
        if self.units[i] == avoid:
            if len(self.units) == 1:
                return None
            i = (i + 1) % len(self.units)
        return self.units[i]


def _pool(pairs: list[tuple[str, float]]) -> Pool | None:
    pairs = [(u, w) for u, w in pairs if w > 0]
    if not pairs:
        return None
    total = float(sum(w for _, w in pairs))
    cum, acc = [], 0.0
    for _, w in pairs:
        acc += w
        cum.append(acc / total)
    cum[-1] = 1.0
    return Pool(tuple(u for u, _ in pairs), tuple(cum))


@lru_cache(maxsize=1)
def charfreq() -> dict:
    """The packaged frequency tables: ``{"source", "languages": {lang: {script: [[cluster, n]]}},
    "scripts": {script: [[cluster, n]]}}``; empty tables when the file was never built."""
    try:
        raw = resources.files("core.noise").joinpath("data/charfreq.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"languages": {}, "scripts": {}}
    return json.loads(raw)


def known_languages() -> list[str]:
    """ISO 639-3 codes with a frequency table of their own."""
    return sorted(charfreq()["languages"])


@lru_cache(maxsize=256)
def unicode_letters(script: str) -> tuple[str, ...]:
    """Every assigned letter (category L*) of ``script`` that is NFC-stable and a cluster on its own."""
    out = []
    ranges = Scripts.RANGES
    for k, sc in enumerate(Scripts.VALUES):
        if sc != script:
            continue
        hi = ranges[k + 1] if k + 1 < len(ranges) else 0x110000
        for cp in range(ranges[k], hi):
            ch = chr(cp)
            if (
                unicodedata.category(ch)[0] == "L"
                and ch not in JOINING
                and unicodedata.normalize("NFC", ch) == ch
            ):
                out.append(ch)
    return tuple(out)


@lru_cache(maxsize=4096)
def pool(lang: str, script: str, kind: str = "letter") -> Pool | None:
    """Replacement pool for ``kind`` clusters of ``script`` in language ``lang``.

    ``kind="letter"``: letters of ``script`` only (tiers in the module doc). ``"punct"`` / ``"symbol"``:
    punctuation / symbols the language uses (or, for a language without a table, those of texts in
    ``script``), restricted to Common ones and those of ``script`` itself (Armenian ``։``, Ethiopic ``።``),
    else a small ASCII set. Returns None when no candidate exists (a letterless script such as ``Zinh``).
    """
    tables = charfreq()
    if kind == "letter":
        if script in NEUTRAL_SCRIPTS:
            return None
        for pairs in (tables["languages"].get(lang, {}).get(script), tables["scripts"].get(script)):
            got = _pool([(u, n) for u, n in pairs or () if cluster_kind(u) == "letter"])
            if got is not None:
                return got
        return _pool([(u, 1.0) for u in script_letters(script) or unicode_letters(script)])

    fit = frozenset({script})

    def ok(u: str) -> bool:
        return cluster_kind(u) == kind and all(fits_scripts(ch, fit) for ch in u)

    own = tables["languages"].get(lang)
    for source in [own, tables["scripts"]] if own else [tables["scripts"]]:
        got = _pool([(u, n) for sc in ("Zyyy", script) for u, n in source.get(sc, ()) if ok(u)])
        if got is not None:
            return got
    return _pool([(u, 1.0) for u in _DEFAULT.get(kind, ())])


@lru_cache(maxsize=1024)
def numeral_alternatives(ch: str) -> tuple[str, ...]:
    """Other numerals of ``ch``'s own system: decimal digits (Nd) of the same zero, else numerals
    (N*) of the same script in the same 128-code-point block; () if none."""
    cp = ord(ch)
    if unicodedata.category(ch) == "Nd":
        zero = cp - unicodedata.digit(ch)
        return tuple(chr(zero + k) for k in range(10) if zero + k != cp)
    sc = cluster_script(ch)
    lo = cp & ~0x7F
    return tuple(
        chr(c)
        for c in range(lo, lo + 0x80)
        if c != cp and unicodedata.category(chr(c))[0] == "N" and cluster_script(chr(c)) == sc
    )
