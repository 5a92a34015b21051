"""Same-kind draws by column: the replacement (``substitute``) or the new neighbour (``insert``) of each
selected cluster, drawn from its pool (:func:`core.noise.tables.pool`) for a whole batch at once.

Each selected cluster gets a *plan*: the pool its draw comes from and, per pool entry, what the family's
rule gives (made on first use with the very functions the rule calls, :func:`same_kind`'s, and kept
across calls: the precompute noises the same languages again and again). Plans are found by number for
clusters of up to three code points; punctuation and marks, whose pool depends on their word, find
theirs through :func:`core.noise.substitute.source_pool`; digits go through the family's per-cluster
rule itself. One ``searchsorted`` per pool draws.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from core.noise.columns import IntMap, pack3
from core.noise.doc import match_case
from core.noise.engine import Kernel
from core.noise.hits import INSERT, SUBSTITUTE, Hits, Proposals
from core.noise.kinds import keep_invisibles, source_pool
from core.noise.tables import pool
from core.noise.text import NEUTRAL_SCRIPTS, cluster_kind, cluster_script

_KERNEL, _NO_EDIT = 0, 1  # plan ids of clusters the per-cluster rule handles, and of those without a pool


class _Plan:
    """What cluster ``old`` gives from one pool (``units``) in one normal form."""

    __slots__ = ("old", "form", "units", "letter", "replace")

    def __init__(self, old: str, form: str | None, units: tuple[str, ...], letter: bool, replace: bool):
        self.old, self.form, self.units, self.letter, self.replace = old, form, units, letter, replace

    def resolve(self, j: int) -> str | None:
        """The rule's result when the draw lands on pool entry ``j`` (as ``Pool.draw``); None: no edit.

        ``replace``: a substitute (never ``old`` itself: the next entry instead; trailing joiners kept);
        else an insert (the entry as it is)."""
        old, units = self.old, self.units
        new = units[j]
        if self.replace and new == old:
            if len(units) == 1:
                return None
            new = units[(j + 1) % len(units)]
        if self.letter:
            new = match_case(old, new)
        if self.replace:
            new = keep_invisibles(old, new)
        if self.form and not new.isascii():
            new = unicodedata.normalize(self.form, new)
        return None if self.replace and new == old else new


class Store:
    """Plans and what they give, kept across calls: plan ids by (lang, form, cluster) for letters of a
    script of their own, by (pool, form, cluster) for the others, and by number (context, cluster number)
    for clusters of up to three code points; each plan's pool; and the result (out) of each (plan, pool
    entry), out 0 being none."""

    def __init__(self, replace: bool):
        self.replace = replace
        self.ids: dict[tuple, int] = {}
        self.numbers = IntMap()  # three code points packed -> 0x110000 + n, for clusters of 2 or 3
        self.by_number = IntMap()  # context << 32 | cluster number -> plan id
        self.by_left: dict[tuple | None, int] = {}  # (context, cluster, left neighbour) -> plan id
        self.contexts: dict[str | tuple[str, str | None], int] = {}  # lang (NFC) or (lang, form)
        self.plans: list[_Plan | None] = [None, None]
        self.plan_pool: list[int] = [-1, -1]
        self.pools: dict[tuple[str, str, str], int] = {}
        self.cums: list[np.ndarray] = []
        self.outs = IntMap()  # plan id << 32 | pool entry -> out
        self.new: list[str | None] = [None]
        self.pool_of = np.empty(0, np.int64)
        self.new_arr = np.empty(0, object)

    def plan(self, source: tuple[str, str, str], form: str | None, old: str) -> int:
        """A new plan: ``old`` with a draw from ``pool(*source)`` (_NO_EDIT when there is none)."""
        cand = pool(*source)
        if cand is None:
            return _NO_EDIT
        if source not in self.pools:
            self.pools[source] = len(self.cums)
            self.cums.append(np.array(cand.cum))
        self.plans.append(_Plan(old, form, cand.units, source[2] == "letter", self.replace))
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
            outs = self.outs.get(keys)
        return outs

    def refresh(self) -> None:
        """Bring the per-plan and per-out arrays up to date."""
        if len(self.pool_of) != len(self.plans):
            self.pool_of = np.array(self.plan_pool, np.int64)
        if len(self.new_arr) != len(self.new):
            self.new_arr = np.array(self.new, object)


_STORES: dict[bool, Store] = {}


def same_kind_draws(h: Hits, replace: bool, kernel: Kernel) -> tuple[np.ndarray, list]:
    """Per hit, whether a cluster was drawn and which (``new``; None where not): what ``kernel`` (the
    family's per-cluster rule: ``substitute_kernel`` when ``replace``, else ``insert_kernel``) would give,
    computed by plan; digits and clusters of no kind ask ``kernel`` itself."""
    st = _STORES.get(replace)
    if st is None or len(st.plans) > 200_000 or len(st.by_left) > 200_000:
        st = _STORES[replace] = Store(replace)
    b, langs = h.batch, h.langs
    joined, vis = b.joined, h.vis
    hit = h.row
    h_q, h_i, h_s, h_e = h.q, h.i, b.start[hit], b.end[hit]
    a = h.a
    forms = h.text_forms
    form_of = h.form

    # The plan of each selected cluster: by number up to three code points (a code point stands for
    # itself, two or three get a number above them), else by string.
    ctx = st.context_ids(langs, forms)
    number = np.where(h_e - h_s == 1, b.cps[h_s].astype(np.int64), -1)
    few = np.flatnonzero((h_e - h_s == 2) | (h_e - h_s == 3))
    if len(few):
        key = pack3(b.cps, h_s[few], h_e[few] - h_s[few])
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
    kernel_rows = np.flatnonzero(pid == _KERNEL)
    left = np.maximum(hit[kernel_rows] - 1, 0)
    left_in_word = ((h_i[kernel_rows] > 0) & vis[left]).tolist()
    ctx_of = ctx.tolist()
    for k, q, i, s, e, lw, ls, le in zip(
        *(
            x.tolist()
            for x in (kernel_rows, h_q[kernel_rows], h_i[kernel_rows], h_s[kernel_rows], h_e[kernel_rows])
        ),
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
        doc = h.doc(q)
        if kind in ("letter", "punct", "symbol"):
            pid[k] = st.source_plan(source_pool(doc, i, kind), doc.form, old)
            continue
        proposal = kernel(doc, i, float(a[k]), float(h.b[k]))
        if proposal is not None and (not replace or proposal[3] != old):
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
    news = st.new_arr[out].tolist()
    ok = out > 0
    for k, new in direct.items():
        news[k] = new
        ok[k] = True
    return ok, news


def substitute_proposals(h: Hits, kernel: Kernel) -> Proposals:
    """Substitute edits: each drawn cluster replaces the selected one."""
    ok, news = same_kind_draws(h, True, kernel)
    m = len(h)
    return Proposals(ok, np.full(m, SUBSTITUTE, np.int64), h.i.copy(), h.i + 1, news, True)


def insert_proposals(h: Hits, kernel: Kernel) -> Proposals:
    """Insert edits: each drawn cluster goes before (``b < .5``) or after the selected one."""
    ok, news = same_kind_draws(h, False, kernel)
    at = np.where(h.b < 0.5, h.i, h.i + 1)
    return Proposals(ok, np.full(len(h), INSERT, np.int64), at, at.copy(), news, True)
