"""``homoglyph``: visually confusable substitutions (Unicode confusables, plus OCR look-alikes)."""

from __future__ import annotations

import tomllib
import unicodedata
from functools import lru_cache
from importlib import resources

import numpy as np
from confusable_homoglyphs.confusables import confusables_data

from core.noise.doc import split_uniform
from core.noise.engine import Family, per_unit, run_one
from core.noise.result import NoiseResult
from core.noise.text import JOINING


@lru_cache(maxsize=1)
def unicode_confusables() -> dict[str, tuple[str, ...]]:
    """char -> single code points Unicode's confusables.txt lists as look-alikes.

    Source: the ``confusable-homoglyphs`` package's copy of Unicode UTS #39 ``confusables.txt``. Marks,
    joining code points and characters NFC would rewrite are left out, so a swap never orphans a mark
    nor changes the normal form; compatibility variants (mathematical
    alphanumerics, fullwidth forms) are left out too, as no keyboard or OCR engine produces them.
    """
    out: dict[str, tuple[str, ...]] = {}
    for ch, entries in confusables_data.items():
        if len(ch) != 1 or unicodedata.category(ch)[0] not in "LNPS":
            continue
        targets = sorted(
            {
                e["c"]
                for e in entries
                if len(e["c"]) == 1
                and e["c"] != ch
                and unicodedata.category(e["c"])[0] in "LNPS"
                and e["c"] not in JOINING
                and unicodedata.normalize("NFKC", e["c"]) == e["c"]
            }
        )
        if targets:
            out[ch] = tuple(targets)
    return out


@lru_cache(maxsize=1)
def ocr_lookalikes() -> dict[str, tuple[str, ...]]:
    """cluster -> within-script look-alikes from ``data/ocr_lookalikes.toml`` (sources in the file)."""
    raw = resources.files("core.noise").joinpath("data/ocr_lookalikes.toml").read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    for groups in tomllib.loads(raw)["groups"].values():
        for group in groups:
            members = group.split()
            for m in members:
                if len(m) == 1:  # multi-cluster members ("rn") are produced, never matched
                    out.setdefault(m, set()).update(x for x in members if x != m)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def has_homoglyph(unit: str) -> bool:
    """True when cluster ``unit`` (its base character) has a look-alike in either table."""
    return unit in ocr_lookalikes() or unit[:1] in unicode_confusables()


def look_alike(old: str, form: str | None, a: float, b: float) -> str | None:
    """What cluster ``old`` (of a text in normal form ``form``) becomes: an OCR look-alike (same script)
    when ``b < .5`` or it has no Unicode confusable, else a confusable (``a`` picks); None when neither."""
    ocr = ocr_lookalikes().get(old)
    uni = unicode_confusables().get(old[:1])
    if ocr and (b < 0.5 or not uni):
        new = ocr[split_uniform(a, len(ocr))[0]]
    elif uni:
        # The base letter is swapped; its combining marks stay on it.
        new = uni[split_uniform(a, len(uni))[0]] + old[1:]
    else:
        return None
    return unicodedata.normalize(form, new) if form and not new.isascii() else new


FAMILY = Family(per_unit(look_alike), eligible=has_homoglyph)


def homoglyph(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Swap clusters for visually confusable ones.

    Two tables: Unicode's confusables (UTS #39, via ``confusable-homoglyphs``): mostly cross-script,
    e.g. Latin ``a`` -> Cyrillic ``а``, the classic spoofing and copy-paste noise; and within-script OCR
    look-alikes (``data/ocr_lookalikes.toml``, sources in the file), e.g. Arabic ``ب`` -> ``ت``,
    Latin ``m`` -> ``rn``. Unlike the typing families, the output may mix scripts: that is the point.
    Only clusters with a look-alike are eligible; selection is scaled so that the expected fraction of
    non-space clusters edited is ``level`` where enough exist.

    Args:
        text: input text.
        level: target fraction of non-space clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code (unused).

    Returns:
        A :class:`NoiseResult` with ``substitute`` edits.
    """
    return run_one(text, level, rng, lang, FAMILY)
