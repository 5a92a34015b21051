"""Asymmetric dual encoders: one model encodes queries, another encodes documents.

OPTICAL-style distillation (``core.training.losses.OTDistillLoss``) trains a student for the query side and
keeps its teacher for the documents. Everything that turns text into vectors asks for a side through
:func:`core.encoders.base.query_side` / :func:`~core.encoders.base.document_side`; each side has its own
fingerprint, so the embedding cache is keyed per side and a document side shared with a symmetric encoder
(the teacher) reuses its cached vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.encoders.base import Encoder, fingerprint_of


def asymmetric_fingerprint(query_fp: str, document_fp: str) -> str:
    """The pair's fingerprint: changes when either side's does, and differs when the sides are swapped."""
    return fingerprint_of({"kind": "asymmetric", "query": query_fp, "document": document_fp})


class AsymmetricEncoder:
    """An encoder whose queries and documents go through different models.

    ``encode`` is deliberately refused: a caller that does not say which side it encodes is a bug that would
    silently mix the two models.
    """

    def __init__(self, name: str, query_encoder: Encoder, document_encoder: Encoder, spec: dict):
        self.name = name
        self.query_encoder, self.document_encoder = query_encoder, document_encoder
        self.fingerprint = asymmetric_fingerprint(query_encoder.fingerprint, document_encoder.fingerprint)
        self.spec = {
            **spec,
            "kind": "asymmetric",
            "query": {"fingerprint": query_encoder.fingerprint, **query_encoder.spec},
            "document": {"name": document_encoder.name, "fingerprint": document_encoder.fingerprint,
                         **document_encoder.spec},
        }  # fmt: skip

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Refused: use ``query_side(enc).encode`` or ``document_side(enc).encode``."""
        raise TypeError(
            f"{self.name} is asymmetric: encode through query_side() or document_side() (core.encoders.base)"
        )


def side_fingerprints(fingerprint: str, spec: dict | None) -> tuple[str, str]:
    """(query side, document side) fingerprints of a stored encoder, from its fingerprint and stored spec.

    A symmetric encoder's two sides are the encoder itself; an asymmetric one's come from its spec (as
    :class:`AsymmetricEncoder` stores it), so vectors are found in the embedding cache of the right side.

    Example:
        >>> side_fingerprints("abc", {"kind": "muse3"})
        ('abc', 'abc')
        >>> side_fingerprints("x", {"kind": "asymmetric", "query": {"fingerprint": "q"},
        ...                         "document": {"fingerprint": "d"}})
        ('q', 'd')
    """
    if spec and spec.get("kind") == "asymmetric":
        return spec["query"]["fingerprint"], spec["document"]["fingerprint"]
    return fingerprint, fingerprint


def side_names(name: str, spec: dict | None) -> tuple[str, str]:
    """Who encodes (queries, documents) for a stored encoder, in words for tables.

    Example:
        >>> side_names("muse3", {"kind": "muse3"})
        ('muse3', 'muse3')
        >>> side_names("optical-e5", {"kind": "asymmetric", "query": {"model": "/m/optical-e5"},
        ...                           "document": {"name": "e5-small-torch"}})
        ('optical-e5 (student, /m/optical-e5)', 'e5-small-torch (teacher)')
    """
    if spec and spec.get("kind") == "asymmetric":
        return f"{name} (student, {spec['query'].get('model', '?')})", f"{spec['document']['name']} (teacher)"
    return name, name
