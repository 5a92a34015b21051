"""``delete``: drop whole grapheme clusters."""

from __future__ import annotations

import numpy as np

from core.noise.engine import Family, run_one
from core.noise.hits import DELETE, Hits, Proposals
from core.noise.result import NoiseResult


def propose(h: Hits) -> Proposals:
    """Each selected cluster is deleted, marks and all."""
    m = len(h)
    return Proposals(np.ones(m, bool), np.full(m, DELETE, np.int64), h.i.copy(), h.i + 1, [""] * m, True)


FAMILY = Family(propose)


def delete(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Delete non-space grapheme clusters, each with probability ``level``.

    A cluster goes with its combining marks, so no mark is orphaned and no virama is left dangling on
    its own. Spaces are left to ``whitespace`` noise.

    Args:
        text: input text.
        level: expected fraction of non-space clusters deleted, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code (unused: deletion needs no table).

    Returns:
        A :class:`NoiseResult` with ``delete`` edits; its CER converges to ``level``.
    """
    return run_one(text, level, rng, lang, FAMILY)
