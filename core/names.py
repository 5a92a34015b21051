"""The one rule for names a user sees and types: encoder names in grids, trained models' names, cards.

A name is shown in summaries, pages and exports next to other names, so two names that *look* the same must
be one name. :func:`encoder_name` therefore NFKC-normalises a name (``ｍｕｓｅ３`` is ``muse3``) and refuses
what a reader cannot see: whitespace, control and format characters (zero-width spaces, bidi controls) and
the other default-ignorable code points (variation selectors, Hangul fillers...). :func:`name_key` is what
two names are compared by: equal keys (NFKC, then case-folded) are the same name.
"""

from __future__ import annotations

import unicodedata

from core.errors import ConfigError

# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): rendered as nothing. Most are
# format characters (Cf), which str.isprintable() already refuses; these are the ones it lets through
# (combining grapheme joiner, variation selectors, Hangul fillers, Khmer inherent vowels...) and the rest.
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
# Characters that render as blank space without being whitespace to str.isspace() (Braille blank...).
_BLANK = {0x2800}


def _hidden(ch: str) -> bool:
    cp = ord(ch)
    return (
        not ch.isprintable()  # control, format (zero-width, bidi), surrogate, private use, unassigned
        or ch.isspace()
        or cp in _BLANK
        or any(lo <= cp <= hi for lo, hi in _IGNORABLE)
    )


def encoder_name(name: object, what: str = "encoder name") -> str:
    """Return ``name`` NFKC-normalised, refusing a name a reader could not tell from another one.

    Guarantees: the result is non-empty, in NFKC form, and every character is visible: no whitespace, no
    control or format character (zero-width, bidi controls), no other default-ignorable code point. Two
    accepted names denote the same encoder exactly when their :func:`name_key` are equal.

    Raises:
        ConfigError: ``name`` is not a string, is empty, or holds an invisible character (named by its code
        point, e.g. ``U+200B``), with ``what`` naming where it came from.

    Example:
        >>> encoder_name("ｍｕｓｅ３")
        'muse3'
    """
    if not isinstance(name, str):
        raise ConfigError(f"{what} must be a string, got {name!r}")
    normal = unicodedata.normalize("NFKC", name)
    if not normal:
        raise ConfigError(f"{what} must not be empty")
    bad = [ch for ch in normal if _hidden(ch)]
    if bad:
        codes = ", ".join(dict.fromkeys(f"U+{ord(ch):04X}" for ch in bad))
        raise ConfigError(
            f"{what} {ascii(name)} holds characters a reader cannot see ({codes}: whitespace, control, "
            "zero-width or bidi characters); use a name of visible characters only"
        )
    return normal


def name_key(name: str) -> str:
    """What names are compared by: NFKC, case-folded (``MUSE3``, ``muse3`` and ``ｍｕｓｅ３`` share one key).

    Example:
        >>> name_key("MiniLM") == name_key("minilm")
        True
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
