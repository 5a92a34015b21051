"""Each encoder's rule for documents longer than its input (core.encoders.windows): nothing is dropped."""

from __future__ import annotations

import numpy as np
import pytest

from core.encoders.windows import document_vectors, pack_sentences, window_rule
from core.errors import ConfigError


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


class WordModel:
    """A sentence-window encoder whose vector of a text counts its words of each length 1..4."""

    name, fingerprint, spec, max_tokens = "words", "w", {}, 5
    token_counts = staticmethod(words)

    def encode(self, texts):
        out = np.array([[sum(len(w) == k for w in t.split()) for k in (1, 2, 3, 4)] for t in texts], float)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_pack_keeps_order_and_every_word():
    assert pack_sentences(["a b", "c d e", "f"], 4, words) == [("a b", 2), ("c d e f", 4)]
    assert pack_sentences(["a b c d e f g"], 3, words) == [("a b c", 3), ("d e f", 3), ("g", 1)]
    assert pack_sentences(["toolongword"], 0, words) == [("toolongword", 1)]  # one word stays whole


def test_document_vector_is_the_token_weighted_mean_of_its_windows():
    model = WordModel()
    seen: list[list[str]] = []

    def encode(enc, texts, label):
        seen.append(list(texts))
        return enc.encode(texts), len(texts)

    docs = [("a bb ccc", "dddd a", "bb bb"), ("a a",)]
    vectors, n = document_vectors(model, docs, encode)
    # Windows of at most 5 words: "a bb ccc dddd a" (5) and "bb bb" (2); the second document is one window.
    assert seen == [["a bb ccc dddd a", "bb bb", "a a"]] and n == 3
    w = model.encode(["a bb ccc dddd a", "bb bb"])
    want = 5 * w[0] + 2 * w[1]
    np.testing.assert_allclose(vectors[0], want / np.linalg.norm(want), rtol=1e-6)
    np.testing.assert_allclose(vectors[1], model.encode(["a a"])[0], rtol=1e-6)


def test_rules_of_the_offline_encoders(minilm, muse3):
    assert "whole" in window_rule(muse3)
    assert f"at most {minilm.max_tokens} tokens" in window_rule(minilm) and minilm.max_tokens == 126
    sentences = [
        f"Sentence number {i} says something about the markets and the weather today." for i in range(40)
    ]
    windows = pack_sentences(sentences, minilm.max_tokens, minilm.token_counts)
    assert len(windows) > 1 and all(n <= minilm.max_tokens for _, n in windows)
    assert " ".join(w for w, _ in windows).split() == " ".join(sentences).split()  # every word, in order
    pieces = pack_sentences([" ".join(["word"] * 400)], minilm.max_tokens, minilm.token_counts)
    assert len(pieces) >= 2 and sum(len(w.split()) for w, _ in pieces) == 400


def test_an_encoder_without_a_rule_is_refused():
    class Truncating:
        name, fingerprint, spec = "bare", "x", {}

        def encode(self, texts):
            raise AssertionError("never called")

    with pytest.raises(ConfigError, match="encoder bare cannot rank documents"):
        document_vectors(Truncating(), [("a",)], lambda *a: None)
