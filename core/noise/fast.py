"""``substitute`` over a whole batch: the same results as :func:`core.noise.engine.run_batch`, faster.

Everything is done by column, over all texts at once, so that per text and per edit only C loops run:

- clusters come from :class:`core.noise.segment.Batch` (numpy, no per-text regex scan), and the
  selection uniform of every cluster is one vectorised expression;
- each selected cluster gets a *plan*: the pool its replacement is drawn from and, per pool entry, the
  replacement the kernel would give (made on first use with the very functions the kernel calls, and
  kept across calls). Plans are found by number for clusters of up to three code points; punctuation
  and marks, whose pool depends on their word, find theirs through :func:`source_pool`; digits go
  through :func:`core.noise.substitute.substitute_kernel` itself. One ``searchsorted`` per pool draws;
- the noisy texts are assembled in code-point space and decoded once; the CER distances are one
  ``cpdist`` call over strings of one code point per cluster;
- the result is a :class:`NoiseBatch`, whose edit columns and edits JSON are made on first use.
"""

from __future__ import annotations

import unicodedata
from functools import partial
from json.encoder import encode_basestring
from operator import itemgetter

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist

from core.noise.engine import Doc, _repair, assemble, match_case
from core.noise.result import Edit, NoiseBatch
from core.noise.rng import uniforms
from core.noise.segment import Batch, code_points, counts_before, nfc_boundary_before
from core.noise.substitute import keep_invisibles, source_pool, substitute_kernel
from core.noise.tables import pool
from core.noise.text import JOINING, NEUTRAL_SCRIPTS, cluster_kind, cluster_script, graphemes, normal_form

_KERNEL, _NO_EDIT = 0, 1  # plan ids of clusters the kernel handles, and of clusters without a pool


class _Plan:
    """Replacements of cluster ``old`` drawn from one pool (``units``) in one normal form."""

    __slots__ = ("old", "form", "units", "letter")

    def __init__(self, old: str, form: str | None, units: tuple[str, ...], letter: bool):
        self.old, self.form, self.units, self.letter = old, form, units, letter

    def resolve(self, j: int) -> str | None:
        """What the kernel gives when the draw lands on pool entry ``j`` (as Pool.draw); None: no edit."""
        old, units = self.old, self.units
        new = units[j]
        if new == old:
            if len(units) == 1:
                return None
            new = units[(j + 1) % len(units)]
        new = keep_invisibles(old, match_case(old, new) if self.letter else new)
        if self.form and not new.isascii():
            new = unicodedata.normalize(self.form, new)
        return None if new == old else new


class _IntMap:
    """A dict from int to int with a vectorised lookup (sorted arrays, rebuilt after additions)."""

    __slots__ = ("d", "keys", "vals")

    def __init__(self):
        self.d: dict[int, int] = {}
        self.keys = self.vals = np.empty(0, np.int64)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key; -1 for keys not in the map."""
        if len(self.keys) != len(self.d):
            k = np.fromiter(self.d.keys(), np.int64, len(self.d))
            order = np.argsort(k)
            self.keys, self.vals = k[order], np.fromiter(self.d.values(), np.int64, len(self.d))[order]
        if not len(self.keys):
            return np.full(len(keys), -1, np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, self.vals[pos], -1)


class _Store:
    """Plans and what they give, kept across calls (the precompute noises the same languages again and
    again): plan ids by (lang, form, cluster) for letters of a script of their own, by (pool, form,
    cluster) for the others, and by number (language and form, cluster number) for clusters of up to
    three code points; each plan's pool; and the replacement (out) of each (plan, pool entry), out 0
    being none."""

    def __init__(self):
        self.ids: dict[tuple, int] = {}
        self.numbers = _IntMap()  # three code points packed -> 0x110000 + n, for clusters of 2 or 3
        self.by_number = _IntMap()  # context << 32 | cluster number -> plan id
        self.by_left: dict[tuple | None, int] = {}  # (context, cluster, left neighbour) -> plan id
        self.contexts: dict[str | tuple[str, str | None], int] = {}  # lang (NFC) or (lang, form)
        self.plans: list[_Plan | None] = [None, None]
        self.plan_pool: list[int] = [-1, -1]
        self.pools: dict[tuple[str, str, str], int] = {}
        self.cums: list[np.ndarray] = []
        self.outs = _IntMap()  # plan id << 32 | pool entry -> out
        self.new: list[str | None] = [None]
        self.tail: list[str | None] = [None]  # the out's edit JSON from its "old" value on
        self.pool_of = self.old = self.new_arr = self.new_len = self.new_simple = self.new_bound = np.empty(0)

    def plan(self, source: tuple[str, str, str], form: str | None, old: str) -> int:
        """A new plan: ``old`` replaced by a draw from ``pool(*source)`` (_NO_EDIT when there is none)."""
        cand = pool(*source)
        if cand is None:
            return _NO_EDIT
        if source not in self.pools:
            self.pools[source] = len(self.cums)
            self.cums.append(np.array(cand.cum))
        self.plans.append(_Plan(old, form, cand.units, source[2] == "letter"))
        self.plan_pool.append(self.pools[source])
        return len(self.plans) - 1

    def letter_plan(self, lang: str, form: str | None, old: str) -> int:
        """The plan of ``old`` when it is a letter of a script of its own, else _KERNEL."""
        key = (lang, form, old)
        pid = self.ids.get(key)
        if pid is None:
            pid = _KERNEL
            if cluster_kind(old) == "letter":
                sc = cluster_script(old)
                if sc not in NEUTRAL_SCRIPTS:
                    pid = self.plan((lang, sc, "letter"), form, old)
            self.ids[key] = pid
        return pid

    def source_plan(self, source: tuple[str, str, str], form: str | None, old: str) -> int:
        """The plan of ``old`` drawn from ``pool(*source)`` (see :func:`source_pool`)."""
        key = (*source, form, old)
        pid = self.ids.get(key)
        if pid is None:
            pid = self.ids[key] = self.plan(source, form, old)
        return pid

    def context_ids(self, langs: list[str], forms: list[str | None] | None) -> np.ndarray:
        """A number per text for its (language, normal form)."""
        keys = langs if forms is None else [g if f == "NFC" else (g, f) for g, f in zip(langs, forms)]
        try:
            ids = list(map(self.contexts.__getitem__, keys))
        except KeyError:
            ids = [self.contexts.setdefault(k, len(self.contexts)) for k in keys]
        return np.array(ids, np.int64)

    def out_of(self, pids: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """The out of each (plan, pool entry), resolved on first use."""
        keys = (pids << 32) | entries
        outs = self.outs.get(keys)
        missing = outs < 0
        if missing.any():
            for key in set(keys[missing].tolist()):
                new = self.plans[key >> 32].resolve(key & 0xFFFFFFFF)
                self.outs.d[key] = 0 if new is None else len(self.new)
                if new is not None:
                    self.new.append(new)
                    self.tail.append(_tail(self.plans[key >> 32].old, new))
            outs = self.outs.get(keys)
        return outs

    def refresh(self) -> None:
        """Bring the per-plan and per-out arrays up to date."""
        if len(self.pool_of) != len(self.plans):
            self.pool_of = np.array(self.plan_pool, np.int64)
            self.old = np.array([None, None] + [x.old for x in self.plans[2:]], object)
        if len(self.new_arr) != len(self.new):
            self.new_arr, self.tail_arr = np.array(self.new, object), np.array(self.tail, object)
            self.new_len = np.array([0] + [len(x) for x in self.new[1:]], np.int64)
            self.new_simple = np.array([True] + [JOINING.isdisjoint(x) for x in self.new[1:]], bool)
            self.new_bound = nfc_boundary_before(np.array([0] + [ord(x[0]) for x in self.new[1:]], np.uint32))


_STORE = _Store()


def _doc(b: Batch, vis: np.ndarray, q: int, text: str, lang: str, form: str | None) -> Doc:
    """The :class:`Doc` of text ``q`` as the kernel reads it, from the batch's clusters (made on access:
    the kernel looks at a few neighbours only)."""
    f, joined, start, end = int(b.first[q]), b.joined, b.start, b.end
    d = object.__new__(Doc)
    d.text, d.lang, d.form = text, lang, form
    d.units = _Lazy(lambda j: joined[start[f + j] : end[f + j]], int(b.count[q]))
    d.space = _Lazy(lambda j: not vis[f + j], d.units.n)
    return d


class _Lazy:
    """``f(j)`` for ``j`` in ``range(n)``, made on access."""

    __slots__ = ("f", "n")

    def __init__(self, f, n: int):
        self.f, self.n = f, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, j: int):
        return self.f(j)


def substitute_batch(
    texts: list[str], levels: float | list[float], keys: np.ndarray, langs: list[str]
) -> NoiseBatch:
    """``run_batch(texts, levels, keys, langs, substitute.FAMILY)``, exactly (same items), faster;
    ``levels`` may be one level for every text."""
    global _STORE
    if len(_STORE.plans) > 200_000 or len(_STORE.by_left) > 200_000:
        _STORE = _Store()
    st = _STORE
    n = len(texts)
    b = Batch(texts)
    joined, owner, offsets = b.joined, b.owner, b.offsets
    vis = b.visible()
    key_arr = np.asarray(keys, np.uint64)[owner]
    counter = b.index.astype(np.uint64) * np.uint64(3)
    level = np.float64(levels) if isinstance(levels, float) else np.array(levels, np.float64)[owner]
    hit = np.flatnonzero(vis & (uniforms(key_arr, counter) < level))
    a = uniforms(key_arr[hit], counter[hit] + np.uint64(1))
    h_q, h_s, h_e, h_i = owner[hit], b.start[hit], b.end[hit], b.index[hit]
    forms = _forms(texts, b)
    form_of = (lambda q: "NFC") if forms is None else forms.__getitem__

    # The plan of each selected cluster: by number up to three code points (a code point stands for
    # itself, two or three get a number above them), else by string.
    ctx = st.context_ids(langs, forms)
    number = np.where(h_e - h_s == 1, b.cps[h_s].astype(np.int64), -1)
    few = np.flatnonzero((h_e - h_s == 2) | (h_e - h_s == 3))
    if len(few):
        key = _pack3(b.cps, h_s[few], h_e[few] - h_s[few])
        got = st.numbers.get(key)
        for k in np.unique(key[got < 0]).tolist():
            st.numbers.d[k] = 0x110000 + len(st.numbers.d)
        number[few] = st.numbers.get(key)
    pid = np.full(len(hit), -1, np.int64)
    known = np.flatnonzero(number >= 0)
    pid[known] = st.by_number.get(ctx[h_q[known]] << 32 | number[known])
    todo = np.flatnonzero(pid < 0)
    for k, q, s, e in zip(todo.tolist(), h_q[todo].tolist(), h_s[todo].tolist(), h_e[todo].tolist()):
        pid[k] = p = st.letter_plan(langs[q], form_of(q), joined[s:e])
        if number[k] >= 0:
            st.by_number.d[int(ctx[q]) << 32 | int(number[k])] = p

    # Clusters whose pool depends on their word (punctuation, marks...): a plan from their source_pool
    # (the left neighbour's script when it has one: word_script's first look); digits: the kernel.
    direct: dict[int, str] = {}
    kernel = np.flatnonzero(pid == _KERNEL)
    left = np.maximum(hit[kernel] - 1, 0)
    left_in_word = ((h_i[kernel] > 0) & vis[left]).tolist()
    docs: dict[int, Doc] = {}
    ctx_of = ctx.tolist()
    for k, q, i, s, e, lw, ls, le in zip(
        *(x.tolist() for x in (kernel, h_q[kernel], h_i[kernel], h_s[kernel], h_e[kernel])),
        left_in_word,
        b.start[left].tolist(),
        b.end[left].tolist(),
        strict=True,
    ):
        old = joined[s:e]
        near = (ctx_of[q], old, joined[ls:le]) if lw else None
        if near in st.by_left:
            pid[k] = st.by_left[near]
            continue
        kind = cluster_kind(old)
        if kind in ("letter", "punct", "symbol"):
            sc = cluster_script(near[2]) if near and cluster_script(old) in NEUTRAL_SCRIPTS else "Zyyy"
            if sc not in NEUTRAL_SCRIPTS:
                pid[k] = st.by_left[near] = st.source_plan((langs[q], sc, kind), form_of(q), old)
                continue
        doc = docs.get(q)
        if doc is None:
            doc = docs[q] = _doc(b, vis, q, texts[q], langs[q], form_of(q))
        if kind in ("letter", "punct", "symbol"):
            pid[k] = st.source_plan(source_pool(doc, i, kind), doc.form, old)
            continue
        proposal = substitute_kernel(doc, i, float(a[k]), 0.0)
        if proposal is not None and proposal[3] != old:
            direct[k] = proposal[3]
        pid[k] = _NO_EDIT

    # One searchsorted per pool, then the out of each (plan, entry).
    st.refresh()
    out = np.zeros(len(hit), np.int64)
    drawn = np.flatnonzero(pid > _NO_EDIT)
    if len(drawn):
        pools = st.pool_of[pid[drawn]]
        order = np.argsort(pools, kind="stable")
        entry = np.empty(len(drawn), np.int64)
        for g in np.split(order, np.flatnonzero(np.diff(pools[order])) + 1):
            cum = st.cums[pools[g[0]]]
            entry[g] = np.minimum(np.searchsorted(cum, a[drawn[g]], "right"), len(cum) - 1)
        out[drawn] = st.out_of(pid[drawn], entry)
        st.refresh()
    news, olds, tails = st.new_arr[out], st.old[pid], st.tail_arr[out]
    new_len, new_simple, new_bound = st.new_len[out], st.new_simple[out], st.new_bound[out]
    for k, new in direct.items():
        news[k] = new
        olds[k] = old = joined[h_s[k] : h_e[k]]
        new_len[k], new_simple[k], tails[k] = len(new), JOINING.isdisjoint(new), _tail(old, new)
        new_bound[k] = nfc_boundary_before(np.array([ord(new[0])], np.uint32))[0]
    is_edit = out > 0
    is_edit[list(direct)] = True
    edited = np.flatnonzero(is_edit)
    e_q, e_s, e_e = h_q[edited], h_s[edited], h_e[edited]
    e_old, e_new = olds[edited], news[edited].tolist()
    e_len, e_simple, e_tail = new_len[edited], new_simple[edited], tails[edited]
    noisy = _assemble_all(b, texts, e_q, e_s, e_e, e_new, e_len)

    # Rare: an edit that breaks the text's normal form (Hangul jamo, composing starters) is dropped.
    # NFC texts whose edits all start, end and are followed at NFC boundaries stay NFC (UAX #15): the
    # others are checked.
    done = _distinct(e_q)
    bound = new_bound[edited] & nfc_boundary_before(b.cps[e_s]) & nfc_boundary_before(b.cps[e_e])
    unsure = np.zeros(n, bool)
    unsure[e_q[~bound]] = True
    if forms is not None:
        unsure[[q for q in done if forms[q] != "NFC"]] = True
    ask = np.array(done, np.int64)[unsure[done]].tolist() if done else []
    broken = [q for q in ask if form_of(q) and not unicodedata.is_normalized(form_of(q), noisy[q])]
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
        edited, e_q, e_s, e_e, e_simple, e_tail = (x[keep] for x in (edited, e_q, e_s, e_e, e_simple, e_tail))
        e_old = e_old[keep]
        e_new = [x for x, k in zip(e_new, keep.tolist(), strict=True) if k]
        done = _distinct(e_q)

    seen = counts_before(vis)
    n_ns = seen[b.first + b.count] - seen[b.first]  # non-blank clusters per text
    # CER is computed on first use, from copies: a caller may change its lists before reading it.
    texts, noisy_now = list(texts), list(noisy)
    cer = partial(_cer, b, texts, noisy_now, done, e_q, e_simple, n_ns)
    starts, ends, g = e_s - offsets[e_q], e_e - offsets[e_q], h_i[edited]
    edits = partial(_edit_columns, n, e_q, starts, ends, g, e_old, e_new)
    json = partial(_edits_json, n, done, e_q, starts, ends, g, e_tail)
    return NoiseBatch(texts, noisy, cer, [None] * n, edits, json)


def _edit_columns(n: int, e_q, start, end, g, old: np.ndarray, new: list[str]) -> tuple:
    """:meth:`NoiseBatch.edit_columns` of substitute edits."""
    bounds = np.concatenate(([0], np.cumsum(np.bincount(e_q, minlength=n)))).tolist()
    columns = (
        ["substitute"] * len(g),
        start.tolist(),
        end.tolist(),
        g.tolist(),
        (g + 1).tolist(),
        old.tolist(),
        new,
    )
    return columns, bounds


def _tail(old: str, new: str) -> str:
    """The end of a substitute edit's JSON, from the value of ``old`` on."""
    return f'{encode_basestring(old)}, "new": {encode_basestring(new)}}}'


_HEADS: dict[int, str] = {}  # (start, end, g_start, first edit of its text) -> JSON up to "old"


def _edits_json(n: int, done: list[int], e_q, start, end, g, tails) -> list[str]:
    """:attr:`NoiseBatch.edits_json` of substitute edits, exactly: each edit's JSON is a head shared by
    every edit of the same span and its out's tail; all are joined once and split into texts."""
    out = ["[]"] * n
    if not len(e_q):
        return out
    lead = np.diff(e_q, prepend=-1) != 0
    if max(int(start.max()), int(end.max()), int(g.max())) < 1 << 20:
        keys = (start | end << 20 | g << 40 | lead.astype(np.int64) << 60).tolist()
    else:  # texts of a million code points or more: no shared heads
        keys = list(zip(start.tolist(), end.tolist(), g.tolist(), lead.tolist()))
    try:
        heads = list(map(_HEADS.__getitem__, keys))
    except KeyError:
        if len(_HEADS) > 100_000:
            _HEADS.clear()
        head = '{{"op": "substitute", "start": {}, "end": {}, "g_start": {}, "g_end": {}, "old": '
        for key, s, e, gs, first in zip(keys, start.tolist(), end.tolist(), g.tolist(), lead.tolist()):
            if key not in _HEADS:
                _HEADS[key] = ("]\x00[" if first else ", ") + head.format(s, e, gs, gs + 1)
        heads = list(map(_HEADS.__getitem__, keys))
    # Edits are in text order; a text's first edit opens its list and closes the previous text's.
    pieces = [""] * (2 * len(heads))
    pieces[0::2], pieces[1::2] = heads, tails.tolist()
    texts = "".join(pieces).split("\x00")
    texts[-1] += "]"
    for q, js in zip(done, texts[1:], strict=True):
        out[q] = js
    return out


def _take(items: list, idx: list[int]) -> list:
    """``[items[i] for i in idx]``, in one C call."""
    return list(itemgetter(*idx)(items)) if len(idx) > 1 else [items[i] for i in idx]


def _distinct(sorted_ints: np.ndarray) -> list[int]:
    """The distinct values of a sorted array."""
    return sorted_ints[np.flatnonzero(np.diff(sorted_ints, prepend=-1))].tolist()


def _forms(texts: list[str], b: Batch) -> list[str | None] | None:
    """:func:`normal_form` of every text; None when all are NFC (the usual case). Most texts are NFC
    by the quick check alone (:meth:`Batch.nfc`); unicodedata decides the others."""
    ask = np.flatnonzero(~b.nfc()).tolist()
    if not ask:
        return None
    forms: list[str | None] = ["NFC"] * len(texts)
    for q in ask:
        forms[q] = normal_form(texts[q])
    return forms


def _assemble_all(b: Batch, texts: list[str], e_q, e_s, e_e, e_new: list[str], e_len) -> list[str]:
    """The noisy texts: the code points of the joined texts with every edit applied, all at once (each
    kept code point moves by the length change of the edits before it; each edit's new code points go
    where its span started), decoded once and cut back into texts."""
    cps, size = b.cps, len(b.cps)
    new_cps = code_points("".join(e_new))
    delta = e_len - (e_e - e_s)
    inside = np.zeros(size, np.int8)
    inside[e_s] += 1
    inside[e_e[e_e < size]] -= 1
    kept = np.flatnonzero(counts_before(inside)[1:] == 0)
    shift = np.zeros(size + 1, np.int64)
    shift[e_e] = delta
    shift = np.cumsum(shift)  # shift[p]: length change of the edits ending at or before p
    out = np.empty(size + int(delta.sum()), np.uint32)
    out[kept + shift[kept]] = cps[kept]
    first = np.cumsum(e_len) - e_len
    out[np.repeat(e_s + shift[e_s] - first, e_len) + np.arange(len(new_cps))] = new_cps
    joined = out.tobytes().decode("utf-32-le", "surrogatepass")
    ends = b.offsets + np.diff(np.append(b.offsets, size)) - 1
    start, end = (b.offsets + shift[b.offsets]).tolist(), (ends + shift[ends]).tolist()
    return list(map(joined.__getitem__, map(slice, start, end)))


def _cer(b: Batch, texts: list[str], noisy: list[str], done: list[int], e_q, e_simple, n_ns) -> list[float]:
    """:func:`core.noise.text.cer` of every text (0.0 for those left unchanged), by column.

    A pair of simple texts (one cluster per code point) is compared as strings; any other pair as strings
    of *cluster symbols*, one code point per cluster (see :func:`_symbols`), so the distance is always
    Levenshtein's over clusters, computed in C."""
    cer = np.zeros(len(texts))
    if not done:
        return cer.tolist()
    simple = b.simple() & (np.bincount(e_q, weights=~e_simple, minlength=len(texts)) == 0)
    done_arr = np.array(done, np.int64)
    easy, hard = done_arr[simple[done_arr]].tolist(), done_arr[~simple[done_arr]].tolist()
    left, right = _take(texts, easy), _take(noisy, easy)
    if hard:
        # The clusters of the original texts (from b) and of their noisy texts (cut now), one source.
        nb = Batch(_take(noisy, hard))
        count = b.count[hard]
        mine = np.repeat(b.first[hard] - (np.cumsum(count) - count), count) + np.arange(count.sum())
        syms = _symbols(
            np.concatenate((b.cps, nb.cps)),
            np.concatenate((b.start[mine], nb.start + len(b.cps))),
            np.concatenate((b.end[mine], nb.end + len(b.cps))),
            np.concatenate((count, nb.count)),
        )
        if syms is None:  # a text holds a spare code point: a cluster list per text
            syms = [graphemes(texts[q]) for q in hard] + [graphemes(noisy[q]) for q in hard]
        left += syms[: len(hard)]
        right += syms[len(hard) :]
    order = easy + hard
    dist = cpdist(left, right, scorer=Levenshtein.distance, dtype=np.int64, workers=1)
    cer[order] = dist / np.maximum(1, n_ns[order])
    return cer.tolist()


# Code points no text should hold (planes 4 to 13 are unassigned; 15 and 16 are private use): symbols
# of multi-code-point clusters in :func:`_symbols`.
_SPARE = np.r_[0x40000:0xE0000, 0xF0000:0x110000].astype(np.uint32)


class _SymbolIds:
    """Which spare code point (index in ``_SPARE``) stands for which cluster of several code points,
    kept across calls: by number (three code points packed) up to three code points, by string above."""

    def __init__(self):
        self.packed, self.long, self.count = _IntMap(), {}, 0

    def new(self) -> int:
        self.count += 1
        return self.count - 1


_SYMBOL_IDS = _SymbolIds()


def _pack3(cps: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """One int64 per cluster of 2 or 3 code points, equal exactly for equal clusters: three 21-bit code
    points, zero after the end (a cluster of several code points holds no NUL)."""
    third = np.where(length == 3, cps[np.minimum(start + 2, len(cps) - 1)], 0).astype(np.int64)
    return cps[start].astype(np.int64) | cps[start + 1].astype(np.int64) << 21 | third << 42


def _symbols(cps: np.ndarray, start: np.ndarray, end: np.ndarray, count: np.ndarray) -> list[str] | None:
    """One string per text (``count[j]`` clusters ``[start, end)`` of ``cps`` each, in order) with one
    code point per cluster: a one-code-point cluster stands for itself, equal clusters of several code
    points get the same spare code point and distinct ones distinct ones, so Levenshtein over these
    strings is Levenshtein over clusters. None when a text holds a spare code point."""
    global _SYMBOL_IDS
    if cps.max() >= _SPARE[0]:
        return None
    sym = cps[start].astype(np.int64)
    length = end - start
    multi = np.flatnonzero(length > 1)
    if _SYMBOL_IDS.count + len(multi) > len(_SPARE):
        _SYMBOL_IDS = _SymbolIds()
    ids = _SYMBOL_IDS
    short = multi[length[multi] <= 3]
    key = _pack3(cps, start[short], length[short])
    got = ids.packed.get(key)
    if (got < 0).any():
        for k in np.unique(key[got < 0]).tolist():
            ids.packed.d[k] = ids.new()
        got = ids.packed.get(key)
    sym[short] = _SPARE[got]
    long = multi[length[multi] > 3]
    for c, s, e in zip(long.tolist(), start[long].tolist(), end[long].tolist(), strict=True):
        unit = cps[s:e].tobytes()
        sym[c] = _SPARE[ids.long[unit] if unit in ids.long else ids.long.setdefault(unit, ids.new())]
    text = sym.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
    bounds = np.concatenate(([0], np.cumsum(count))).tolist()
    return list(map(text.__getitem__, map(slice, bounds[:-1], bounds[1:])))
