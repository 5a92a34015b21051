"""Per-language replacement pools: which cluster a typist is likely to insert or substitute.

Three tiers, most specific first, so every script has a pool:

1. the language's own cluster frequencies, per script, counted on the Tatoeba sentences
   (``data/charfreq.json``, built by ``python -m core.noise.build_tables``);
2. the same counts pooled over every Tatoeba language written in that script (unknown languages);
3. every letter of the script in the Unicode Script property, uniformly (scripts Tatoeba lacks).
"""

from __future__ import annotations

import json
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from fontTools.unicodedata import Scripts

from core.noise.text import JOINING

_DEFAULT_COMMON = tuple("0123456789.,;:!?-'\"()")


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
def pool(lang: str, script: str) -> Pool | None:
    """Replacement pool for clusters of ``script`` in language ``lang`` (tiers in the module doc).

    Returns None only for a script with no letters at all (e.g. ``Zinh``).
    """
    tables = charfreq()
    own = tables["languages"].get(lang, {}).get(script)
    if own:
        return _pool([(u, n) for u, n in own])
    shared = tables["scripts"].get(script)
    if shared:
        return _pool([(u, n) for u, n in shared])
    if script == "Zyyy":
        return _pool([(u, 1.0) for u in _DEFAULT_COMMON])
    return _pool([(u, 1.0) for u in unicode_letters(script)])
