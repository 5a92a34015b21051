"""What a noise function returns: the noisy text, its edits in the original's coordinates, its CER."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from json.encoder import encode_basestring

#: Edit operations. ``transpose`` swaps two adjacent clusters; the others act on one span.
OPS = ("insert", "delete", "substitute", "transpose")


@dataclass(frozen=True, slots=True)
class Edit:
    """One edit, located in the ORIGINAL text.

    Attributes:
        op: one of ``insert``, ``delete``, ``substitute``, ``transpose``.
        start, end: code-point offsets of the replaced span in the original (``start == end`` for insert).
        g_start, g_end: the same span in grapheme-cluster offsets.
        old: ``original[start:end]``.
        new: the text that replaces it in the noisy output.
    """

    op: str
    start: int
    end: int
    g_start: int
    g_end: int
    old: str
    new: str

    def to_dict(self) -> dict:
        """JSON-able dict with the seven fields."""
        return {
            "op": self.op,
            "start": self.start,
            "end": self.end,
            "g_start": self.g_start,
            "g_end": self.g_end,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True, slots=True)
class NoiseResult:
    """A noised text and how it was made.

    Attributes:
        text: the original text.
        noisy: the noised text; ``replay(text, edits) == noisy``.
        edits: the edits, ordered left to right and non-overlapping.
        cer: realised character error rate over grapheme clusters (see :func:`core.noise.text.cer`).
        layout: keyboard layout used by ``keyboard`` noise (``"fallback:same-script"`` when none was
            known); None for the other noise types.
    """

    text: str
    noisy: str
    edits: tuple[Edit, ...]
    cer: float
    layout: str | None = None

    def to_dict(self) -> dict:
        """JSON-able dict ``{text, noisy, edits: [...], cer, layout}``."""
        return {
            "text": self.text,
            "noisy": self.noisy,
            "edits": [e.to_dict() for e in self.edits],
            "cer": self.cer,
            "layout": self.layout,
        }


def replay(text: str, edits: Iterable[Edit]) -> str:
    """Apply ``edits`` to ``text`` and return the noisy text.

    Guarantees ``replay(r.text, r.edits) == r.noisy`` for every :class:`NoiseResult` ``r`` this package
    returns, which makes each result checkable edit by edit.

    Args:
        text: the original text.
        edits: edits located in ``text``, ordered by position and non-overlapping (an insertion may sit at
            the end of the previous edit).

    Returns:
        The edited text.

    Raises:
        ValueError: an edit is out of order, overlaps the previous one, or its ``old`` is not
            ``text[start:end]``.
    """
    out: list[str] = []
    pos = 0
    for e in edits:
        if e.start < pos or e.end < e.start or e.end > len(text):
            raise ValueError(f"edit {e} is out of order or out of range (previous end {pos})")
        if text[e.start : e.end] != e.old:
            raise ValueError(f"edit {e} does not match the text there: {text[e.start : e.end]!r}")
        out.append(text[pos : e.start])
        out.append(e.new)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def marked(res: NoiseResult) -> str:
    """The original text with each edit shown inline as ``[old→new]`` (``[+new]``, ``[-old]``)."""
    out, pos = [], 0
    for e in res.edits:
        out.append(res.text[pos : e.start])
        if e.op == "insert":
            out.append(f"[+{e.new}]")
        elif e.op == "delete":
            out.append(f"[-{e.old}]")
        else:
            out.append(f"[{e.old}→{e.new}]")
        pos = e.end
    out.append(res.text[pos:])
    return "".join(out)


# JSON of an edit up to its ``old`` field, by (op, start, end, g_start, g_end).
_EDIT_HEAD = '{{"op": {}, "start": {}, "end": {}, "g_start": {}, "g_end": {}, "old": '
_HEADS: dict[tuple, str] = {}


class NoiseBatch(Sequence[NoiseResult]):
    """What :func:`core.noise.apply_noise_batch` returns: one :class:`NoiseResult` per text, stored by
    column so that a caller needing only some fields (the precompute, the trainer) never pays for
    creating an object per text and per edit.

    Item ``j`` is made on access and equals the result ``apply_noise`` gives text ``j``; the batch equals
    any sequence of equal results (a list included). Columns, one entry per text: ``noisy``, ``cer``,
    ``layouts``, and :attr:`edits_json` (exactly ``json.dumps([e.to_dict() for e in edits],
    ensure_ascii=False)``, what the precompute stores). ``cer``, the edits and their JSON are computed on
    first use, so a caller that reads only ``noisy`` (the SimCSE trainer) pays for the noise alone.

    Args:
        texts, noisy, layouts: one entry per text.
        cer: one entry per text, or a function making that list (called once, on first use).
        edits: what :meth:`edit_columns` returns, or a function making it (called once, on first use).
        edits_json: makes :attr:`edits_json` faster than from the columns (called once, on first use).
    """

    __slots__ = ("texts", "noisy", "_cer", "layouts", "_edits", "_json")

    def __init__(
        self,
        texts: list[str],
        noisy: list[str],
        cer: list[float] | Callable[[], list[float]],
        layouts: list[str | None],
        edits: tuple[tuple[list, ...], list[int]] | Callable[[], tuple[tuple[list, ...], list[int]]],
        edits_json: Callable[[], list[str]] | None = None,
    ):
        self.texts, self.noisy, self._cer, self.layouts = texts, noisy, cer, layouts
        self._edits, self._json = edits, edits_json

    @property
    def cer(self) -> list[float]:
        """Per text, :func:`core.noise.text.cer` of its noisy text (computed once, on first use)."""
        if callable(self._cer):
            self._cer = self._cer()
        return self._cer

    def edit_columns(self) -> tuple[tuple[list, ...], list[int]]:
        """The edits of every text, in text order, as seven columns (op, start, end, g_start, g_end,
        old, new), and ``n + 1`` offsets: the edits of text ``j`` are entries ``bounds[j]:bounds[j + 1]``."""
        if callable(self._edits):
            self._edits = self._edits()
        return self._edits

    @classmethod
    def of(cls, results: list[NoiseResult]) -> NoiseBatch:
        """The batch holding ``results`` (same items, in order)."""
        all_edits = [e for r in results for e in r.edits]
        cols = tuple([getattr(e, f) for e in all_edits] for f in Edit.__slots__)
        bounds = list(accumulate((len(r.edits) for r in results), initial=0))
        return cls(
            [r.text for r in results],
            [r.noisy for r in results],
            [r.cer for r in results],
            [r.layout for r in results],
            (cols, bounds),
        )

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        j = range(len(self))[j]  # IndexError and negative indices as a list has them
        columns, bounds = self.edit_columns()
        a, b = bounds[j], bounds[j + 1]
        edits = tuple(map(Edit, *(c[a:b] for c in columns)))
        return NoiseResult(self.texts[j], self.noisy[j], edits, self.cer[j], self.layouts[j])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # mutable-looking container, as list

    @property
    def edits_json(self) -> list[str]:
        """Per text, ``json.dumps([e.to_dict() for e in edits], ensure_ascii=False)`` (made once, by
        column: the part before ``old`` is shared by every edit of the same span)."""
        if callable(self._json):
            self._json = self._json()
        if self._json is None:
            (op, start, end, g_start, g_end, old, new), b = self.edit_columns()
            keys = list(zip(op, start, end, g_start, g_end))
            heads = list(map(_HEADS.get, keys))
            if None in heads:
                if len(_HEADS) > 100_000:
                    _HEADS.clear()
                heads = [
                    h or _HEADS.setdefault(k, _EDIT_HEAD.format(encode_basestring(k[0]), *k[1:]))
                    for h, k in zip(heads, keys, strict=True)
                ]
            frags = list(
                map(
                    "".join,
                    zip(
                        heads,
                        map(encode_basestring, old),
                        repeat(', "new": '),
                        map(encode_basestring, new),
                        repeat("}"),
                    ),
                )
            )
            self._json = [f"[{', '.join(frags[i:j])}]" if i != j else "[]" for i, j in zip(b, b[1:])]
        return self._json
