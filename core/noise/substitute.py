"""``substitute``: replace a cluster by another cluster of the same kind and script."""

from __future__ import annotations

import numpy as np

from core.noise.doc import Doc
from core.noise.draws import substitute_proposals
from core.noise.engine import Family, run_one
from core.noise.hits import Hits, Proposals
from core.noise.kinds import keep_invisibles, same_kind
from core.noise.result import NoiseResult


def substitute_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Cluster ``i`` becomes another cluster of its kind (``a`` draws it; see :func:`same_kind`): the rule
    :func:`propose` computes by plan, and asks directly for digits."""
    old = doc.units[i]
    new = same_kind(doc, i, a, avoid=old)
    if new is None:
        return None
    return "substitute", i, i + 1, doc.normalize(keep_invisibles(old, new))


def propose(h: Hits) -> Proposals:
    """Substitute edits at the selected clusters, by column (see :mod:`core.noise.draws`)."""
    return substitute_proposals(h, substitute_kernel)


FAMILY = Family(propose)


def substitute(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Substitute visible grapheme clusters with other clusters of the same kind and script.

    Each non-blank cluster is replaced with probability ``level``. A letter becomes a letter of its own
    script drawn by the language's cluster frequencies (see :mod:`core.noise.tables`), in its letter case;
    punctuation becomes punctuation, a digit a digit of the same numeral system, a symbol a symbol, so no
    letter of a script absent from the word ever appears. Whole clusters are replaced, so marks never
    lose their base; a trailing ZWNJ/ZWJ is kept. Blank clusters (spaces, ZWSP and other invisibles) are
    never touched.

    Args:
        text: input text (any normal form; it is preserved).
        level: expected fraction of non-blank clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code, used to pick the frequency table.

    Returns:
        A :class:`NoiseResult` with ``substitute`` edits.

    Example:
        >>> substitute("abc", 0.0, np.random.default_rng(0), "eng").noisy
        'abc'
    """
    return run_one(text, level, rng, lang, FAMILY)
