"""The one interface every encoder implements."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from core.errors import NonFiniteError


@runtime_checkable
class Encoder(Protocol):
    """A sentence encoder.

    ``name`` is the registry name; ``fingerprint`` changes whenever the vectors could change (weights,
    pooling, package version), so caches and stored rows keyed by it are never stale.
    ``encode`` returns float32 rows of unit L2 norm, one per text, in input order.
    """

    name: str
    fingerprint: str
    spec: dict

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def fingerprint_of(parts: dict) -> str:
    """A short stable hash of a JSON-able description of an encoder."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Return ``x`` as float32 with unit-norm rows; all-zero rows stay zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def finite_vectors(name: str, vectors: np.ndarray) -> np.ndarray:
    """Return ``vectors`` (one row per text) unchanged if every entry is finite, else refuse them.

    The one check between an encoder's output and anything that ranks, caches or stores it: a model whose
    weights are NaN (a diverged training) gives NaN vectors, and a NaN score is never above the gold, so
    every rank would be 1 and the model reported as perfect.

    Raises:
        NonFiniteError: ``encoder NAME produced non-finite vectors for N texts`` (N: the rows with a NaN or
        an infinity).

    Example:
        >>> finite_vectors("m", np.ones((2, 3), np.float32)).shape
        (2, 3)
    """
    arr = np.asarray(vectors)
    finite = np.isfinite(arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1))
    if not finite.all():
        bad = int((~finite).any(axis=1).sum())
        raise NonFiniteError(
            f"encoder {name} produced non-finite vectors for {bad} texts (of {len(finite)}): NaN or infinity, "
            "e.g. a model whose training diverged; nothing it computed is stored"
        )
    return vectors


def folder_identity(path: Path) -> str:
    """A hash of a model folder's file names, sizes and first/last 64 KiB: changes when a model is retrained."""
    # Weights are hashed by size and head/tail bytes: cheap on 100s of MB, and a retrained model differs.
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 16))
            if f.stat().st_size > 1 << 17:
                fh.seek(-(1 << 16), os.SEEK_END)
                h.update(fh.read())
    return h.hexdigest()


def query_side(encoder: Encoder) -> Encoder:
    """The encoder that turns queries into vectors: ``encoder`` itself unless it is asymmetric."""
    return getattr(encoder, "query_encoder", encoder)


def document_side(encoder: Encoder) -> Encoder:
    """The encoder that turns documents into vectors: ``encoder`` itself unless it is asymmetric."""
    return getattr(encoder, "document_encoder", encoder)
