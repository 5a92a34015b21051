"""The noise-type registry and ``apply_noise``, the one entry point the precompute calls."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np

from core.errors import UnknownNameError
from core.noise.delete import delete
from core.noise.diacritics import diacritics
from core.noise.engine import identity
from core.noise.homoglyph import homoglyph
from core.noise.insert import insert
from core.noise.keyboard import keyboard
from core.noise.mixed import mixed
from core.noise.result import NoiseResult
from core.noise.rng import noise_rng
from core.noise.substitute import substitute
from core.noise.tables import known_languages
from core.noise.transpose import transpose
from core.noise.whitespace import whitespace

NoiseFn = Callable[[str, float, np.random.Generator, str], NoiseResult]

#: Every noise family by name. ``"none"`` (identity) is accepted by :func:`apply_noise` but is not here.
NOISE_TYPES: dict[str, NoiseFn] = {
    "insert": insert,
    "delete": delete,
    "substitute": substitute,
    "transpose": transpose,
    "keyboard": keyboard,
    "diacritics": diacritics,
    "homoglyph": homoglyph,
    "whitespace": whitespace,
    "mixed": mixed,
}

_LANG = re.compile(r"[a-z]{3}")


def list_noise_types(include_none: bool = True) -> list[str]:
    """Names :func:`apply_noise` accepts: ``"none"`` (unless ``include_none`` is False) then the families."""
    return (["none"] if include_none else []) + list(NOISE_TYPES)


def get_noise(name: str) -> NoiseFn:
    """The family function registered as ``name``.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the valid names).
    """
    try:
        return NOISE_TYPES[name]
    except (KeyError, TypeError):
        raise UnknownNameError("noise type", name, list(NOISE_TYPES)) from None


def check_lang(lang: str) -> str:
    """Validate an ISO 639-3 code: three lowercase ASCII letters.

    Codes without a table of their own are accepted: their noise falls back to the tables of the
    script detected in each text. Returns ``lang``.

    Raises:
        UnknownNameError: ``lang`` is not three lowercase letters (the message lists known languages).
    """
    if not isinstance(lang, str) or not _LANG.fullmatch(lang):
        raise UnknownNameError("language", lang, known_languages())
    return lang


def check_level(level: float) -> float:
    """Validate a noise level: a real number in [0, 1]. Returns it as a float.

    Raises:
        TypeError: ``level`` is not a real number (bools are refused).
        ValueError: ``level`` is NaN or outside [0, 1].
    """
    if isinstance(level, bool) or not isinstance(level, int | float | np.integer | np.floating):
        raise TypeError(f"level must be a number, got {type(level).__name__} {level!r}")
    level = float(level)
    if math.isnan(level) or not 0.0 <= level <= 1.0:
        raise ValueError(f"level must be in [0, 1], got {level}")
    return level


def apply_noise(text: str, noise: str, level: float, *, seed: int, qid: int | str, lang: str) -> NoiseResult:
    """Noise one query reproducibly.

    The generator is ``noise_rng(seed, qid, noise)``, so the same (text, noise, level, seed, qid) gives
    the same result on any machine, queries are independent of each other, and the levels of one query
    are nested (the edits at a level are a subset of those at a higher one, for the single-operation
    families). ``noise == "none"`` or ``level == 0`` is the identity: no edits, CER 0.

    Args:
        text: the query.
        noise: a name from :func:`list_noise_types`.
        level: expected fraction of non-space grapheme clusters edited, in [0, 1].
        seed: non-negative experiment seed.
        qid: query id.
        lang: ISO 639-3 code of the text.

    Returns:
        A :class:`NoiseResult`.

    Raises:
        TypeError: ``text`` is not a str, or ``level``/``seed``/``qid`` have the wrong type.
        ValueError: ``level`` is outside [0, 1] or ``seed`` is negative.
        UnknownNameError: unknown ``noise`` or malformed ``lang`` (the message lists the valid ones).

    Example:
        >>> apply_noise("hello world", "delete", 0.0, seed=0, qid=1, lang="eng").noisy
        'hello world'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    level = check_level(level)
    check_lang(lang)
    if noise == "none":
        return identity(text)
    fn = get_noise(noise)
    rng = noise_rng(seed, qid, noise)
    if level == 0.0:
        return identity(text)
    return fn(text, level, rng, lang)
