"""The script of each selected cluster's word, by column: what keyboard slips read around a cluster.

A *word* is a run of non-blank clusters of one text. For most words every letter has one script, and
that script decides both the word's script (:meth:`core.noise.doc.Doc.word_script`) and the scripts a
slip may produce (:meth:`core.noise.doc.Doc.word_scripts`): both are computed here for all hits at once
from a per-code-point table of the Unicode Script property (the one :func:`core.noise.text.char_script`
reads). Words mixing scripts are left to the :class:`~core.noise.doc.Doc` (None).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.noise.hits import Hits
from core.noise.text import NO_SCRIPT as _NONE
from core.noise.text import script_table as _script_table


def _word_script_range(h: Hits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The word of every cluster of the batch, and each word's lowest and highest script id."""
    b = h.batch
    table = _script_table()[0]
    # Each cluster's lowest and highest script id (over its code points; the NUL after a text is neutral).
    sc = table[b.cps]
    lo = np.minimum.reduceat(sc, b.start) if len(b.start) else sc[:0]
    hi_src = np.where(sc == _NONE, -1, sc)
    hi = np.maximum.reduceat(hi_src, b.start) if len(b.start) else hi_src[:0]
    # Words: runs of visible clusters within a text; blank clusters get a word of their own (unused).
    vis = h.vis
    starts = np.ones(len(b.start), bool)
    starts[1:] = ~vis[1:] | ~vis[:-1] | (b.index[1:] == 0)
    word = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    w_lo = np.minimum.reduceat(lo, first) if len(first) else lo
    w_hi = np.maximum.reduceat(hi, first) if len(first) else hi
    return word, w_lo, w_hi


def word_scripts(h: Hits) -> tuple[list[str | None], list[frozenset[str] | None]]:
    """Per hit, its word's script as ``Doc.word_script`` gives it and the word's scripts as
    ``Doc.word_scripts`` does; None for both where the word mixes scripts (ask the Doc)."""
    words = h.memo.get("words")
    if words is None:
        words = h.memo["words"] = _word_script_range(h)
    word, w_lo, w_hi = words
    names = _script_table()[1]
    hw = word[h.row]
    lo_h, hi_h = w_lo[hw].tolist(), w_hi[hw].tolist()
    script_of: list[str | None] = []
    allowed: list[frozenset[str] | None] = []
    for x, y in zip(lo_h, hi_h, strict=True):
        if x == _NONE:
            script_of.append("Zyyy")
            allowed.append(frozenset())
        elif x == y:
            script_of.append(names[x])
            allowed.append(_one(names[x]))
        else:
            script_of.append(None)
            allowed.append(None)
    return script_of, allowed


@lru_cache(maxsize=512)
def _one(name: str) -> frozenset[str]:
    return frozenset((name,))
