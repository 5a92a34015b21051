"""``delete``: drop whole grapheme clusters."""

from __future__ import annotations

import numpy as np

from core.noise.engine import Doc, Family, run
from core.noise.result import NoiseResult


def delete_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str]:
    """Cluster ``i`` is deleted, marks and all."""
    return "delete", i, i + 1, ""


FAMILY = Family(delete_kernel)


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
    return run(text, level, rng, lang, delete_kernel)
