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
from dataclasses import dataclass

import numpy as np

from core.noise.result import Edit, NoiseResult
from core.noise.rng import uniforms
from core.noise.text import (
    NEUTRAL_SCRIPTS,
    blank_flags,
    cer,
    char_script,
    cluster_script,
    cluster_starts,
    graphemes,
    normal_form,
)


class Doc:
    """A text cut into grapheme clusters, with what kernels need to know about it.

    ``space[i]`` is True for *blank* clusters (whitespace, or invisible code points only: ZWSP, ZWNJ,
    joiners...; see :func:`core.noise.text.is_blank`): no family edits them, and ``n_ns`` counts the others.
    """

    __slots__ = ("text", "units", "starts", "space", "lang", "form", "n_ns")

    def __init__(self, text: str, lang: str):
        self.text = text
        self.units = graphemes(text)
        # Simple texts have one code point per cluster, so offsets are indices (no accumulate needed).
        self.starts = range(len(text) + 1) if len(self.units) == len(text) else cluster_starts(self.units)
        self.space = blank_flags(self.units, text)
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

    def word_script(self, i: int) -> str:
        """Script of cluster ``i``, else of the nearest cluster of its *word* (the run of non-blank
        clusters around it) with a script of its own; ``Zyyy`` when the word has none (``"3,5"``).

        Edits never look past the word: a comma between two Latin words of a Hebrew text is not Hebrew.
        """
        units, space, n = self.units, self.space, len(self.units)
        sc = cluster_script(units[i])
        if sc not in NEUTRAL_SCRIPTS:
            return sc
        lo, hi, go_left, go_right = i - 1, i + 1, True, True
        while go_left or go_right:
            for j, go in ((lo, go_left), (hi, go_right)):
                if go and 0 <= j < n and not space[j]:
                    sc = cluster_script(units[j])
                    if sc not in NEUTRAL_SCRIPTS:
                        return sc
            go_left = go_left and lo >= 0 and not space[lo]
            go_right = go_right and hi < n and not space[hi]
            lo, hi = lo - 1, hi + 1
        return "Zyyy"

    def word_scripts(self, i: int) -> frozenset[str]:
        """Scripts (not Common/Inherited) of the word around cluster ``i`` (see :meth:`word_script`)."""
        units, space, n = self.units, self.space, len(self.units)
        lo = hi = i
        while lo > 0 and not space[lo - 1]:
            lo -= 1
        while hi + 1 < n and not space[hi + 1]:
            hi += 1
        return frozenset(char_script(ch) for u in units[lo : hi + 1] for ch in u) - NEUTRAL_SCRIPTS


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


@dataclass(frozen=True, slots=True)
class Family:
    """How a noise family runs: its kernel and selection rule (see :func:`run`)."""

    kernel: Kernel
    eligible: Callable[[str], bool] | None = None
    clusters_per_edit: float = 1.0
    layout: Callable[[Doc], str] | None = None


def probability(doc: Doc, level: float, fam: Family) -> float:
    """Selection probability of each non-blank cluster of ``doc`` (0 when nothing can be edited).

    ``level / clusters_per_edit``; when only ``eligible`` clusters can be edited, scaled by
    ``non-blank / eligible`` and capped at 1, so the expected fraction of non-blank clusters edited stays
    ``level`` wherever the text allows it.
    """
    if level <= 0 or doc.n_ns == 0:
        return 0.0
    if fam.eligible is None:
        return level / fam.clusters_per_edit
    ok = fam.eligible
    n_ok = sum(1 for u, s in zip(doc.units, doc.space, strict=True) if not s and ok(u))
    return 0.0 if n_ok == 0 else min(1.0, level * doc.n_ns / (n_ok * fam.clusters_per_edit))


def run(
    text: str,
    level: float,
    rng,
    lang: str,
    kernel: Kernel,
    *,
    eligible: Callable[[str], bool] | None = None,
    clusters_per_edit: float = 1.0,
    layout: str | None = None,
    doc: Doc | None = None,
) -> NoiseResult:
    """Noise ``text`` by calling ``kernel`` on randomly selected non-blank clusters.

    Each non-blank cluster is selected with probability :func:`probability`. The generator gives one
    row of three uniforms per cluster (select, a, b), drawn whatever the level: the clusters selected at
    level 0.1 are also selected at 0.2, with the same replacements (levels nest).

    Args:
        text: input text.
        level: expected fraction of non-blank clusters edited, in [0, 1].
        rng: the query's generator (:func:`core.noise.rng.noise_rng`), or any object with
            ``random(n) -> array`` such as a ``numpy.random.Generator``.
        lang: ISO 639-3 code (already validated).
        kernel: the family's edit proposal function.
        eligible: predicate on a cluster; None means every non-blank cluster.
        clusters_per_edit: clusters one kernel edit changes on average.
        layout: reported in the result (keyboard noise).
        doc: a prebuilt :class:`Doc` of ``text``.

    Returns:
        A :class:`NoiseResult` whose edits are ordered, non-overlapping and replay to ``noisy``.
    """
    doc = doc or Doc(text, lang)
    fam = Family(kernel, eligible, clusters_per_edit)
    p = probability(doc, level, fam)
    if p <= 0:
        return identity(text, layout)
    n = len(doc.units)
    draws = rng.random(3 * n).tolist()
    picks = [(i, draws[3 * i + 1], draws[3 * i + 2]) for i in range(n) if draws[3 * i] < p]
    return finish(doc, picks, fam, layout)


def run_batch(
    texts: list[str], levels: list[float], keys: list[int], langs: list[str], fam: Family
) -> list[NoiseResult]:
    """:func:`run` over many texts at once, each with the counter stream of its key.

    Gives exactly what ``run(text, level, QueryRNG(key), lang, ...)`` gives for each text, but computes
    the selection uniforms of every cluster of every text in one vectorised expression and the other
    two uniforms only for selected clusters.
    """
    docs = [Doc(t, lang) for t, lang in zip(texts, langs, strict=True)]
    ps = [probability(d, lv, fam) for d, lv in zip(docs, levels, strict=True)]
    sizes = np.fromiter((len(d.units) if p > 0 else 0 for d, p in zip(docs, ps)), np.int64, len(docs))
    total = int(sizes.sum())
    out: list[NoiseResult] = []
    if total == 0:
        return [identity(d.text, fam.layout(d) if fam.layout else None) for d in docs]
    owner = np.repeat(np.arange(len(docs)), sizes)
    first = np.cumsum(sizes) - sizes
    cluster = np.arange(total, dtype=np.int64) - first[owner]
    key_arr = np.array(keys, dtype=np.uint64)[owner]
    three = np.uint64(3)
    sel = uniforms(key_arr, cluster.astype(np.uint64) * three)
    hit = np.flatnonzero(sel < np.array(ps)[owner])
    c_hit = cluster[hit].astype(np.uint64) * three
    a = uniforms(key_arr[hit], c_hit + np.uint64(1)).tolist()
    b = uniforms(key_arr[hit], c_hit + np.uint64(2)).tolist()
    who, idx = owner[hit].tolist(), cluster[hit].tolist()
    k, m = 0, len(who)
    for q, d in enumerate(docs):
        layout = fam.layout(d) if fam.layout else None
        if ps[q] <= 0:
            out.append(identity(d.text, layout))
            continue
        picks = []
        while k < m and who[k] == q:
            picks.append((idx[k], a[k], b[k]))
            k += 1
        out.append(finish(d, picks, fam, layout))
    return out


def finish(doc: Doc, picks: list[tuple[int, float, float]], fam: Family, layout: str | None) -> NoiseResult:
    """Ask the kernel for an edit at each picked ``(cluster, a, b)`` (in order) and assemble the result."""
    if not picks:
        return identity(doc.text, layout)
    text, units, starts, space = doc.text, doc.units, doc.starts, doc.space
    kernel, eligible = fam.kernel, fam.eligible
    edits: list[Edit] = []
    last = 0  # clusters before `last` are already consumed by an edit
    for i, a, b in picks:
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
    noisy = assemble(text, edits)
    if doc.form and not unicodedata.is_normalized(doc.form, noisy):
        edits = _repair(text, doc.form, edits)
        noisy = assemble(text, edits)
    return NoiseResult(text, noisy, tuple(edits), cer(text, noisy, units, doc.n_ns), layout)


def assemble(text: str, edits: list[Edit]) -> str:
    """The noisy text (same as ``replay`` without its checks, which the driver guarantees)."""
    out, pos = [], 0
    for e in edits:
        out.append(text[pos : e.start])
        out.append(e.new)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def _repair(text: str, form: str, edits: list[Edit]) -> list[Edit]:
    """Drop the edits that break ``text``'s normal form ``form`` (rare: Hangul jamo, composing starters)."""
    kept: list[Edit] = []
    for e in edits:
        trial = [*kept, e]
        if unicodedata.is_normalized(form, assemble(text, trial)):
            kept = trial
    return kept
