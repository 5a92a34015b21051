"""Encoders behind one interface, a registry, and an on-disk embedding cache."""

from core.encoders.base import Encoder, fingerprint_of, l2_normalise
from core.encoders.cache import EmbeddingCache, encode_cached
from core.encoders.registry import encoder_fingerprint, load_encoder, registry, resolve_spec, seen_languages

__all__ = [
    "Encoder", "EmbeddingCache", "encoder_fingerprint", "encode_cached", "fingerprint_of", "l2_normalise", "load_encoder",
    "registry", "resolve_spec", "seen_languages",
]  # fmt: skip
