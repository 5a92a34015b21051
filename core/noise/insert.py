"""``insert``: add a cluster of the neighbours' script next to a cluster."""

from __future__ import annotations

import numpy as np

from core.noise.engine import Doc, match_case, run
from core.noise.result import NoiseResult
from core.noise.tables import pool


def insert_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Insert before (``b < .5``) or after cluster ``i`` a cluster of the script next to that gap."""
    at = i if b < 0.5 else i + 1
    candidates = pool(doc.lang, doc.context_script(at - 1, at))
    if candidates is None:
        return None
    new = candidates.draw(a)
    if new is None:
        return None
    return "insert", at, at, doc.normalize(match_case(doc.units[i], new))


def insert(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Insert one grapheme cluster next to each selected non-space cluster (probability ``level``).

    The inserted cluster is placed at a cluster boundary (before or after, equally likely), has the
    script of the nearest cluster with a script of its own on either side of the gap, is drawn by the
    language's frequencies, and takes the letter case of the selected cluster.

    Args:
        text: input text.
        level: expected insertions per non-space cluster, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code, used to pick the frequency table.

    Returns:
        A :class:`NoiseResult` with ``insert`` edits (``start == end``); its CER converges to ``level``.
    """
    return run(text, level, rng, lang, insert_kernel)
