"""``substitute`` over a whole batch: the same results as :func:`core.noise.engine.run_batch`, faster.

Everything is done by column, over all texts at once: clusters come from :class:`core.noise.segment.Batch`
(numpy, no per-text regex scan), the selection uniform of every cluster is one vectorised expression, the
noisy texts are cut out of one joined string, and the result is a :class:`NoiseBatch` (no object per text
or edit). A selected letter of a script of its own (its word's script is then its own) is replaced through
a *plan* per (language, normal form, cluster): the pool it draws from (one ``searchsorted`` per pool for
the whole batch) and a table of the replacement each pool entry gives, filled on demand with the very
functions the kernel calls. Any other selected cluster (punctuation, digits, symbols, marks without a
base...) is handed to :func:`core.noise.substitute.substitute_kernel` itself.
"""

from __future__ import annotations

import unicodedata
from itertools import repeat

import numpy as np
from rapidfuzz.distance import Levenshtein

from core.noise.engine import Doc, _repair, assemble, match_case
from core.noise.result import Edit, NoiseBatch
from core.noise.rng import uniforms
from core.noise.segment import Batch
from core.noise.substitute import keep_invisibles, substitute_kernel
from core.noise.tables import pool
from core.noise.text import JOINING, NEUTRAL_SCRIPTS, cluster_kind, cluster_script, graphemes, normal_form

_KERNEL, _NO_EDIT = 0, 1  # plan ids of clusters the kernel handles, and of letters without a pool
_UNSET = object()


class _Plan:
    """Replacements of one letter ``old`` (of a script of its own) in one language and normal form."""

    __slots__ = ("old", "form", "units")

    def __init__(self, old: str, form: str | None, units: tuple[str, ...]):
        self.old, self.form, self.units = old, form, units

    def resolve(self, j: int) -> str | None:
        """What the kernel gives when the draw lands on pool entry ``j`` (as Pool.draw); None: no edit."""
        old, units = self.old, self.units
        new = units[j]
        if new == old:
            if len(units) == 1:
                return None
            new = units[(j + 1) % len(units)]
        new = keep_invisibles(old, match_case(old, new))
        if self.form and not new.isascii():
            new = unicodedata.normalize(self.form, new)
        return None if new == old else new


# Plans live across calls (the precompute noises the same languages again and again): plan ids by
# (lang, form, cluster), the plans, each plan's pool index, the pools' cumulative weights, and the
# replacement of (plan id << 32 | pool entry).
_PLAN_ID: dict[tuple[str, str | None, str], int] = {}
_PLANS: list[_Plan | None] = [None, None]
_POOL_OF: list[int] = [-1, -1]
_PLAN_POOL = np.array(_POOL_OF, np.int64)  # _POOL_OF as an array, refreshed when plans were added
_POOL_ID: dict[tuple[str, str], int] = {}
_POOL_CUM: list[np.ndarray] = []
_OUTS: dict[int, str | None] = {}


def _clear_plans() -> None:
    global _PLAN_POOL
    _PLAN_ID.clear(), _POOL_ID.clear(), _POOL_CUM.clear(), _OUTS.clear()
    del _PLANS[2:], _POOL_OF[2:]
    _PLAN_POOL = _PLAN_POOL[:2]


def _plan_id(lang: str, form: str | None, old: str) -> int:
    """Create the plan of cluster ``old`` (a kernel one when it is not a letter of a script of its own)."""
    pid = _KERNEL
    if cluster_kind(old) == "letter":
        sc = cluster_script(old)
        if sc not in NEUTRAL_SCRIPTS:
            pid = _NO_EDIT
            cand = pool(lang, sc, "letter")
            if cand is not None:
                if (lang, sc) not in _POOL_ID:
                    _POOL_ID[lang, sc] = len(_POOL_CUM)
                    _POOL_CUM.append(np.array(cand.cum))
                pid = len(_PLANS)
                _PLANS.append(_Plan(old, form, cand.units))
                _POOL_OF.append(_POOL_ID[lang, sc])
    _PLAN_ID[lang, form, old] = pid
    return pid


class _Lazy:
    """``f(j)`` for ``j`` in ``range(n)``, made on access: a :class:`Doc`'s units or blank flags without
    slicing every cluster of the text (the kernel looks at a few neighbours only)."""

    __slots__ = ("f", "n")

    def __init__(self, f, n: int):
        self.f, self.n = f, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, j: int):
        return self.f(j)


def _doc(b: Batch, vis: np.ndarray, q: int, text: str, lang: str, form: str | None) -> Doc:
    """The :class:`Doc` of text ``q`` as the kernel reads it, from the batch's clusters."""
    f, joined, start, end = int(b.first[q]), b.joined, b.start, b.end
    d = object.__new__(Doc)
    d.text, d.lang, d.form = text, lang, form
    d.units = _Lazy(lambda j: joined[start[f + j] : end[f + j]], int(b.count[q]))
    d.space = _Lazy(lambda j: not vis[f + j], d.units.n)
    return d


def substitute_batch(texts: list[str], levels: list[float], keys: np.ndarray, langs: list[str]) -> NoiseBatch:
    """``run_batch(texts, levels, keys, langs, substitute.FAMILY)``, exactly (same items), faster."""
    n = len(texts)
    if len(_PLAN_ID) > 200_000:
        _clear_plans()
    b = Batch(texts)
    joined, owner, offsets = b.joined, b.owner, b.offsets
    vis = b.visible()
    key_arr = np.asarray(keys, np.uint64)[owner]
    counter = b.index.astype(np.uint64) * np.uint64(3)
    sel = uniforms(key_arr, counter)
    hit = np.flatnonzero(vis & (sel < np.array(levels, np.float64)[owner]))
    a = uniforms(key_arr[hit], counter[hit] + np.uint64(1))
    h_q, h_s, h_e = owner[hit], b.start[hit], b.end[hit]
    olds = list(map(joined.__getitem__, map(slice, h_s.tolist(), h_e.tolist())))
    forms = _forms(texts, joined)
    form_of = (lambda q: "NFC") if forms is None else forms.__getitem__
    h_lang = np.array(langs, object)[h_q].tolist()
    h_form = repeat("NFC") if forms is None else np.array(forms, object)[h_q].tolist()
    keys3 = list(zip(h_lang, h_form, olds))
    ids = list(map(_PLAN_ID.get, keys3))
    if None in ids:
        ids = [_plan_id(*k) if pid is None else pid for k, pid in zip(keys3, ids, strict=True)]
    global _PLAN_POOL
    if len(_PLAN_POOL) < len(_POOL_OF):
        _PLAN_POOL = np.array(_POOL_OF, np.int64)
    ids_arr = np.array(ids, np.int64)
    news = np.full(len(ids), None, object)

    # Letters: one searchsorted per pool, then each (plan, entry)'s replacement.
    drawn = np.flatnonzero(ids_arr > _NO_EDIT)
    if len(drawn):
        pools = _PLAN_POOL[ids_arr[drawn]]
        order = np.argsort(pools, kind="stable")
        cut = np.flatnonzero(np.diff(pools[order])) + 1
        entry = np.empty(len(drawn), np.int64)
        for g in np.split(order, cut):
            cum = _POOL_CUM[pools[g[0]]]
            entry[g] = np.minimum(np.searchsorted(cum, a[drawn[g]], "right"), len(cum) - 1)
        out_keys = ((ids_arr[drawn] << 32) | entry).tolist()
        outs = list(map(_OUTS.get, out_keys, repeat(_UNSET)))
        if _UNSET in outs:
            for k, ok in enumerate(out_keys):
                if outs[k] is _UNSET:
                    outs[k] = _OUTS[ok] = _PLANS[ok >> 32].resolve(ok & 0xFFFFFFFF)
        news[drawn] = outs

    # Any other cluster: the kernel, on a Doc of its text.
    kernel = np.flatnonzero(ids_arr == _KERNEL).tolist()
    if kernel:
        docs: dict[int, Doc] = {}
        index = b.index[hit]
        for k in kernel:
            q = int(h_q[k])
            doc = docs.get(q)
            if doc is None:
                doc = docs[q] = _doc(b, vis, q, texts[q], langs[q], form_of(q))
            proposal = substitute_kernel(doc, int(index[k]), float(a[k]), 0.0)
            if proposal is not None and proposal[3] != olds[k]:
                news[k] = proposal[3]

    edited = np.flatnonzero(np.not_equal(news, None))
    e_q, e_s, e_e = h_q[edited], h_s[edited], h_e[edited]
    e_old = [olds[k] for k in edited.tolist()]
    e_new = news[edited].tolist()
    noisy = _assemble_all(b, texts, e_q, e_s, e_e, e_new)

    # Rare: an edit that breaks the text's normal form (Hangul jamo, composing starters) is dropped.
    done = np.unique(e_q).tolist()
    done_forms = repeat("NFC") if forms is None else [forms[q] or "NFC" for q in done]
    normal = map(unicodedata.is_normalized, done_forms, [noisy[q] for q in done])
    broken = [q for q, ok in zip(done, normal) if not ok and form_of(q)]
    if broken:
        keep = np.ones(len(edited), bool)
        lows = np.searchsorted(e_q, broken, "left").tolist()
        highs = np.searchsorted(e_q, broken, "right").tolist()
        for q, lo, hi in zip(broken, lows, highs, strict=True):
            o = int(offsets[q])
            edits = [
                Edit("substitute", int(e_s[k]) - o, int(e_e[k]) - o, 0, 0, e_old[k], e_new[k])
                for k in range(lo, hi)
            ]
            kept = _repair(texts[q], form_of(q), edits)
            keep[lo:hi] = [e in kept for e in edits]
            noisy[q] = assemble(texts[q], kept)
        edited, e_q, e_s, e_e = edited[keep], e_q[keep], e_s[keep], e_e[keep]
        e_old = [x for x, k in zip(e_old, keep.tolist(), strict=True) if k]
        e_new = [x for x, k in zip(e_new, keep.tolist(), strict=True) if k]
        done = np.unique(e_q).tolist()

    n_ns = np.bincount(owner, weights=vis, minlength=n).astype(np.int64)
    cer = _cer(b, texts, noisy, done, e_q, e_new, n_ns)
    starts = (e_s - offsets[e_q]).tolist()
    ends = (e_e - offsets[e_q]).tolist()
    g = b.index[hit][edited]
    bounds = np.concatenate(([0], np.cumsum(np.bincount(e_q, minlength=n)))).tolist()
    columns = (["substitute"] * len(starts), starts, ends, g.tolist(), (g + 1).tolist(), e_old, e_new)
    return NoiseBatch(list(texts), noisy, cer, [None] * n, columns, bounds)


def _forms(texts: list[str], joined: str) -> list[str | None] | None:
    """:func:`normal_form` of every text; None when all are NFC (the usual case, found in one check:
    a NUL never composes, so the joined texts are NFC exactly when each text is)."""
    if unicodedata.is_normalized("NFC", joined):
        return None
    nfc = map(unicodedata.is_normalized, repeat("NFC"), texts)
    return ["NFC" if ok else normal_form(t) for ok, t in zip(nfc, texts, strict=True)]


def _assemble_all(b: Batch, texts: list[str], e_q, e_s, e_e, e_new: list[str]) -> list[str]:
    """The noisy texts: the joined texts with every edit applied (one join), cut back into texts."""
    joined, n = b.joined, len(texts)
    gaps = list(map(joined.__getitem__, map(slice, [0, *e_e.tolist()], [*e_s.tolist(), len(joined)])))
    pieces = [""] * (2 * len(e_new) + 1)
    pieces[0::2], pieces[1::2] = gaps, e_new
    out = "".join(pieces)
    delta = np.fromiter(map(len, e_new), np.int64, len(e_new)) - (e_e - e_s)
    per_text = np.bincount(e_q, weights=delta, minlength=n).astype(np.int64)
    start = b.offsets + np.cumsum(per_text) - per_text
    end = start + np.fromiter(map(len, texts), np.int64, n) + per_text
    return list(map(out.__getitem__, map(slice, start.tolist(), end.tolist())))


def _cer(b: Batch, texts: list[str], noisy: list[str], done: list[int], e_q, e_new, n_ns) -> list[float]:
    """:func:`core.noise.text.cer` of every text (0.0 for those left unchanged), by column.

    A pair of simple texts (one cluster per code point) is compared as strings; any other pair as strings
    of *cluster symbols*, one code point per cluster (see :func:`_symbols`), so the distance is always
    Levenshtein's over clusters, computed in C."""
    cer = [0.0] * len(texts)
    done = [q for q in done if texts[q] != noisy[q]]
    if not done:
        return cer
    new_simple = np.fromiter(map(JOINING.isdisjoint, e_new), bool, len(e_new))
    simple = b.simple() & (np.bincount(e_q, weights=~new_simple, minlength=len(texts)) == 0)
    done_arr = np.array(done, np.int64)
    plain = simple[done_arr].tolist()
    pairs = [(texts[q], noisy[q]) if p else None for q, p in zip(done, plain, strict=True)]
    other = [q for q, p in zip(done, plain, strict=True) if not p]
    if other:
        mask = np.zeros(len(texts), bool)
        mask[other] = True
        nb = Batch([noisy[q] for q in other])
        sides = [
            (b.cps, b.start[mask[b.owner]], b.end[mask[b.owner]], b.count[other]),
            (nb.cps, nb.start, nb.end, nb.count),
        ]
        syms = _symbols(sides)
        if syms is None:  # more distinct clusters than spare code points: a cluster list per text
            syms = [[graphemes(texts[q]) for q in other], [graphemes(noisy[q]) for q in other]]
        it = iter(zip(*syms, strict=True))
        pairs = [p or next(it) for p in pairs]
    dist = np.array(list(map(Levenshtein.distance, *zip(*pairs, strict=True))), np.int64)
    for q, c in zip(done, (dist / np.maximum(1, n_ns[done_arr])).tolist(), strict=True):
        cer[q] = c
    return cer


# Code points no text should hold (planes 4 to 13 are unassigned; 15 and 16 are private use): symbols
# of multi-code-point clusters, unless a text holds them.
_SPARE = np.r_[0x40000:0xE0000, 0xF0000:0x110000].astype(np.uint32)


def _symbols(sides: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> list[list[str]] | None:
    """For each side ``(code points, cluster starts, cluster ends, clusters per text)``, one string per
    text with one code point per cluster: a single-code-point cluster stands for itself, and equal
    clusters of several code points (on any side) get the same spare code point, distinct ones distinct
    ones, so Levenshtein over these strings is Levenshtein over clusters. None when spares run out."""
    base = np.cumsum([0] + [len(cps) for cps, _, _, _ in sides])
    cps = np.concatenate([cps for cps, _, _, _ in sides])
    start = np.concatenate([s + o for (_, s, _, _), o in zip(sides, base.tolist(), strict=False)])
    end = np.concatenate([e + o for (_, _, e, _), o in zip(sides, base.tolist(), strict=False)])
    sym = cps[start]
    length = end - start
    multi = np.flatnonzero(length > 1)
    spare = _SPARE
    if len(multi) and (cps >= spare[0]).any():
        spare = np.setdiff1d(spare, cps)
    used = 0
    for n in np.unique(length[multi]).tolist():
        group = multi[length[multi] == n]
        rows = cps[start[group, None] + np.arange(n)].astype(np.uint64)
        # Equal clusters get equal ids, exactly: three 21-bit code points per uint64, chunk by chunk.
        ids = np.zeros(len(group), np.int64)
        for c in range(0, n, 3):
            key = np.zeros(len(group), np.uint64)
            for j in range(c, min(c + 3, n)):
                key |= rows[:, j] << np.uint64(21 * (j - c))
            part = np.unique(key, return_inverse=True)[1].reshape(-1)
            ids = np.unique(ids * len(group) + part, return_inverse=True)[1].reshape(-1)
        top = int(ids.max()) + 1
        if used + top > len(spare):
            return None
        sym[group] = spare[used + ids]
        used += top
    text = sym.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
    out, k = [], 0
    for _, _, _, count in sides:
        bounds = np.cumsum(np.concatenate(([k], count))).tolist()
        out.append(list(map(text.__getitem__, map(slice, bounds[:-1], bounds[1:]))))
        k = bounds[-1]
    return out
