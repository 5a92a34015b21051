"""The one noise engine: every family runs through it, over a whole batch of texts, by column.

A family contributes what is specific to it (a :class:`Family`): which clusters it may edit, how many
clusters an edit changes, and its *proposal*: given the selected clusters (:class:`Hits`), the edit it
makes at each, as columns (:class:`Proposals`). The engine does the rest for every family alike:

1. segmentation (:class:`core.noise.segment.Batch`: numpy, no per-text regex scan);
2. selection: each editable (non-blank, eligible) cluster is selected with probability
   :func:`probabilities` by the first of the three uniforms of its row (select, a, b) in the query's
   stream, so the clusters selected at level 0.1 are also selected at 0.2 with the same a and b: the
   levels of one (seed, query) are nested, which makes level curves smooth;
3. the family's proposals, for the selected clusters only;
4. acceptance, in text order: an edit is dropped when it changes nothing or overlaps an edit already
   made (only families whose edits reach past their cluster can overlap; the others skip this loop);
5. assembly in code-point space, the normal-form check, and, on first use, the CER, the edit columns and
   their JSON (:class:`core.noise.result.NoiseBatch`).

Uniforms come from a :class:`Stream`: the counter-based stream of each query's key
(:class:`KeyStream`, what ``apply_noise`` and ``apply_noise_batch`` use) or a generator's ``random(n)``
(:class:`DrawnStream`, for the family functions called with any rng).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from core.noise.columns import apply_spans, assemble_all, cer_all, distinct, forms, repair, take
from core.noise.doc import Doc
from core.noise.hits import OPS, SUBSTITUTE, Hits, Proposals
from core.noise.result import NoiseBatch, NoiseResult
from core.noise.rng import uniforms
from core.noise.segment import Batch, nfc_boundary_before
from core.noise.text import JOINING, NO_SCRIPT, script_table

Kernel = Callable[[Doc, int, float, float], "tuple[str, int, int, str] | None"]
Propose = Callable[[Hits], Proposals]
UnitRule = Callable[[str, "str | None", float, float], "str | None"]


def per_unit(rule: UnitRule) -> Propose:
    """A proposal that replaces each selected cluster by ``rule(cluster, form, a, b)`` (None: no edit),
    for families whose edit depends on the cluster alone (``form``: the text's normal form)."""

    def propose(h: Hits) -> Proposals:
        b, m = h.batch, len(h)
        olds = map(b.joined.__getitem__, map(slice, b.start[h.row].tolist(), b.end[h.row].tolist()))
        if h.text_forms is None:
            new = list(map(rule, olds, ["NFC"] * m, h.a.tolist(), h.b.tolist()))
        else:
            new = list(map(rule, olds, [h.text_forms[q] for q in h.q.tolist()], h.a.tolist(), h.b.tolist()))
        ok = np.fromiter((x is not None for x in new), bool, m)
        return Proposals(ok, np.full(m, SUBSTITUTE, np.int64), h.i.copy(), h.i + 1, new)

    return propose


@dataclass(frozen=True, slots=True)
class Family:
    """What a noise family contributes to the engine.

    Attributes:
        propose: its edits at the selected clusters.
        eligible: which clusters it can edit (a predicate on a cluster); None: every non-blank one.
        clusters_per_edit: clusters one edit changes on average (selection is scaled down by it).
        layout: ``layout(lang, script)`` reported per text (keyboard families; ``script``: the text's
            first script of its own, None when it has none).
    """

    propose: Propose
    eligible: Callable[[str], bool] | None = None
    clusters_per_edit: float = 1.0
    layout: Callable[[str, str | None], str] | None = None


class KeyStream:
    """The counter-based uniforms of each text's 64-bit key (see :mod:`core.noise.rng`)."""

    def __init__(self, keys: np.ndarray):
        self.keys = np.asarray(keys, np.uint64)

    def prepare(self, b: Batch, p: np.ndarray) -> None:
        """Nothing to draw ahead: any uniform of any query is computed on demand."""

    def draw(self, b: Batch, rows: np.ndarray, k: int) -> np.ndarray:
        """Uniform ``k`` (0: select, 1: a, 2: b) of each cluster ``rows``."""
        return uniforms(
            self.keys[b.owner[rows]], b.index[rows].astype(np.uint64) * np.uint64(3) + np.uint64(k)
        )


class DrawnStream:
    """Uniforms drawn from one generator per text (any object with ``random(n)``): ``3 * clusters`` of
    them, a row (select, a, b) per cluster, drawn only for texts with something to edit, as the
    one-text functions always did."""

    def __init__(self, rngs: Sequence):
        self.rngs = rngs
        self.rows = np.zeros((0, 3))

    def prepare(self, b: Batch, p: np.ndarray) -> None:
        """Draw the rows of every text whose selection probability is positive."""
        self.rows = np.zeros((len(b.start), 3))
        for q in np.flatnonzero(p > 0).tolist():
            f, n = int(b.first[q]), int(b.count[q])
            self.rows[f : f + n] = np.asarray(self.rngs[q].random(3 * n), np.float64).reshape(n, 3)

    def draw(self, b: Batch, rows: np.ndarray, k: int) -> np.ndarray:
        """Uniform ``k`` of each cluster ``rows``."""
        return self.rows[rows, k]


_ELIGIBLE: dict[Callable, np.ndarray] = {}  # predicate -> per code point: -1 unknown, 0 no, 1 yes


def eligible_mask(b: Batch, rows: np.ndarray, eligible: Callable[[str], bool]) -> np.ndarray:
    """``eligible(cluster)`` of each cluster ``rows``: by a per-code-point table for clusters of one code
    point (filled on first sight), by the predicate for the others."""
    table = _ELIGIBLE.get(eligible)
    if table is None:
        table = _ELIGIBLE[eligible] = np.full(0x110000, -1, np.int8)
    one = b.end[rows] - b.start[rows] == 1
    cps = b.cps[b.start[rows[one]]]
    got = table[cps]
    if (got < 0).any():
        for c in np.unique(cps[got < 0]).tolist():
            table[c] = eligible(chr(c))
        got = table[cps]
    out = np.empty(len(rows), bool)
    out[one] = got == 1
    multi = rows[~one]
    joined, start, end = b.joined, b.start, b.end
    out[~one] = [eligible(joined[s:e]) for s, e in zip(start[multi].tolist(), end[multi].tolist())]
    return out


def probabilities(
    levels: np.ndarray, n_ns: np.ndarray, n_ok: np.ndarray | None, per_edit: float
) -> np.ndarray:
    """Selection probability of each text's editable clusters (0 when nothing can be edited).

    ``level / clusters_per_edit``; when only eligible clusters can be edited (``n_ok`` of the ``n_ns``
    non-blank ones), scaled by ``n_ns / n_ok`` and capped at 1, so the expected fraction of non-blank
    clusters edited stays ``level`` wherever the text allows it.
    """
    live = (levels > 0) & (n_ns > 0)
    if n_ok is None:
        return np.where(live, levels / per_edit, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.minimum(1.0, levels * n_ns / (n_ok * per_edit))
    return np.where(live & (n_ok > 0), p, 0.0)


def run(texts: list[str], levels: np.ndarray, langs: list[str], family: Family, stream) -> NoiseBatch:
    """Noise every text with ``family`` (``levels``: one per text, in [0, 1]; ``langs``: ISO 639-3 codes,
    already valid). Item ``j`` of the result is what the family gives text ``j`` alone with its stream:
    texts never influence each other."""
    n = len(texts)
    b = Batch(texts)
    vis = b.visible()
    owner = b.owner
    n_ns = np.bincount(owner[vis], minlength=n)  # non-blank clusters per text
    editable = np.flatnonzero(vis)
    n_ok = None
    if family.eligible is not None:
        editable = editable[eligible_mask(b, editable, family.eligible)]
        n_ok = np.bincount(owner[editable], minlength=n)
    p = probabilities(np.asarray(levels, np.float64), n_ns, n_ok, family.clusters_per_edit)
    stream.prepare(b, p)
    editable = editable[p[owner[editable]] > 0]
    hit = editable[stream.draw(b, editable, 0) < p[owner[editable]]]
    text_forms = forms(texts, b) if len(hit) else None
    h = Hits(b, texts, langs, text_forms, vis, hit, stream.draw(b, hit, 1), stream.draw(b, hit, 2))
    props = family.propose(h) if len(hit) else Proposals.empty(0)
    edits = _accept(b, h, props)
    layouts = [None] * n
    if family.layout:
        # A text left at level 0 was not typed on any layout (as apply_noise reports it).
        layouts = [
            x if lv > 0 else None for x, lv in zip(_layouts(b, langs, family.layout), levels, strict=True)
        ]
    return _result(b, texts, h, edits, layouts, n_ns)


def run_one(text: str, level: float, rng, lang: str, family: Family) -> NoiseResult:
    """``family`` on one text with the uniforms of ``rng`` (any object with ``random(n)``, such as
    :func:`core.noise.rng.noise_rng`'s stream or a ``numpy.random.Generator``): ``3 * clusters`` of them
    are drawn, only when something can be edited."""
    return run([text], np.array([level], np.float64), [lang], family, DrawnStream([rng]))[0]


def _bound(b: Batch, q: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Offset in ``b.joined`` where cluster ``g`` of text ``q`` starts (the text's end for ``g == count``)."""
    last = len(b.start) - 1
    text_end = np.append(b.offsets[1:] - 1, len(b.cps) - 1)[q]
    return np.where(g < b.count[q], b.start[np.minimum(b.first[q] + g, last)], text_end)


def _accept(b: Batch, h: Hits, props: Proposals) -> dict:
    """The edits made, in text order, as columns: a proposal is dropped when it changes nothing or when
    it starts before the end of the last edit of its text (or its cluster was already consumed)."""
    k = np.flatnonzero(props.ok)
    q, i, gs, ge = h.q[k], h.i[k], props.gs[k], props.ge[k]
    s, e = _bound(b, q, gs), _bound(b, q, ge)
    new = props.new if len(k) == len(props.ok) else take(props.new, k.tolist())
    if props.changes:
        keep = np.ones(len(k), bool)
    else:
        old = list(map(b.joined.__getitem__, map(slice, s.tolist(), e.tolist())))
        keep = np.fromiter(map(str.__ne__, old, new), bool, len(k))
    if not ((gs >= i).all() and (ge <= i + 1).all()):
        # Edits reaching past their cluster (a swap, a dropped space) may overlap: the text-order rule.
        last_q, last = -1, 0
        for j, (qq, ii, a, z, ok) in enumerate(
            zip(q.tolist(), i.tolist(), gs.tolist(), ge.tolist(), keep.tolist())
        ):
            if qq != last_q:
                last_q, last = qq, 0
            if ok and ii >= last and a >= last:
                last = z
            else:
                keep[j] = False
    if not keep.all():
        kl = np.flatnonzero(keep)
        q, s, e, gs, ge, k, new = q[kl], s[kl], e[kl], gs[kl], ge[kl], k[kl], take(new, kl.tolist())
    return {"q": q, "s": s, "e": e, "gs": gs, "ge": ge, "op": props.op[k], "new": list(new)}


def _layouts(b: Batch, langs: list[str], layout: Callable) -> list[str]:
    """``layout(lang, first script of the text)`` per text (None when the text has no script of its own):
    the first cluster with a script of its own starts with the text's first code point that has one."""
    table, names = script_table()
    own = np.flatnonzero(table[b.cps] != NO_SCRIPT)
    at = np.searchsorted(own, b.offsets)
    ends = np.append(b.offsets[1:] - 1, len(b.cps) - 1)
    found = own[np.minimum(at, max(len(own) - 1, 0))] if len(own) else np.full(len(at), -1)
    has = (at < len(own)) & (found < ends) if len(own) else np.zeros(len(at), bool)
    ids = table[b.cps[np.where(has, found, 0)]].tolist()
    return [layout(g, names[i] if h else None) for g, i, h in zip(langs, ids, has.tolist(), strict=True)]


def _result(b: Batch, texts: list[str], h: Hits, ed: dict, layouts: list, n_ns: np.ndarray) -> NoiseBatch:
    """Assemble the noisy texts, drop the edits that break a text's normal form, and wrap it all."""
    n = len(texts)
    e_q, e_s, e_e, e_new = ed["q"], ed["s"], ed["e"], ed["new"]
    noisy, firsts = assemble_all(b, e_s, e_e, e_new) if len(e_q) else (list(texts), None)
    # NFC texts whose edits all start, end and are followed at NFC boundaries stay NFC (UAX #15): only
    # the others are checked; a broken one loses the edits that break it (Hangul jamo, composing starters).
    done = distinct(e_q)
    if done:
        bound = (
            nfc_boundary_before(firsts) & nfc_boundary_before(b.cps[e_s]) & nfc_boundary_before(b.cps[e_e])
        )
        unsure = np.zeros(n, bool)
        unsure[e_q[~bound]] = True
        if h.text_forms is not None:
            unsure[[q for q in done if h.text_forms[q] != "NFC"]] = True
        ask = np.array(done, np.int64)[unsure[done]].tolist()
        broken = [q for q in ask if h.form(q) and not unicodedata.is_normalized(h.form(q), noisy[q])]
        if broken:
            keep = np.ones(len(e_q), bool)
            lows = np.searchsorted(e_q, broken, "left").tolist()
            highs = np.searchsorted(e_q, broken, "right").tolist()
            for q, lo, hi in zip(broken, lows, highs, strict=True):
                o = int(b.offsets[q])
                spans = [(int(e_s[j]) - o, int(e_e[j]) - o, e_new[j]) for j in range(lo, hi)]
                kept = repair(texts[q], h.form(q), spans)
                keep[lo:hi] = False
                keep[[lo + j for j in kept]] = True
                noisy[q] = apply_spans(texts[q], [spans[j] for j in kept])
            kl = np.flatnonzero(keep)
            ed = {
                key: (v[kl] if isinstance(v, np.ndarray) else [v[j] for j in kl.tolist()])
                for key, v in ed.items()
            }
            e_q, e_s, e_e, e_new = ed["q"], ed["s"], ed["e"], ed["new"]
            done = distinct(e_q)
    # The CER, the edit columns and their JSON are made on first use, from copies: a caller may change
    # its lists before reading them.
    texts, noisy_now = list(texts), list(noisy)
    cer = partial(_cer, b, texts, noisy_now, done, e_q, e_new, n_ns)
    return NoiseBatch(texts, noisy, cer, layouts, partial(_edit_columns, b, n, ed))


def _cer(
    b: Batch,
    texts: list[str],
    noisy: list[str],
    done: list[int],
    e_q: np.ndarray,
    e_new: list,
    n_ns: np.ndarray,
) -> list:
    """The CER of every text (see :func:`cer_all`): a text stays one cluster per code point when it was
    and no edit brought a joining code point."""
    plain = np.fromiter((JOINING.isdisjoint(x) for x in e_new), bool, len(e_new))
    simple_after = b.simple() & (np.bincount(e_q, weights=~plain, minlength=len(texts)) == 0)
    return cer_all(b, texts, noisy, done, simple_after, n_ns)


def _edit_columns(b: Batch, n: int, ed: dict) -> tuple:
    """:meth:`NoiseBatch.edit_columns` of the edits ``ed``."""
    e_q = ed["q"]
    bounds = np.concatenate(([0], np.cumsum(np.bincount(e_q, minlength=n)))).tolist()
    o = b.offsets[e_q]
    old = map(b.joined.__getitem__, map(slice, ed["s"].tolist(), ed["e"].tolist()))
    columns = (
        [OPS[c] for c in ed["op"].tolist()],
        (ed["s"] - o).tolist(),
        (ed["e"] - o).tolist(),
        ed["gs"].tolist(),
        ed["ge"].tolist(),
        list(old),
        list(ed["new"]),
    )
    return columns, bounds
