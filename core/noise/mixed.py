"""``mixed``: a fixed mixture of typing errors, one family drawn per edited cluster."""

from __future__ import annotations

import numpy as np

from core.noise.delete import delete_kernel
from core.noise.diacritics import diacritics_kernel
from core.noise.engine import Doc, Family, run
from core.noise.insert import insert_kernel
from core.noise.keyboard import keyboard_kernel, text_layout
from core.noise.result import NoiseResult
from core.noise.transpose import transpose_kernel
from core.noise.whitespace import whitespace_kernel

#: (family, weight) of the mixture. Keyboard slips dominate real typing errors; homoglyphs are left out
#: (they are not typing errors).
MIXTURE = (
    ("keyboard", 0.35, keyboard_kernel),
    ("delete", 0.20, delete_kernel),
    ("insert", 0.15, insert_kernel),
    ("transpose", 0.10, transpose_kernel),
    ("diacritics", 0.10, diacritics_kernel),
    ("whitespace", 0.10, whitespace_kernel),
)
_CUM = np.cumsum([w for _, w, _ in MIXTURE]).tolist()
# A transposition edits two clusters: selecting fewer clusters keeps the expected CER at `level`.
_CLUSTERS_PER_EDIT = 1.0 + sum(w for n, w, _ in MIXTURE if n == "transpose")


def mixed_kernel(doc: Doc, i: int, a: float, b: float) -> tuple[str, int, int, str] | None:
    """Pick a family by ``b`` (weights in ``MIXTURE``); keyboard when that family cannot edit here."""
    k = next((j for j, c in enumerate(_CUM) if b < c), len(_CUM) - 1)
    lo = _CUM[k - 1] if k else 0.0
    sub = min((b - lo) / (_CUM[k] - lo), 0.9999999999)
    return MIXTURE[k][2](doc, i, a, sub) or keyboard_kernel(doc, i, a, sub)


FAMILY = Family(mixed_kernel, clusters_per_edit=_CLUSTERS_PER_EDIT, layout=text_layout)


def mixed(text: str, level: float, rng: np.random.Generator, lang: str) -> NoiseResult:
    """A documented mixture of typing errors.

    Each non-space cluster is selected with probability ``level / 1.1`` (a transposition counts two
    clusters) and edited by one family drawn with these weights: keyboard 0.35, delete 0.20,
    insert 0.15, transpose 0.10, diacritics 0.10, whitespace 0.10. When the drawn family cannot edit
    the cluster (no mark to drop, no neighbour to swap with) a keyboard slip is made instead.

    Args:
        text: input text.
        level: expected fraction of non-space clusters edited, in [0, 1].
        rng: the query's generator.
        lang: ISO 639-3 code (tables and layout).

    Returns:
        A :class:`NoiseResult`; ``layout`` is the layout keyboard slips use.
    """
    doc = Doc(text, lang)
    return run(
        text,
        level,
        rng,
        lang,
        mixed_kernel,
        clusters_per_edit=_CLUSTERS_PER_EDIT,
        layout=text_layout(doc),
        doc=doc,
    )
