"""``substitute`` over a whole batch: the same results as :func:`core.noise.engine.run_batch`, faster.

Clusters of every text come from :class:`core.noise.segment.Batch` (numpy, no per-text regex scan), the
selection uniform of every cluster is one vectorised expression, and only selected clusters go through
Python. A selected letter of a script of its own (its word's script is then its own) is replaced through
a per-(language, normal form, cluster) table of the replacement each pool quantile gives, filled on
demand with the very functions the kernel calls; any other selected cluster (punctuation, digits,
symbols, marks without a base...) is handed to :func:`core.noise.substitute.substitute_kernel` itself.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right

import numpy as np
from rapidfuzz.distance import Levenshtein

from core.noise.engine import Doc, _repair, assemble, match_case
from core.noise.result import Edit, NoiseResult
from core.noise.rng import uniforms
from core.noise.segment import Batch
from core.noise.substitute import keep_invisibles, substitute_kernel
from core.noise.tables import pool
from core.noise.text import JOINING, NEUTRAL_SCRIPTS, cluster_kind, cluster_script, graphemes, normal_form

# Frozen slotted dataclasses set each field through object.__setattr__; the slot descriptors do the same
# (same objects, same equality and hash) at half the cost.
_EDIT_SET = tuple(Edit.__dict__[f].__set__ for f in ("op", "start", "end", "g_start", "g_end", "old", "new"))
_RES_SET = tuple(NoiseResult.__dict__[f].__set__ for f in ("text", "noisy", "edits", "cer", "layout"))
_new = object.__new__
_SUB = "substitute"
_UNSET = object()


def _edit(start: int, end: int, g: int, old: str, new: str) -> Edit:
    e = _new(Edit)
    s_op, s_start, s_end, s_gs, s_ge, s_old, s_new = _EDIT_SET
    s_op(e, _SUB)
    s_start(e, start)
    s_end(e, end)
    s_gs(e, g)
    s_ge(e, g + 1)
    s_old(e, old)
    s_new(e, new)
    return e


def _result(text: str, noisy: str, edits: tuple, cer: float) -> NoiseResult:
    r = _new(NoiseResult)
    s_text, s_noisy, s_edits, s_cer, s_layout = _RES_SET
    s_text(r, text)
    s_noisy(r, noisy)
    s_edits(r, edits)
    s_cer(r, cer)
    s_layout(r, None)
    return r


class _Plan:
    """Replacements of one letter ``old`` (of a script of its own) in one language and normal form:
    ``outs[j]`` is what the kernel gives when the draw lands on pool entry ``j`` (None: no edit)."""

    __slots__ = ("old", "form", "units", "cum", "last", "outs")

    def __init__(self, old: str, form: str | None, units: tuple[str, ...], cum: tuple[float, ...]):
        self.old, self.form, self.units, self.cum = old, form, units, cum
        self.last = len(units) - 1
        self.outs = [_UNSET] * len(units)

    def resolve(self, j: int) -> tuple[str, bool] | None:
        """(new, new is free of JOINING code points) for pool entry ``j`` (as Pool.draw + the kernel)."""
        old, units = self.old, self.units
        new = units[j]
        if new == old:
            if len(units) == 1:
                return None
            new = units[(j + 1) % len(units)]
        new = keep_invisibles(old, match_case(old, new))
        if self.form and not new.isascii():
            new = unicodedata.normalize(self.form, new)
        out = None if new == old else (new, JOINING.isdisjoint(new))
        self.outs[j] = out
        return out


_PLANS: dict[tuple[str, str | None, str], _Plan | None] = {}


def _plan(lang: str, form: str | None, old: str) -> _Plan | None:
    key = (lang, form, old)
    try:
        return _PLANS[key]
    except KeyError:
        pass
    plan = None
    if cluster_kind(old) == "letter":
        sc = cluster_script(old)
        if sc not in NEUTRAL_SCRIPTS:
            cand = pool(lang, sc, "letter")
            plan = _Plan(old, form, cand.units, cand.cum) if cand is not None else False
    if len(_PLANS) > 200_000:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def _doc(lists: tuple, q: int, text: str, lang: str, form: str | None) -> Doc:
    """The :class:`Doc` of text ``q`` from the batch's clusters (no second segmentation)."""
    start, end, visible, first, count, offsets, n_ns = lists
    f, o = first[q], offsets[q]
    c = f + count[q]
    units = [text[s - o : e - o] for s, e in zip(start[f:c], end[f:c], strict=True)]
    d = _new(Doc)
    d.text, d.units, d.lang, d.form, d.n_ns = text, units, lang, form, n_ns[q]
    d.starts = [s - o for s in start[f:c]] + [len(text)]
    d.space = [not v for v in visible[f:c]]
    return d


def _units(lists: tuple, q: int, text: str) -> list[str]:
    """The clusters of text ``q`` (what :func:`_doc` puts in ``units``)."""
    start, end, _, first, count, offsets, _ = lists
    f, o = first[q], offsets[q]
    c = f + count[q]
    return [text[s - o : e - o] for s, e in zip(start[f:c], end[f:c], strict=True)]


class _Lists:
    """The batch's per-cluster arrays as Python lists, made on first use (for :func:`_doc`)."""

    def __init__(self, b: Batch, vis: np.ndarray, n_ns: list[int]):
        self.b, self.vis, self.n_ns, self.value = b, vis, n_ns, None

    def get(self) -> tuple:
        if self.value is None:
            b = self.b
            self.value = (
                b.start.tolist(),
                b.end.tolist(),
                self.vis.tolist(),
                b.first.tolist(),
                b.count.tolist(),
                b.offsets.tolist(),
                self.n_ns,
            )
        return self.value


def substitute_batch(
    texts: list[str], levels: list[float], keys: list[int], langs: list[str]
) -> list[NoiseResult]:
    """``run_batch(texts, levels, keys, langs, substitute.FAMILY)``, exactly, faster."""
    n = len(texts)
    if n == 0:
        return []
    b = Batch(texts)
    vis = b.visible()
    owner = b.owner
    key_arr = np.array(keys, dtype=np.uint64)[owner]
    counter = b.index.astype(np.uint64) * np.uint64(3)
    sel = uniforms(key_arr, counter)
    hit = np.flatnonzero(vis & (sel < np.array(levels, dtype=np.float64)[owner]))
    a_list = uniforms(key_arr[hit], counter[hit] + np.uint64(1)).tolist()
    h_owner = owner[hit].tolist()
    h_index = b.index[hit].tolist()
    h_start = (b.start[hit] - b.offsets[owner[hit]]).tolist()
    h_end = (b.end[hit] - b.offsets[owner[hit]]).tolist()
    simple = b.simple().tolist()
    n_ns = np.bincount(owner, weights=vis, minlength=n).astype(np.int64).tolist()
    out: list[NoiseResult | None] = [None] * n
    lists = _Lists(b, vis, n_ns)
    plans, get_plan = _PLANS, _plan
    m = len(h_owner)
    k = 0
    while k < m:
        q = h_owner[k]
        text, lang = texts[q], langs[q]
        form = "NFC" if text.isascii() else normal_form(text)
        doc = None
        edits = []
        noisy_simple = simple[q]
        while k < m and h_owner[k] == q:
            s, e, i = h_start[k], h_end[k], h_index[k]
            old = text[s:e]
            plan = plans.get((lang, form, old), _UNSET)
            if plan is _UNSET:
                plan = get_plan(lang, form, old)
            if plan:
                a = a_list[k]
                j = bisect_right(plan.cum, a)
                if j > plan.last:
                    j = plan.last
                got = plan.outs[j]
                if got is _UNSET:
                    got = plan.resolve(j)
                if got is not None:
                    new, new_simple = got
                    edits.append(_edit(s, e, i, old, new))
                    if not new_simple:
                        noisy_simple = False
            elif plan is None:
                if doc is None:
                    doc = _doc(lists.get(), q, text, lang, form)
                proposal = substitute_kernel(doc, i, a_list[k], 0.0)
                if proposal is not None and proposal[3] != old:
                    new = proposal[3]
                    edits.append(_edit(s, e, i, old, new))
                    if not JOINING.isdisjoint(new):
                        noisy_simple = False
            k += 1
        if not edits:
            continue
        noisy = assemble(text, edits)
        if form and not unicodedata.is_normalized(form, noisy):
            if doc is None:
                doc = _doc(lists.get(), q, text, lang, form)
            edits = _repair(doc, edits)
            out[q] = _finish_slow(doc, edits)
            continue
        if noisy == text:
            out[q] = _result(text, noisy, tuple(edits), 0.0)
            continue
        if noisy_simple and simple[q]:
            dist = Levenshtein.distance(text, noisy)
        else:
            units = doc.units if doc is not None else _units(lists.get(), q, text)
            dist = Levenshtein.distance(units, graphemes(noisy))
        out[q] = _result(text, noisy, tuple(edits), dist / max(1, n_ns[q]))
    for q in range(n):
        if out[q] is None:
            t = texts[q]
            out[q] = _result(t, t, (), 0.0)
    return out


def _finish_slow(doc: Doc, edits: list[Edit]) -> NoiseResult:
    """The end of :func:`core.noise.engine.finish` after a normal-form repair."""
    from core.noise.text import cer

    text = doc.text
    noisy = assemble(text, edits)
    return NoiseResult(text, noisy, tuple(edits), cer(text, noisy, doc.units, doc.n_ns), None)
