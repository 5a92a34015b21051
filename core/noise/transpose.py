"""``transpose``: swap two adjacent clusters of one word."""

from __future__ import annotations

import numpy as np

from core.noise.engine import Doc, Family, run
from core.noise.result import NoiseResult


def transpose_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Swap cluster ``i`` with its right neighbour (its left one at a word end) when they differ."""
    units, space, n = doc.units, doc.space, len(doc.units)
    for j in (i, i - 1) if b < 0.5 else (i - 1, i):
        # Only within a word: swapping a letter with a space is whitespace noise.
        if j >= 0 and j + 1 < n and not space[j] and not space[j + 1] and units[j] != units[j + 1]:
            return "transpose", j, j + 2, units[j + 1] + units[j]
    return None


FAMILY = Family(transpose_kernel, clusters_per_edit=2.0)


def transpose(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Swap adjacent non-space grapheme clusters (``ab`` -> ``ba``).

    A swap changes two clusters, so each non-space cluster starts a swap with probability ``level / 2``:
    the expected fraction of clusters displaced is ``level``. Identical neighbours are never swapped
    (that would be an invisible edit), and clusters move whole, marks included.

    Args:
        text: input text.
        level: expected fraction of non-space clusters displaced, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code (unused).

    Returns:
        A :class:`NoiseResult` with ``transpose`` edits spanning two clusters each.
    """
    return run(text, level, rng, lang, transpose_kernel, clusters_per_edit=2.0)
