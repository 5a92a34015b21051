"""Language codes of the datasets, read as ISO 639-3 + ISO 15924.

Each dataset names a language its own way: Tatoeba by ISO 639-3 (``amh``), FLORES-200 (SIB-200) by
ISO 639-3 and script (``amh_Ethi``), NTREX-128 by ISO 639-3 with an optional script or region (``aze-Latn``,
``zho-CN``). Stored rows keep the dataset's own code; everything that needs a language (noise tables and
keyboard layouts, the training languages of a model, ``data/languages.csv``) reads it through this module.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ISO = re.compile(r"^([a-z]{3})(?:[_-]([A-Za-z0-9]+))?$")
_SCRIPT = re.compile(r"^[A-Z][a-z]{3}$")

# NTREX-128's region subtags that decide the script (the others, e.g. fra-CA, keep the language's usual one).
_REGION_SCRIPT = {("zho", "CN"): "Hans", ("zho", "TW"): "Hant"}

# Individual languages -> their ISO 639-3 macrolanguage, for the codes of the three datasets where the same
# language is coded both ways (FLORES-200 says arb, pes, zsm where Tatoeba and NTREX say ara, fas, msa).
# Used to decide "seen in training" and to find a noise table; never to rename stored data.
MACROLANGUAGE: dict[str, str] = {
    "arb": "ara", "acm": "ara", "acq": "ara", "aeb": "ara", "ajp": "ara", "apc": "ara", "ars": "ara",
    "ary": "ara", "arz": "ara", "arq": "ara", "ayl": "ara",
    "cmn": "zho", "yue": "zho", "wuu": "zho", "hak": "zho", "nan": "zho",
    "zsm": "msa", "ind": "msa", "min": "msa", "pes": "fas", "prs": "fas", "npi": "nep", "khk": "mon",
    "lvs": "lav", "ltg": "lav", "ekk": "est", "als": "sqi", "azj": "aze", "azb": "aze", "uzn": "uzb",
    "ydd": "yid", "gaz": "orm", "plt": "mlg", "quy": "que", "swh": "swa", "kmr": "kur", "ckb": "kur",
    "pbt": "pus", "knc": "kau", "twi": "aka", "fuv": "ful", "fuc": "ful", "ayr": "aym",
    "bos": "hbs", "hrv": "hbs", "srp": "hbs", "nob": "nor", "nno": "nor",
}  # fmt: skip


def split_code(code: str) -> tuple[str, str | None]:
    """``(ISO 639-3 code, ISO 15924 script or None)`` of a dataset's language code.

    The script is the code's own when it has one (``amh_Ethi``, ``srp-Cyrl``), the one its region implies
    (``zho-CN`` -> Hans), else None (look it up in ``data/languages.csv``).

    Raises:
        ValueError: ``code`` is not three lowercase letters, optionally followed by ``_`` or ``-`` and a tag.

    Example:
        >>> split_code("amh_Ethi"), split_code("aze-Latn"), split_code("zho-CN"), split_code("swh")
        (('amh', 'Ethi'), ('aze', 'Latn'), ('zho', 'Hans'), ('swh', None))
    """
    m = _ISO.fullmatch(code) if isinstance(code, str) else None
    if m is None:
        raise ValueError(f"{code!r} is not a language code (ISO 639-3, optionally _Script or -Tag)")
    iso, tag = m.group(1), m.group(2)
    if tag and _SCRIPT.fullmatch(tag):
        return iso, tag
    return iso, _REGION_SCRIPT.get((iso, tag or ""))


def iso639_3(code: str) -> str:
    """The ISO 639-3 part of a dataset's language code (``amh_Ethi`` -> ``amh``); see :func:`split_code`."""
    return split_code(code)[0]


def macrolanguage(iso: str) -> str:
    """The macrolanguage of an ISO 639-3 code when the table knows one, else the code itself."""
    return MACROLANGUAGE.get(iso, iso)


def same_language(code: str, others: set[str] | frozenset[str]) -> bool:
    """Whether ``code`` (any dataset's) names one of ``others`` (ISO 639-3 or dataset codes): the same
    ISO 639-3 code, or the same macrolanguage (``arb_Arab`` and Tatoeba's ``ara``; ``zsm_Latn`` and ``msa``).

    Example:
        >>> same_language("arb_Arab", {"ara"}), same_language("amh_Ethi", {"tir"})
        (True, False)
    """
    iso = _safe_iso(code)
    if iso is None:
        return code in others
    isos = {i for o in others if (i := _safe_iso(o)) is not None}
    return iso in isos or macrolanguage(iso) in {macrolanguage(i) for i in isos}


def _safe_iso(code: str) -> str | None:
    try:
        return iso639_3(code)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _noise_languages() -> frozenset[str]:
    from core.noise.layouts import table
    from core.noise.tables import known_languages

    return frozenset(known_languages()) | frozenset(table()["languages"])


def noise_language(code: str) -> str:
    """The ISO 639-3 code the noise uses for a dataset's language code: its own code when the noise has a
    frequency table or keyboard layout for it, else its macrolanguage's when that has one, else its own
    (whose noise then follows the script of each text). Tatoeba's codes map to themselves.

    Example:
        >>> noise_language("amh"), noise_language("amh_Ethi"), noise_language("arb_Arab")
        ('amh', 'amh', 'ara')

    A code that is not a language code (a generic dataset's file stem) is returned as it is, for the noise to
    refuse with its own message.
    """
    iso = _safe_iso(code)
    if iso is None:
        return code
    known = _noise_languages()
    if iso in known:
        return iso
    macro = macrolanguage(iso)
    return macro if macro in known else iso
