"""What a noise function returns: the noisy text, its edits in the original's coordinates, its CER."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
