"""The FAISS index returns core.ranking.top_k's order (ties included); HNSW only as an explicit, labelled,
large-corpus option."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from core import search_index
from core.errors import ConfigError
from core.ranking import top_k
from core.search_index import HNSW_MIN_DOCS, build_index


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def flat(docs: np.ndarray):
    return build_index(docs, fingerprint="test", corpus="test")


@pytest.mark.parametrize("n_queries", [1, 2, 30])
def test_flat_top_k_equals_top_k_on_random_data(n_queries):
    rng = np.random.default_rng(0)
    docs, queries = unit(rng.standard_normal((3000, 48))), unit(rng.standard_normal((n_queries, 48)))
    index = flat(docs)
    assert index.exact and index.label.startswith("exact")
    scores = queries @ docs.T
    for k in (1, 5, 10, 50):
        ids, got = index.search(queries, k)
        np.testing.assert_array_equal(ids, top_k(scores, k))
        np.testing.assert_allclose(got, np.take_along_axis(scores, ids, axis=1), atol=1e-6)
        assert (np.diff(got, axis=1) <= 0).all()


def test_flat_top_k_equals_top_k_with_duplicate_documents():
    """Exact ties: duplicated documents score identically, and the lowest ids win, also at the k-th place
    and when the tied group is larger than FAISS's first answer (the search must widen)."""
    rng = np.random.default_rng(1)
    base = unit(rng.standard_normal((40, 16)))
    docs = np.concatenate([base, base[rng.integers(0, 40, 200)], np.repeat(base[:1], 60, axis=0)])
    queries = np.concatenate([docs[[0, 5, 77, 239]], unit(rng.standard_normal((3, 16)))])
    index = flat(docs)
    # Not ``queries @ docs.T``: a BLAS matmul may round two identical columns differently (its edge kernels
    # differ from its main one; on this AMD EPYC, doc 0 and its copy 296 scored 6e-8 apart), which breaks the
    # exact ties this test is about. einsum without BLAS computes every (query, doc) pair the same way.
    scores = np.einsum("qd,nd->qn", queries, docs, optimize=False)
    assert (scores[:, 240:300] == scores[:, [0]]).all()  # the copies of doc 0 tie exactly
    for k in (1, 2, 3, 7, 25, 61, 70):
        ids, got = index.search(queries, k)
        np.testing.assert_array_equal(ids, top_k(scores, k))
        for row_ids, row_scores in zip(ids, got):
            # The rule itself: score descending, then doc id ascending.
            order = np.lexsort((row_ids, -row_scores))
            np.testing.assert_array_equal(order, np.arange(len(row_ids)))
    # Query 0 is document 0, which occurs 61+ times: the best 61 are its copies, lowest ids first.
    copies = np.flatnonzero((docs == docs[0]).all(axis=1))
    np.testing.assert_array_equal(index.search(queries[:1], len(copies))[0][0], copies)


def test_exact_ties_by_construction():
    """Scores exactly representable in float32 (any summation order gives the same value)."""
    docs = np.zeros((50, 4), np.float32)
    docs[:, 0] = np.repeat([0.5, 0.25, 1.0, 0.5, 0.75], 10)
    index = flat(docs)
    query = np.array([[1.0, 0, 0, 0]], np.float32)
    ids, scores = index.search(query, 15)
    assert ids[0].tolist() == list(range(20, 30)) + [40, 41, 42, 43, 44]
    assert scores[0].tolist() == [1.0] * 10 + [0.75] * 5
    ids, _ = index.search(query, 25)
    assert ids[0, 10:].tolist() == list(range(40, 50)) + [0, 1, 2, 3, 4]  # 0.5 tie (0-9, 30-39): lowest


def test_vectors_are_the_indexed_rows_without_a_copy(monkeypatch):
    docs = unit(np.random.default_rng(5).standard_normal((300, 8)))
    index = flat(docs)
    view = index.vectors()
    np.testing.assert_array_equal(view, docs)
    assert not view.flags.owndata and not view.flags.writeable
    monkeypatch.setattr(search_index, "HNSW_MIN_DOCS", 100)
    # The view keeps its index alive: no dangling memory once the index object itself is dropped.
    hnsw_view = build_index(docs, fingerprint="t", corpus="c", kind="hnsw").vectors()
    gc.collect()
    _ = [np.ones(300 * 8, np.float32) * i for i in range(50)]  # reuse freed memory, if it were freed
    np.testing.assert_array_equal(hnsw_view, docs)


def test_k_bounds_and_shape_errors():
    docs = unit(np.random.default_rng(2).standard_normal((7, 8)))
    index = flat(docs)
    ids, _ = index.search(docs[:2], 100)
    assert ids.shape == (2, 7) and sorted(ids[0].tolist()) == list(range(7))
    assert index.search(docs[:2], 0)[0].shape == (2, 0)
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.ones((1, 3), np.float32), 1)


def test_hnsw_refused_under_the_threshold():
    docs = unit(np.random.default_rng(3).standard_normal((100, 8)))
    with pytest.raises(ConfigError) as err:
        build_index(docs, fingerprint="t", corpus="c", kind="hnsw")
    message = str(err.value)
    assert "\n" not in message and f"{HNSW_MIN_DOCS:,}" in message and "100" in message
    with pytest.raises(ConfigError, match="unknown search index 'ivf'"):
        build_index(docs, fingerprint="t", corpus="c", kind="ivf")


def test_hnsw_is_labelled_approximate_deterministic_and_keeps_the_order(monkeypatch):
    # The real FAISS HNSW on a small corpus: the threshold is lowered for this test only.
    monkeypatch.setattr(search_index, "HNSW_MIN_DOCS", 100)
    rng = np.random.default_rng(4)
    docs, queries = unit(rng.standard_normal((2000, 32))), unit(rng.standard_normal((20, 32)))
    a = build_index(docs, fingerprint="t", corpus="c", kind="hnsw")
    b = build_index(docs, fingerprint="t", corpus="c", kind="hnsw")
    assert not a.exact and a.label.startswith("approximate") and "HNSW" in a.label
    ids_a, scores_a = a.search(queries, 10)
    ids_b, _ = b.search(queries, 10)
    np.testing.assert_array_equal(ids_a, ids_b)  # the same vectors give the same graph and answers
    assert (np.diff(scores_a, axis=1) <= 0).all()
    exact = top_k(queries @ docs.T, 10)
    recall = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(ids_a, exact)])
    assert recall >= 0.9
