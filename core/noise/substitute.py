"""``substitute``: replace a cluster by another cluster of the same script."""

from __future__ import annotations

import numpy as np

from core.noise.engine import Doc, match_case, run
from core.noise.result import NoiseResult
from core.noise.tables import pool


def substitute_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Cluster ``i`` becomes a cluster of its script drawn by the language's frequencies (``a``)."""
    old = doc.units[i]
    candidates = pool(doc.lang, doc.script_at(i))
    if candidates is None:
        return None
    new = candidates.draw(a, avoid=old)
    if new is None:
        return None
    return "substitute", i, i + 1, doc.normalize(match_case(old, new))


def substitute(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Substitute non-space grapheme clusters with other clusters of the same script.

    Each non-space cluster is replaced with probability ``level``. The replacement has the script of the
    replaced cluster (of its nearest neighbour with a script when it is punctuation, digits or emoji),
    is drawn by the language's cluster frequencies (see :mod:`core.noise.tables`), differs from the
    original and keeps its letter case. Whole clusters are replaced, so marks never lose their base.

    Args:
        text: input text (any normal form; it is preserved).
        level: expected fraction of non-space clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code, used to pick the frequency table.

    Returns:
        A :class:`NoiseResult` with ``substitute`` edits.

    Example:
        >>> substitute("abc", 0.0, np.random.default_rng(0), "eng").noisy
        'abc'
    """
    return run(text, level, rng, lang, substitute_kernel)
