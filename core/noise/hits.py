"""What the engine hands a family and what the family hands back: the selected clusters of a batch
(:class:`Hits`) and the edit proposed at each (:class:`Proposals`), both by column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.noise.doc import Doc

#: Edit operations, by code (:attr:`Proposals.op`).
OPS = ("substitute", "delete", "insert", "transpose")
SUBSTITUTE, DELETE, INSERT, TRANSPOSE = range(4)


class Hits:
    """The selected clusters of a batch (one entry each, in text order) and what a proposal may read.

    Columns: ``q`` (text), ``i`` (cluster index in its text), ``row`` (cluster row in the batch), ``a``
    and ``b`` (the cluster's two edit uniforms). :meth:`doc` gives a text as per-cluster rules read it,
    :meth:`take` a subset (optionally with other uniforms: the mixture rescales ``b``)."""

    __slots__ = ("batch", "texts", "langs", "text_forms", "vis", "row", "q", "i", "a", "b", "_docs", "memo")

    def __init__(self, batch, texts, langs, text_forms, vis, row, a, b, docs=None, memo=None):
        self.batch, self.texts, self.langs, self.text_forms, self.vis = batch, texts, langs, text_forms, vis
        self.row, self.a, self.b = row, a, b
        self.q, self.i = batch.owner[row], batch.index[row]
        self._docs: dict[int, Doc] = {} if docs is None else docs
        # What a proposal computes once per batch and shares with its subsets (take), by name.
        self.memo: dict[str, object] = {} if memo is None else memo

    def __len__(self) -> int:
        return len(self.row)

    def form(self, q: int) -> str | None:
        """The normal form of text ``q``."""
        return "NFC" if self.text_forms is None else self.text_forms[q]

    def unit(self, k: int) -> str:
        """The selected cluster of entry ``k``."""
        r = int(self.row[k])
        return self.batch.joined[self.batch.start[r] : self.batch.end[r]]

    def doc(self, q: int) -> Doc:
        """Text ``q`` as a :class:`Doc` (made once; its clusters are cut from the batch on access)."""
        d = self._docs.get(q)
        if d is None:
            f, n = int(self.batch.first[q]), int(self.batch.count[q])
            units, space = _Clusters(self.batch, f, n), _Blank(self.vis, f, n)
            d = self._docs[q] = Doc(self.texts[q], units, space, self.langs[q], self.form(q))
        return d

    def take(self, idx: np.ndarray, a: np.ndarray | None = None, b: np.ndarray | None = None) -> Hits:
        """Entries ``idx``, with uniforms ``a``/``b`` when given (else their own)."""
        return Hits(
            self.batch, self.texts, self.langs, self.text_forms, self.vis, self.row[idx],
            self.a[idx] if a is None else a, self.b[idx] if b is None else b, self._docs, self.memo,
        )  # fmt: skip


class _View(Sequence):
    """Entries ``first .. first + n - 1`` of a batch column, as a read-only sequence made on access
    (a rule reads a few clusters around the selected one, not the whole text)."""

    __slots__ = ("src", "first", "n")

    def __init__(self, src, first: int, n: int):
        self.src, self.first, self.n = src, first, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(self.n))]
        if not 0 <= j < self.n:
            raise IndexError(j)
        return self.get(self.first + j)


class _Clusters(_View):
    def get(self, r: int) -> str:
        b = self.src
        return b.joined[b.start[r] : b.end[r]]


class _Blank(_View):
    def get(self, r: int) -> bool:
        return not self.src[r]


@dataclass(slots=True)
class Proposals:
    """A family's edit at each hit, as columns: ``ok`` (False: no edit proposed), ``op`` (code in
    :data:`OPS`), ``gs``/``ge`` (the clusters ``[gs, ge)`` of the text replaced; ``gs == ge`` inserts),
    ``new`` (the replacement; None where not ``ok``). ``changes``: every proposed edit differs from what
    it replaces, by construction (else the engine compares)."""

    ok: np.ndarray
    op: np.ndarray
    gs: np.ndarray
    ge: np.ndarray
    new: list
    changes: bool = False

    @classmethod
    def empty(cls, m: int) -> Proposals:
        """``m`` entries, none proposing an edit."""
        z = np.zeros(m, np.int64)
        return cls(np.zeros(m, bool), z.copy(), z.copy(), z.copy(), [None] * m)

    def put(self, idx: np.ndarray, other: Proposals) -> None:
        """Entries ``idx`` become ``other``'s (one entry each, in order)."""
        self.ok[idx], self.op[idx], self.gs[idx], self.ge[idx] = other.ok, other.op, other.gs, other.ge
        for k, v in zip(idx.tolist(), other.new, strict=True):
            self.new[k] = v
