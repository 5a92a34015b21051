"""``transpose``: swap two adjacent clusters of one word."""

from __future__ import annotations

import numpy as np

from core.noise.columns import cluster_ids
from core.noise.engine import Family, run_one
from core.noise.hits import TRANSPOSE, Hits, Proposals
from core.noise.result import NoiseResult


def propose(h: Hits) -> Proposals:
    """Swap each selected cluster ``i`` with its right neighbour, or its left one (``b >= .5`` tries the
    left first): the first pair ``(j, j + 1)`` of two different non-blank clusters of the text. Only within
    a word: swapping a letter with a space is whitespace noise."""
    b, m = h.batch, len(h)
    count = b.count[h.q]
    last_row = len(b.start) - 1
    # Rows i-1, i, i+1 of each hit (clipped; the masks below drop what lies outside the text).
    rows = np.clip(h.row[:, None] + np.arange(-1, 2), 0, last_row)
    ids = cluster_ids(b, rows.ravel()).reshape(m, 3)
    vis = h.vis[rows]

    def pair_ok(j: np.ndarray, left: int) -> np.ndarray:
        # The pair (j, j + 1) whose left member is row column `left` (0: i-1, 1: i).
        return (
            (j >= 0) & (j + 1 < count) & vis[:, left] & vis[:, left + 1] & (ids[:, left] != ids[:, left + 1])
        )

    right_ok, left_ok = pair_ok(h.i, 1), pair_ok(h.i - 1, 0)
    right_first = h.b < 0.5
    use_right = np.where(right_first, right_ok, right_ok & ~left_ok)
    ok = right_ok | left_ok
    j = np.where(use_right, h.i, h.i - 1)
    k = np.flatnonzero(ok)
    r = h.row[k] + (j[k] - h.i[k])
    joined, start, end = b.joined, b.start, b.end
    left = map(joined.__getitem__, map(slice, start[r].tolist(), end[r].tolist()))
    right = map(joined.__getitem__, map(slice, start[r + 1].tolist(), end[r + 1].tolist()))
    new: list = [None] * m
    for kk, x, y in zip(k.tolist(), left, right, strict=True):
        new[kk] = y + x
    return Proposals(ok, np.full(m, TRANSPOSE, np.int64), j, j + 2, new, True)


FAMILY = Family(propose, clusters_per_edit=2.0)


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
    return run_one(text, level, rng, lang, FAMILY)
