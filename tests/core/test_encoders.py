"""Offline encoders, the cache, and clean failures for what cannot load here."""

import time

import numpy as np
import pytest

from core.encoders import EmbeddingCache, encode_cached, encoder_fingerprint, load_encoder, resolve_spec
from core.errors import EncoderUnavailable, UnknownNameError

TEXTS = ["ሰላም ለዓለም", "Guten Morgen", "", "👩‍👩‍👧 \u200f שלום", "a" * 3000]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["muse3", "minilm"])
def test_offline_encoders_give_unit_float32_rows(name, request):
    enc = request.getfixturevalue(name)
    v = enc.encode(TEXTS)
    assert v.dtype == np.float32 and v.shape[0] == len(TEXTS)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert enc.encode([]).shape[0] == 0
    assert enc.fingerprint == encoder_fingerprint(name)
    # order of the batch must not change a text's vector (muse3 sorts by length internally)
    assert np.allclose(enc.encode(TEXTS[::-1])[::-1], v, atol=1e-5)


@pytest.mark.slow
def test_cache_encodes_each_text_once(muse3, tmp_path):
    cache = EmbeddingCache(muse3.fingerprint, root=tmp_path)
    v1, n1 = encode_cached(muse3, TEXTS + TEXTS[:2], cache)
    v2, n2 = encode_cached(muse3, TEXTS, cache)
    assert (n1, n2) == (len(TEXTS), 0)
    assert np.array_equal(v1[: len(TEXTS)], v2) and len(cache) == len(TEXTS)
    cache.close()


@pytest.mark.slow
def test_filling_the_cache_without_keeping_vectors(muse3, tmp_path):
    """keep=False (the runner's per-language prefetch) stores the vectors a later read returns, in input
    order although missing texts are encoded sorted by length."""
    cache = EmbeddingCache(muse3.fingerprint, root=tmp_path)
    v, n = encode_cached(muse3, TEXTS[:3], cache, keep=False)
    assert (v.size, n) == (0, 3) and cache.contains(TEXTS) == set(TEXTS[:3])
    v_all, n_all = encode_cached(muse3, TEXTS[::-1], cache, batch=2)
    assert n_all == 2 and np.allclose(v_all, muse3.encode(TEXTS[::-1]), atol=1e-5)
    cache.close()


def test_unknown_and_unavailable_encoders_fail_cleanly(monkeypatch):
    with pytest.raises(UnknownNameError, match="unknown encoder 'nope'.*muse3"):
        resolve_spec("nope")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.monotonic()
    with pytest.raises(EncoderUnavailable, match="^encoder labse unavailable: "):
        load_encoder("labse")
    assert time.monotonic() - t0 < 10, "a hub model must fail fast, not retry for a minute"
    with pytest.raises(EncoderUnavailable, match="pooling"):
        load_encoder("org/model@weird")


def test_hub_without_network_fails_fast(monkeypatch):
    # An uncached hub id with the hub unreachable (a closed local port, whatever this machine's network):
    # the probe must answer within seconds, with the reason, never retry for a minute.
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    t0 = time.monotonic()
    with pytest.raises(EncoderUnavailable, match="^encoder clir-test/absent unavailable: no network access"):
        load_encoder("clir-test/absent")
    assert time.monotonic() - t0 < 30


def test_every_kind_describes_itself_as_spec_and_fingerprint():
    from core.encoders import e5_port, e5_small, muse3, sentence_transformer

    calls = {
        "muse3": lambda: muse3.describe("muse3"),
        "e5-small": lambda: e5_small.describe("e5-small"),
        "e5-small-torch": lambda: e5_port.describe("e5-small-torch"),
        "minilm": lambda: sentence_transformer.describe("minilm", resolve_spec("minilm")["model"]),
    }
    described = 0
    for name, describe in calls.items():
        try:
            spec, fingerprint = describe()
        except EncoderUnavailable:
            continue  # an optional package missing here; the other kinds still answer
        assert isinstance(spec, dict) and spec["kind"] == resolve_spec(name)["kind"]
        assert fingerprint == encoder_fingerprint(name)
        described += 1
    assert described >= 2
