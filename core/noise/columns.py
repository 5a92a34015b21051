"""Column helpers of the noise engine: cluster identities, assembly, CER and normal forms over a batch.

Everything here works on :class:`core.noise.segment.Batch` arrays for all texts at once, so per text and
per edit only C loops run.
"""

from __future__ import annotations

import unicodedata
from operator import itemgetter

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist

from core.noise.segment import Batch, code_points, counts_before
from core.noise.text import graphemes, normal_form


class IntMap:
    """A dict from int to int with a vectorised lookup (sorted arrays, rebuilt after additions)."""

    __slots__ = ("d", "keys", "vals")

    def __init__(self):
        self.d: dict[int, int] = {}
        self.keys = self.vals = np.empty(0, np.int64)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key; -1 for keys not in the map."""
        if len(keys) < 64:  # a few keys (one text at a time): the dict, no re-sort after each addition
            get = self.d.get
            return np.fromiter((get(k, -1) for k in keys.tolist()), np.int64, len(keys))
        if len(self.keys) != len(self.d):
            k = np.fromiter(self.d.keys(), np.int64, len(self.d))
            order = np.argsort(k)
            self.keys, self.vals = k[order], np.fromiter(self.d.values(), np.int64, len(self.d))[order]
        if not len(self.keys):
            return np.full(len(keys), -1, np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, self.vals[pos], -1)


def pack3(cps: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """One int64 per cluster of 2 or 3 code points, equal exactly for equal clusters: three 21-bit code
    points, zero after the end (a cluster of several code points holds no NUL). Always >= 2**21, so
    never equal to a lone code point."""
    third = np.where(length == 3, cps[np.minimum(start + 2, len(cps) - 1)], 0).astype(np.int64)
    return cps[start].astype(np.int64) | cps[start + 1].astype(np.int64) << 21 | third << 42


_LONG: dict[str, int] = {}  # clusters of more than three code points -> a negative id


def cluster_ids(b: Batch, rows: np.ndarray) -> np.ndarray:
    """An int64 per cluster ``rows`` of ``b``, equal exactly when the clusters are equal strings: a lone
    code point is itself, two or three are :func:`pack3`, longer ones a negative number."""
    s, e = b.start[rows], b.end[rows]
    length = e - s
    ids = b.cps[s].astype(np.int64)
    few = np.flatnonzero((length == 2) | (length == 3))
    if len(few):
        ids[few] = pack3(b.cps, s[few], length[few])
    for k in np.flatnonzero(length > 3).tolist():
        unit = b.joined[s[k] : e[k]]
        if len(_LONG) > 100_000:
            _LONG.clear()
        ids[k] = _LONG.setdefault(unit, -1 - len(_LONG))
    return ids


def take(items: list, idx: list[int]) -> list:
    """``[items[i] for i in idx]``, in one C call."""
    return list(itemgetter(*idx)(items)) if len(idx) > 1 else [items[i] for i in idx]


def distinct(sorted_ints: np.ndarray) -> list[int]:
    """The distinct values of a sorted array."""
    return sorted_ints[np.flatnonzero(np.diff(sorted_ints, prepend=-1))].tolist()


def forms(texts: list[str], b: Batch) -> list[str | None] | None:
    """:func:`normal_form` of every text; None when all are NFC (the usual case). Most texts are NFC
    by the quick check alone (:meth:`Batch.nfc`); unicodedata decides the others."""
    ask = np.flatnonzero(~b.nfc()).tolist()
    if not ask:
        return None
    out: list[str | None] = ["NFC"] * len(texts)
    for q in ask:
        out[q] = normal_form(texts[q])
    return out


def assemble_all(
    b: Batch, e_s: np.ndarray, e_e: np.ndarray, e_new: list[str]
) -> tuple[list[str], np.ndarray]:
    """The noisy texts: the joined texts with every edit (``[e_s, e_e)`` of ``b.joined`` replaced by
    ``e_new``, edits in text order, inserts having ``e_s == e_e``) applied at once, decoded once and cut
    back into texts at the separators; and the first code point of each edit's new text (0 for none).

    Each kept code point moves by the length change of the edits ending at or before it; each edit's new
    code points go where its span starts, moved by the length change of the edits before it (so an
    insert lands before the code point it precedes, and two inserts at one place keep their order).
    """
    cps, size = b.cps, len(b.cps)
    e_len = np.fromiter(map(len, e_new), np.int64, len(e_new))
    new_cps = code_points("".join(e_new))
    delta = e_len - (e_e - e_s)
    # Spans of edits that remove code points never share a start nor an end (edits do not overlap; an
    # insert removes nothing), so plain assignment marks them; ends are shared only by inserts.
    spans = e_e > e_s
    inside = np.zeros(size + 1, np.int8)
    inside[e_s[spans]] = 1
    inside[e_e[spans]] -= 1
    kept = np.flatnonzero(counts_before(inside[:-1])[1:] == 0)
    step = np.zeros(size + 1, np.int32)
    if len(e_e) > 1 and (np.diff(e_e) == 0).any():
        step += np.bincount(e_e, weights=delta, minlength=size + 1).astype(np.int32)
    else:
        step[e_e] = delta
    shift = np.cumsum(step, dtype=np.int32)  # shift[p]: length change of the edits ending at or before p
    out = np.empty(size + int(delta.sum()), np.uint32)
    out[kept + shift[kept]] = cps[kept]
    before = np.cumsum(delta) - delta  # length change of the edits before each edit
    first = np.cumsum(e_len) - e_len
    out[np.repeat(e_s + before - first, e_len) + np.arange(len(new_cps))] = new_cps
    joined = out.tobytes().decode("utf-32-le", "surrogatepass")
    seps = b.offsets + np.diff(np.append(b.offsets, size)) - 1
    ends = seps + shift[seps]
    starts = np.concatenate(([0], ends[:-1] + 1))
    firsts = np.zeros(len(e_new), np.uint32)
    has = e_len > 0
    firsts[has] = new_cps[first[has]]
    return list(map(joined.__getitem__, map(slice, starts.tolist(), ends.tolist()))), firsts


def repair(text: str, form: str, spans: list[tuple[int, int, str]]) -> list[int]:
    """Indices of the edits ``(start, end, new)`` of ``text`` kept when those that break its normal form
    ``form`` are dropped, in order (rare: Hangul jamo, composing starters)."""
    kept: list[int] = []
    for k in range(len(spans)):
        trial = [*kept, k]
        if unicodedata.is_normalized(form, apply_spans(text, [spans[j] for j in trial])):
            kept = trial
    return kept


def apply_spans(text: str, spans: list[tuple[int, int, str]]) -> str:
    """``text`` with each ``[start, end)`` replaced by ``new`` (spans in order, not overlapping)."""
    out, pos = [], 0
    for s, e, new in spans:
        out.append(text[pos:s])
        out.append(new)
        pos = e
    out.append(text[pos:])
    return "".join(out)


def cer_all(
    b: Batch, texts: list[str], noisy: list[str], done: list[int], simple_after: np.ndarray, n_ns: np.ndarray
) -> list[float]:
    """:func:`core.noise.text.cer` of every text (0.0 for those left unchanged), by column.

    ``done``: the texts with edits; ``simple_after``: per text, whether its noisy text is still one cluster
    per code point; ``n_ns``: per text, its non-blank clusters (the denominator). A pair of simple texts is compared as strings; any other pair as strings of *cluster
    symbols*, one code point per cluster (see :func:`symbols`), so the distance is always Levenshtein's
    over clusters, computed in C."""
    cer = np.zeros(len(texts))
    if not done:
        return cer.tolist()
    done_arr = np.array(done, np.int64)
    easy, hard = done_arr[simple_after[done_arr]].tolist(), done_arr[~simple_after[done_arr]].tolist()
    left, right = take(texts, easy), take(noisy, easy)
    if hard:
        # The clusters of the original texts (from b) and of their noisy texts (cut now), one source.
        nb = Batch(take(noisy, hard))
        count = b.count[hard]
        mine = np.repeat(b.first[hard] - (np.cumsum(count) - count), count) + np.arange(count.sum())
        syms = symbols(
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
# of multi-code-point clusters in :func:`symbols`.
_SPARE = np.r_[0x40000:0xE0000, 0xF0000:0x110000].astype(np.uint32)


class _SymbolIds:
    """Which spare code point (index in ``_SPARE``) stands for which cluster of several code points,
    kept across calls: by number (three code points packed) up to three code points, by string above."""

    def __init__(self):
        self.packed, self.long, self.count = IntMap(), {}, 0

    def new(self) -> int:
        self.count += 1
        return self.count - 1


_SYMBOL_IDS = _SymbolIds()


def symbols(cps: np.ndarray, start: np.ndarray, end: np.ndarray, count: np.ndarray) -> list[str] | None:
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
    key = pack3(cps, start[short], length[short])
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
