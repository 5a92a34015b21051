"""``whitespace``: segmentation noise, spaces dropped between words or inserted inside them."""

from __future__ import annotations

import numpy as np

from core.noise.engine import Family, run_one
from core.noise.hits import DELETE, INSERT, Hits, Proposals
from core.noise.result import NoiseResult

#: Scripts written without spaces between words: there, spurious spaces are the segmentation error.
UNSPACED_SCRIPTS = frozenset({"Hani", "Hira", "Kana", "Thai", "Laoo", "Khmr", "Mymr", "Tibt", "Java", "Bali"})


def propose(h: Hits) -> Proposals:
    """At each selected cluster ``i``: split its word after ``i`` (``a >= .5``, or always in an unspaced
    script), else drop the single space that ends its word, else split anyway.

    Splits go after the selected cluster only, so two selected clusters never insert at one gap; a
    word-final cluster drops the following space instead. Only a single U+0020 between two words (not
    leading/trailing, not part of a run) is dropped, which joins them.
    """
    b, m = h.batch, len(h)
    r, i, vis = h.row, h.i, h.vis
    count = b.count[h.q]
    last_row = len(b.start) - 1
    split_ok = (i + 1 < count) & vis[np.minimum(r + 1, last_row)]
    split = split_ok & (h.a >= 0.5)
    ask = np.flatnonzero(split_ok & ~split)
    if len(ask):
        unspaced = [
            h.doc(q).script_at(c) in UNSPACED_SCRIPTS for q, c in zip(h.q[ask].tolist(), i[ask].tolist())
        ]
        split[ask[np.array(unspaced, bool)]] = True
    # The first blank cluster after i (its word's end), as an index in the text (count when none).
    blank = np.flatnonzero(~vis)
    nxt = np.searchsorted(blank, r, side="right")
    j_row = (
        np.where(nxt < len(blank), blank[np.minimum(nxt, max(len(blank) - 1, 0))], last_row + 1)
        if len(blank)
        else np.full(m, last_row + 1)
    )
    j = np.minimum(j_row - (r - i), count)
    jr = np.minimum(r + (j - i), last_row)
    single_space = (b.end[jr] - b.start[jr] == 1) & (b.cps[b.start[jr]] == 32)
    drop = ~split & (j > 0) & (j < count - 1) & single_space & vis[np.minimum(jr + 1, last_row)]
    drop &= vis[np.maximum(jr - 1, 0)]
    ins = ~drop & (split | split_ok)
    ok = drop | ins
    op = np.where(drop, DELETE, INSERT)
    gs = np.where(drop, j, i + 1)
    ge = np.where(drop, j + 1, i + 1)
    new = [None if not o else ("" if d else " ") for o, d in zip(ok.tolist(), drop.tolist(), strict=True)]
    return Proposals(ok, op, gs, ge, new, True)


FAMILY = Family(propose)


def whitespace(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """Drop spaces between words and insert spaces inside words.

    Each non-space cluster is selected with probability ``level``; a selected cluster in a spaced script
    drops the (single U+0020) space that ends its word with probability 1/2 (joining two words),
    otherwise a space is inserted right after it inside its word (splitting it). In scripts written without word spaces (Han,
    kana, Thai, Lao, Khmer, Myanmar, Tibetan, Javanese, Balinese) only spurious spaces are inserted: that
    is how segmentation fails there. Only U+0020 is inserted; leading, trailing and repeated spaces are
    never touched.

    Args:
        text: input text.
        level: expected fraction of non-space clusters with a whitespace edit, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code (unused; the script is read from the text).

    Returns:
        A :class:`NoiseResult` with ``insert`` (of ``" "``) and ``delete`` (of a space) edits.
    """
    return run_one(text, level, rng, lang, FAMILY)
