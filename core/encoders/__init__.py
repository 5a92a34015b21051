"""Encoders behind one interface, a registry, and an on-disk embedding cache."""

from core.encoders.asymmetric import AsymmetricEncoder, side_fingerprints
from core.encoders.base import (
    Encoder,
    document_side,
    fingerprint_of,
    finite_vectors,
    l2_normalise,
    query_side,
)
from core.encoders.cache import EmbeddingCache, encode_cached
from core.encoders.registry import encoder_fingerprint, load_encoder, registry, resolve_spec, seen_languages

__all__ = [
    "AsymmetricEncoder", "Encoder", "EmbeddingCache", "document_side", "query_side", "side_fingerprints", "encoder_fingerprint", "encode_cached", "finite_vectors", "fingerprint_of", "l2_normalise", "load_encoder",
    "registry", "resolve_spec", "seen_languages",
]  # fmt: skip
