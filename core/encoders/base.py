"""The one interface every encoder implements."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


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
