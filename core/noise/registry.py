"""The noise-type registry and ``apply_noise``, the one entry point the precompute calls."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from core.errors import UnknownNameError
from core.noise import delete as _delete
from core.noise import diacritics as _diacritics
from core.noise import homoglyph as _homoglyph
from core.noise import insert as _insert
from core.noise import keyboard as _keyboard
from core.noise import mixed as _mixed
from core.noise import substitute as _substitute
from core.noise import transpose as _transpose
from core.noise import whitespace as _whitespace
from core.noise.engine import Family, KeyStream, run
from core.noise.result import NoiseBatch, NoiseResult
from core.noise.rng import _check, query_keys
from core.noise.tables import known_languages

delete, diacritics, homoglyph = _delete.delete, _diacritics.diacritics, _homoglyph.homoglyph
insert, keyboard, mixed = _insert.insert, _keyboard.keyboard, _mixed.mixed
substitute, transpose, whitespace = _substitute.substitute, _transpose.transpose, _whitespace.whitespace

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

#: What each family contributes to the engine (:mod:`core.noise.engine`): its proposal and selection rule.
FAMILIES: dict[str, Family] = {
    "insert": _insert.FAMILY,
    "delete": _delete.FAMILY,
    "substitute": _substitute.FAMILY,
    "transpose": _transpose.FAMILY,
    "keyboard": _keyboard.FAMILY,
    "diacritics": _diacritics.FAMILY,
    "homoglyph": _homoglyph.FAMILY,
    "whitespace": _whitespace.FAMILY,
    "mixed": _mixed.FAMILY,
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
    get_noise(noise)
    qid = _check(seed, qid)
    if level == 0.0:
        return identity(text)
    keys = query_keys(seed, [qid], noise)
    return run([text], np.array([level]), [lang], FAMILIES[noise], KeyStream(keys))[0]


def apply_noise_batch(
    texts: Sequence[str],
    noise: str,
    level: float | Sequence[float],
    *,
    seed: int,
    qids: Sequence[int | str],
    langs: str | Sequence[str],
) -> NoiseBatch:
    """Noise many queries at once: element ``j`` equals ``apply_noise(texts[j], noise, level,
    seed=seed, qid=qids[j], lang=langs[j])`` exactly (same determinism contract), several times faster.

    Every family runs through the one engine (:mod:`core.noise.engine`): the random numbers of every
    cluster of every text are computed in one vectorised step (see :mod:`core.noise.rng`), and only
    selected clusters reach the family's rule.

    Args:
        texts: the queries.
        noise: a name from :func:`list_noise_types`.
        level: expected fraction of non-blank grapheme clusters edited, in [0, 1]: one for all texts,
            or one per text.
        seed: non-negative experiment seed.
        qids: one query id per text.
        langs: one ISO 639-3 code for all texts, or one per text.

    Returns:
        A :class:`NoiseBatch`: one :class:`NoiseResult` per text, in order, also readable by column
        (``noisy``, ``cer``, ``layouts``, ``edits_json``) without making an object per text.

    Raises:
        TypeError, ValueError, UnknownNameError: as :func:`apply_noise`; ValueError also when
            ``qids`` or ``langs`` do not have one entry per text.

    Example:
        >>> [r.noisy for r in apply_noise_batch(["ab", "cd"], "delete", 0.0, seed=0, qids=[0, 1], langs="eng")]
        ['ab', 'cd']
    """
    texts = list(texts)
    if set(map(type, texts)) - {str}:  # one look per type, not per text
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"text must be a str, got {type(t).__name__}")
    lang_list = [langs] * len(texts) if isinstance(langs, str) else list(langs)
    qid_list = list(qids)
    one_level = isinstance(level, int | float | np.integer | np.floating)
    level_list = [check_level(level)] * len(texts) if one_level else [check_level(lv) for lv in level]
    if not len(lang_list) == len(qid_list) == len(level_list) == len(texts):
        raise ValueError(
            f"{len(texts)} texts need as many qids ({len(qid_list)}), langs ({len(lang_list)}) "
            f"and levels ({len(level_list)})"
        )
    for lang in set(lang_list):
        check_lang(lang)
    if qid_list and set(map(type, qid_list)) == {int}:
        _check(seed, 0)  # plain ints are valid qids: only the seed needs checking
    else:
        qid_list = [_check(seed, q) for q in qid_list]
    if noise != "none":
        get_noise(noise)
    if noise == "none" or not any(level_list):
        return NoiseBatch.of([identity(t) for t in texts])
    keys = query_keys(seed, qid_list, noise)
    return run(texts, np.array(level_list, np.float64), lang_list, FAMILIES[noise], KeyStream(keys))


def identity(text: str) -> NoiseResult:
    """The unchanged text: no edits, CER 0."""
    return NoiseResult(text, text, (), 0.0, None)
