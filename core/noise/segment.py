"""Grapheme-cluster boundaries of many texts at once, as numpy arrays (for :func:`apply_noise_batch`).

:func:`cluster_starts_of` gives, for a string, where each extended grapheme cluster (UAX #29) begins: the
same clusters as ``regex``'s ``\\X`` (which :func:`core.noise.text.graphemes` uses), computed from
per-code-point property tables built from ``regex``'s own Unicode data, so the two never disagree.
Only the rules that need no state beyond one code point and the Indic conjunct rule (GB9c, as ``regex``
applies it) are computed
here; texts with code points that other rules involve (CR, Prepend, Hangul jamo and syllables, regional
indicators, Extended_Pictographic) are cut by ``regex`` itself.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import regex

from core.noise.text import _CLUSTER, INVISIBLE, JOINING
from core.paths import cache_dir

# Per-code-point flags (bits of one uint8 table).
_GLUE = 1  # Extend, ZWJ, SpacingMark: no break before it (GB9, GB9a)
_HARD = 2  # Control, CR, LF: break before and after (GB4, GB5)
_COMPLEX = 4  # involved in another rule: the text is cut by regex
_BLANK = 8  # whitespace or invisible (see core.noise.text.is_blank)
_JOIN = 16  # in core.noise.text.JOINING: the text is not "simple"
_NOT_NFC = 32  # NFC_Quick_Check No or Maybe (a superset: see _nfc_suspects)
_MARK = 64  # canonical combining class not 0
# InCB values (second table).
_LINKER, _CONSONANT, _EXTEND = 1, 2, 3


def _code_points(pattern: str) -> np.ndarray:
    cps = [c for c in range(0x30000) if not 0xD800 <= c < 0xE000] + list(range(0xE0000, 0xE1000))
    found = "".join(regex.findall(pattern, "".join(map(chr, cps))))
    return np.frombuffer(found.encode("utf-32-le"), np.uint32)


def _nfc_suspects() -> list[int]:
    """Code points whose NFC quick check (UAX #15) is not Yes, by :mod:`unicodedata` (which
    ``unicodedata.is_normalized`` uses): those that NFC changes on their own (No), the second code point of
    every two-code-point canonical decomposition and the Hangul vowel and final jamo (Maybe: they may
    compose with what precedes them). Planes 0-2 and 14; the others have no decompositions."""
    out = list(range(0x1161, 0x1176)) + list(range(0x11A8, 0x11C3))
    for c in [*range(0x30000), *range(0xE0000, 0xE1000)]:
        d = unicodedata.decomposition(chr(c))
        if d and d[0] != "<":
            parts = d.split()
            if unicodedata.normalize("NFC", chr(c)) != chr(c):
                out.append(c)
            if len(parts) == 2:
                out.append(int(parts[1], 16))
    return out


def _tables_key() -> str:
    """What the tables are computed from: this module's code, ``regex`` and ``unicodedata`` versions, and
    the code point sets it reads from :mod:`core.noise.text`."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(
        repr((regex.__version__, unicodedata.unidata_version, sorted(INVISIBLE), sorted(JOINING))).encode()
    )
    return h.hexdigest()[:20]


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (flags, InCB, canonical combining class) tables, one uint8 per code point.

    Computing them scans every code point several times (~0.4 s, paid by each process's first noisy
    text), so they are kept under ``$CLIR_CACHE_DIR/noise`` keyed by :func:`_tables_key`: another version
    of this code or of the Unicode data computes (and stores) its own. An unreadable or damaged file is
    recomputed; a cache folder that cannot be written only costs the computation.
    """
    try:
        path = cache_dir() / "noise" / f"segment-tables-{_tables_key()}.npz"
    except OSError:  # an unusable $CLIR_CACHE_DIR (a file, no permission): compute, as without a cache
        return compute_tables()
    try:
        with np.load(path, allow_pickle=False) as z:
            found = tuple(z[k] for k in ("flags", "incb", "ccc"))
        if all(a.shape == (0x110000,) and a.dtype == np.uint8 for a in found):
            return found  # type: ignore[return-value]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass
    tables = compute_tables()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, flags=tables[0], incb=tables[1], ccc=tables[2])
        os.replace(tmp, path)  # atomic: a reader sees the whole file or none
    except OSError:
        pass
    return tables


def compute_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_tables` computed now from ``regex`` and ``unicodedata`` (no cache)."""
    flags = np.zeros(0x110000, np.uint8)
    gcb = "\\p{{Grapheme_Cluster_Break={}}}"
    flags[_code_points("[" + "".join(gcb.format(c) for c in ("Extend", "ZWJ", "SpacingMark")) + "]")] |= _GLUE
    flags[_code_points("[" + "".join(gcb.format(c) for c in ("Control", "CR", "LF")) + "]")] |= _HARD
    complex_classes = ("CR", "Prepend", "L", "V", "T", "LV", "LVT", "Regional_Indicator")
    pattern = "[" + "".join(gcb.format(c) for c in complex_classes) + "\\p{Extended_Pictographic}]"
    flags[_code_points(pattern)] |= _COMPLEX
    blank = [c for c in range(0x10000) if chr(c).isspace()] + [ord(c) for c in INVISIBLE]
    flags[np.array(blank, np.int64)] |= _BLANK
    flags[np.array([ord(c) for c in JOINING], np.int64)] |= _JOIN
    incb = np.zeros(0x110000, np.uint8)
    for value, name in ((_LINKER, "Linker"), (_CONSONANT, "Consonant"), (_EXTEND, "Extend")):
        incb[_code_points(f"\\p{{InCB={name}}}")] = value
    flags[np.array(_nfc_suspects(), np.int64)] |= _NOT_NFC
    ccc = np.zeros(0x110000, np.uint8)
    marks = [c for c in [*range(0x30000), *range(0xE0000, 0xE1000)] if unicodedata.combining(chr(c))]
    ccc[marks] = [unicodedata.combining(chr(c)) for c in marks]
    flags[marks] |= _MARK
    return flags, incb, ccc


def counts_before(x: np.ndarray) -> np.ndarray:
    """``c[k] = x[:k].sum()`` for ``k`` in ``0..len(x)``, for 0/1 (or small) ``x``: in int32 when the
    length allows, since these arrays run over every code point and int64 doubles the memory traffic."""
    out = np.zeros(len(x) + 1, np.int32 if len(x) < 2**31 - 1 else np.int64)
    np.cumsum(x, dtype=out.dtype, out=out[1:])
    return out


def nfc_boundary_before(cps: np.ndarray) -> np.ndarray:
    """Bool per code point: a starter whose NFC quick check is Yes, so NFC never joins it to what
    precedes it nor moves anything across it: NFC(x + y) == NFC(x) + NFC(y) when ``y`` starts with one."""
    return (flags_of(cps) & (_NOT_NFC | _MARK)) == 0


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as a uint32 array."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


def flags_of(cps: np.ndarray) -> np.ndarray:
    """The per-code-point flag bits (``_GLUE``, ``_HARD``, ``_COMPLEX``, ``_BLANK``, ``_JOIN``)."""
    return _tables()[0][cps]


def breaks(cps: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Bool array: True where a grapheme cluster starts, for text free of ``_COMPLEX`` code points."""
    n = len(cps)
    brk = np.ones(n, bool)
    if n < 2:
        return brk
    glue = ((flags[1:] & _GLUE) != 0) & ((flags[:-1] & _HARD) == 0)
    incb = _tables()[1][cps]
    # GB9c as regex applies it: [Extend Linker]* Linker [Extend Linker]* x Consonant (regex does not ask
    # for a consonant before the run). Only consonants right after an Extend or Linker can join: walk
    # back over the run before each of them, all at once, until a Linker or the run's start.
    el = (incb == _LINKER) | (incb == _EXTEND)
    at = np.flatnonzero((incb[1:] == _CONSONANT) & el[:-1])  # boundary k: before consonant k + 1
    pos, live = at.copy(), np.arange(len(at))
    while len(live):
        v = incb[pos[live]]
        linked = v == _LINKER
        glue[at[live[linked]]] = True
        live = live[~linked & (v == _EXTEND) & (pos[live] > 0)]
        pos[live] -= 1
    brk[1:] = ~glue
    return brk


def regex_breaks(text: str) -> np.ndarray:
    """:func:`breaks` computed by ``regex`` (any text)."""
    brk = np.zeros(len(text), bool)
    lengths = np.fromiter(map(len, _CLUSTER.findall(text)), np.int64)
    brk[np.cumsum(lengths) - lengths] = True
    return brk


class Batch:
    """Many texts cut into clusters: the texts joined (each followed by a NUL separator) and one entry
    per cluster of every text, in order (``start``/``end``: offsets in ``joined``; ``owner``: text
    index; ``index``: cluster index in its text; ``visible``: not blank)."""

    __slots__ = ("joined", "offsets", "cps", "flags", "start", "end", "owner", "index", "first", "count")

    def __init__(self, texts: list[str]):
        n = len(texts)
        lengths = np.fromiter(map(len, texts), np.int64, n)
        self.offsets = offsets = np.cumsum(lengths + 1) - lengths - 1
        self.joined = "\x00".join(texts) + "\x00"
        self.cps = cps = code_points(self.joined)
        self.flags = flags = flags_of(cps)
        brk = breaks(cps, flags)
        hard = np.flatnonzero(flags & _COMPLEX)
        if len(hard):
            for t in np.unique(np.searchsorted(offsets, hard, "right") - 1).tolist():
                o = int(offsets[t])
                brk[o : o + len(texts[t])] = regex_breaks(texts[t])
        sep = np.zeros(len(cps) + 1, bool)
        sep[offsets + lengths] = True
        b = np.flatnonzero(brk)
        keep = ~sep[b]
        self.start = b[keep]
        self.end = np.append(b[1:], len(cps))[keep]
        self.owner = counts_before(sep)[self.start]
        self.count = np.bincount(self.owner, minlength=n)
        self.first = np.cumsum(self.count) - self.count
        self.index = np.arange(len(self.start)) - self.first[self.owner]

    def visible(self) -> np.ndarray:
        """Bool per cluster: it has a code point that is neither whitespace nor invisible."""
        vis = counts_before((self.flags & _BLANK) == 0)
        return vis[self.end] > vis[self.start]

    def nfc(self) -> np.ndarray:
        """Bool per text: NFC for sure (the quick check of UAX #15 says Yes: no code point of
        :func:`_nfc_suspects`, combining classes in order); False means "ask unicodedata"."""
        ccc = _tables()[2][self.cps]
        bad = (self.flags & _NOT_NFC) != 0
        bad[1:] |= (ccc[1:] != 0) & (ccc[:-1] > ccc[1:])
        out = np.ones(len(self.offsets), bool)
        out[np.searchsorted(self.offsets, np.flatnonzero(bad), "right") - 1] = False
        return out

    def simple(self) -> np.ndarray:
        """Bool per text: no code point of ``JOINING`` (see :func:`core.noise.text.is_simple`)."""
        j = counts_before((self.flags & _JOIN) != 0)
        lengths = np.diff(np.append(self.offsets, len(self.cps))) - 1
        return j[self.offsets + lengths] == j[self.offsets]
