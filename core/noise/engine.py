"""The driver every noise family shares: pick clusters, ask the family's kernel for an edit, assemble.

A *kernel* is ``kernel(doc, i, a, b) -> (op, g_start, g_end, new) | None``: given the selected cluster
``i`` and two uniforms ``a, b`` in [0, 1), it proposes replacing clusters ``[g_start, g_end)`` by ``new``
(``g_start == g_end`` inserts). Kernels draw nothing themselves: the driver draws one row of three
uniforms per cluster up front (select, a, b). Hence the cluster selected at level 0.1 are also selected at
0.2, with the same replacements: levels of one (seed, query) are nested, which makes level curves smooth.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import numpy as np

from core.noise.result import Edit, NoiseResult
from core.noise.text import NEUTRAL_SCRIPTS, cer, cluster_script, cluster_starts, graphemes, normal_form


class Doc:
    """A text cut into grapheme clusters, with what kernels need to know about it."""

    __slots__ = ("text", "units", "starts", "space", "lang", "form", "n_ns")

    def __init__(self, text: str, lang: str):
        self.text = text
        self.units = graphemes(text)
        # Simple texts have one code point per cluster, so offsets are indices (no accumulate needed).
        self.starts = range(len(text) + 1) if len(self.units) == len(text) else cluster_starts(self.units)
        self.space = list(map(str.isspace, self.units))
        self.n_ns = len(self.units) - sum(self.space)
        self.lang = lang
        self.form = normal_form(text)

    def normalize(self, s: str) -> str:
        """``s`` in the text's own normal form (NFC in, NFC out)."""
        return unicodedata.normalize(self.form, s) if self.form and not s.isascii() else s

    def context_script(self, left: int, right: int) -> str:
        """Script of the nearest cluster with a script of its own, searching outward from ``left`` and
        ``right`` alternately; ``Zyyy`` when the whole text is Common/Inherited."""
        units, n = self.units, len(self.units)
        for d in range(max(left + 1, n - right)):
            for j in (left - d, right + d):
                if 0 <= j < n:
                    sc = cluster_script(units[j])
                    if sc not in NEUTRAL_SCRIPTS:
                        return sc
        return "Zyyy"

    def script_at(self, i: int) -> str:
        """Script of cluster ``i``, or of its nearest neighbour with one when it is Common/Inherited."""
        sc = cluster_script(self.units[i])
        return sc if sc not in NEUTRAL_SCRIPTS else self.context_script(i - 1, i + 1)


Kernel = Callable[[Doc, int, float, float], "tuple[str, int, int, str] | None"]


def split_uniform(u: float, k: int) -> tuple[int, float]:
    """Turn one uniform into an index in ``range(k)`` and a fresh uniform (the remainder, rescaled)."""
    x = u * k
    i = min(int(x), k - 1)
    return i, min(x - i, 0.9999999999)


def match_case(old: str, new: str) -> str:
    """``new`` in the letter case of ``old`` (a slip rarely toggles Shift), when that keeps its length."""
    if old.islower() and not new.islower():
        low = new.lower()
        return low if len(low) == len(new) else new
    if old.isupper() and new.islower():
        up = new.upper()
        return up if len(up) == len(new) else new
    return new


def identity(text: str, layout: str | None = None) -> NoiseResult:
    """The unchanged text: no edits, CER 0."""
    return NoiseResult(text, text, (), 0.0, layout)


def run(
    text: str,
    level: float,
    rng: np.random.Generator,
    lang: str,
    kernel: Kernel,
    *,
    eligible: Callable[[str], bool] | None = None,
    clusters_per_edit: float = 1.0,
    layout: str | None = None,
    doc: Doc | None = None,
) -> NoiseResult:
    """Noise ``text`` by calling ``kernel`` on randomly selected non-space clusters.

    Each non-space cluster is selected with probability ``p = level / clusters_per_edit`` (a transposition
    edits two clusters). When only ``eligible`` clusters can be edited (diacritics, homoglyphs) ``p`` is
    scaled by ``non-space / eligible`` and capped at 1, so the expected fraction of non-space clusters
    edited stays ``level`` wherever the text allows it.

    Args:
        text: input text.
        level: expected fraction of non-space clusters edited, in [0, 1].
        rng: the query's generator (see :func:`core.noise.rng.noise_rng`).
        lang: ISO 639-3 code (already validated).
        kernel: the family's edit proposal function.
        eligible: predicate on a cluster; None means every non-space cluster.
        clusters_per_edit: clusters one kernel edit changes on average.
        layout: reported in the result (keyboard noise).
        doc: a prebuilt :class:`Doc` of ``text``.

    Returns:
        A :class:`NoiseResult` whose edits are ordered, non-overlapping and replay to ``noisy``.
    """
    doc = doc or Doc(text, lang)
    n = len(doc.units)
    if level <= 0 or doc.n_ns == 0:
        return identity(text, layout)
    space = doc.space
    if eligible is None:
        p = level / clusters_per_edit
    else:
        n_ok = sum(1 for u, s in zip(doc.units, space, strict=True) if not s and eligible(u))
        if n_ok == 0:
            return identity(text, layout)
        p = min(1.0, level * doc.n_ns / (n_ok * clusters_per_edit))
    # One row of three uniforms per cluster, drawn whatever the level: this is what nests the levels.
    draws = rng.random(3 * n).tolist()
    units, starts = doc.units, doc.starts
    edits: list[Edit] = []
    last = 0  # clusters before `last` are already consumed by an edit
    for i in range(n):
        if draws[3 * i] >= p:
            continue
        a, b = draws[3 * i + 1], draws[3 * i + 2]
        if space[i] or i < last or (eligible is not None and not eligible(units[i])):
            continue
        proposal = kernel(doc, i, a, b)
        if proposal is None:
            continue
        op, gs, ge, new = proposal
        if gs < last:
            continue
        s, e = starts[gs], starts[ge]
        old = text[s:e]
        if new == old:
            continue
        edits.append(Edit(op, s, e, gs, ge, old, new))
        last = ge
    if not edits:
        return identity(text, layout)
    noisy = _assemble(text, edits)
    if doc.form and not unicodedata.is_normalized(doc.form, noisy):
        edits = _repair(doc, edits)
        noisy = _assemble(text, edits)
    return NoiseResult(text, noisy, tuple(edits), cer(text, noisy, units, doc.n_ns), layout)


def _assemble(text: str, edits: list[Edit]) -> str:
    """The noisy text (same as ``replay`` without its checks, which the driver guarantees)."""
    out, pos = [], 0
    for e in edits:
        out.append(text[pos : e.start])
        out.append(e.new)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def _repair(doc: Doc, edits: list[Edit]) -> list[Edit]:
    """Drop the edits that break the input's normal form (rare: Hangul jamo, composing starters)."""
    kept: list[Edit] = []
    for e in edits:
        trial = [*kept, e]
        if unicodedata.is_normalized(doc.form, _assemble(doc.text, trial)):
            kept = trial
    return kept
