"""``insert``: add a cluster of the selected cluster's kind and script next to it."""

from __future__ import annotations

import numpy as np

from core.noise.doc import Doc
from core.noise.draws import insert_proposals
from core.noise.engine import Family, run_one
from core.noise.hits import Hits, Proposals
from core.noise.kinds import same_kind
from core.noise.result import NoiseResult


def insert_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Insert before (``b < .5``) or after cluster ``i`` a cluster of its kind (see ``same_kind``): the
    rule :func:`propose` computes by plan, and asks directly for digits."""
    at = i if b < 0.5 else i + 1
    new = same_kind(doc, i, a)
    if new is None:
        return None
    return "insert", at, at, doc.normalize(new)


def propose(h: Hits) -> Proposals:
    """Insert edits at the selected clusters, by column (see :mod:`core.noise.draws`)."""
    return insert_proposals(h, insert_kernel)


FAMILY = Family(propose)


def insert(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Insert one grapheme cluster next to each selected non-blank cluster (probability ``level``).

    The inserted cluster is placed at a cluster boundary (before or after, equally likely) and is of the
    selected cluster's kind: next to a letter, a letter of that letter's script drawn by the language's
    frequencies, in its letter case; next to punctuation, punctuation; next to a digit, a digit of the
    same numeral system. Nothing is inserted next to blank clusters alone (spaces, ZWSP, joiners).

    Args:
        text: input text.
        level: expected insertions per non-blank cluster, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code, used to pick the frequency table.

    Returns:
        A :class:`NoiseResult` with ``insert`` edits (``start == end``); its CER converges to ``level``.
    """
    return run_one(text, level, rng, lang, FAMILY)
