"""``mixed``: a fixed mixture of typing errors, one family drawn per edited cluster."""

from __future__ import annotations

import numpy as np

from core.noise import delete, diacritics, insert, keyboard, transpose, whitespace
from core.noise.engine import Family, run_one
from core.noise.hits import Hits, Proposals
from core.noise.result import NoiseResult

#: (family, weight, its proposal) of the mixture. Keyboard slips dominate real typing errors; homoglyphs
#: are left out (they are not typing errors).
MIXTURE = (
    ("keyboard", 0.35, keyboard.propose),
    ("delete", 0.20, delete.propose),
    ("insert", 0.15, insert.propose),
    ("transpose", 0.10, transpose.propose),
    ("diacritics", 0.10, diacritics.propose),
    ("whitespace", 0.10, whitespace.propose),
)
_CUM = np.cumsum([w for _, w, _ in MIXTURE])
# A transposition edits two clusters: selecting fewer clusters keeps the expected CER at `level`.
_CLUSTERS_PER_EDIT = 1.0 + sum(w for n, w, _ in MIXTURE if n == "transpose")


def propose(h: Hits) -> Proposals:
    """At each selected cluster, the family ``b`` picks (weights in ``MIXTURE``) proposes with ``a`` and
    what is left of ``b`` rescaled; a keyboard slip where that family cannot edit the cluster."""
    k = np.minimum(np.searchsorted(_CUM, h.b, side="right"), len(_CUM) - 1)
    lo = np.where(k > 0, _CUM[np.maximum(k - 1, 0)], 0.0)
    sub = np.minimum((h.b - lo) / (_CUM[k] - lo), 0.9999999999)
    props = Proposals.empty(len(h))
    for j, (_, _, family_propose) in enumerate(MIXTURE):
        idx = np.flatnonzero(k == j)
        if len(idx):
            props.put(idx, family_propose(h.take(idx, b=sub[idx])))
    none = np.flatnonzero(~props.ok)
    if len(none):
        props.put(none, keyboard.propose(h.take(none, b=sub[none])))
    return props


FAMILY = Family(propose, clusters_per_edit=_CLUSTERS_PER_EDIT, layout=keyboard.text_layout)


def mixed(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """A documented mixture of typing errors.

    Each non-space cluster is selected with probability ``level / 1.1`` (a transposition counts two
    clusters) and edited by one family drawn with these weights: keyboard 0.35, delete 0.20,
    insert 0.15, transpose 0.10, diacritics 0.10, whitespace 0.10. When the drawn family cannot edit
    the cluster (no mark to drop, no neighbour to swap with) a keyboard slip is made instead.

    Args:
        text: input text.
        level: expected fraction of non-space clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code (tables and layout).

    Returns:
        A :class:`NoiseResult`; ``layout`` is the layout keyboard slips use.
    """
    return run_one(text, level, rng, lang, FAMILY)
