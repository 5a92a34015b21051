"""Exact ranking: every rank and top-k the project shows or stores comes from here.

The tie rule is one for all: a document's *rank* counts the documents scoring strictly higher, so ties are
resolved in its favour (the stored gold rank); an *ordering* of documents is by score, then by doc id, and
an ordering that must agree with a stored gold rank puts the gold ahead of the documents tied with it.
No approximate index ever touches a stored rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GoldRanks:
    """Per query: the gold's rank, its score, and the top-k documents with their scores."""

    rank: np.ndarray  # int64, 1-based
    gold_score: np.ndarray  # float32
    top_ids: np.ndarray  # int64 (n, k), best first
    top_scores: np.ndarray  # float32 (n, k)


def rank_of(scores: np.ndarray, doc: int) -> int:
    """1-based rank of document ``doc`` among one query's ``scores``: 1 + #{documents scoring strictly higher}.

    Example:
        >>> rank_of(np.array([0.5, 0.9, 0.5]), 2)
        2
    """
    scores = np.asarray(scores)
    return 1 + int((scores > scores[doc]).sum())


def ranks_of(scores: np.ndarray, docs) -> np.ndarray:
    """1-based ranks of several documents among one query's ``scores`` (:func:`rank_of` of each).

    Example:
        >>> ranks_of(np.array([0.5, 0.9, 0.5, 0.1]), [3, 0, 1]).tolist()
        [4, 2, 1]
    """
    scores = np.asarray(scores)
    picked = scores[np.asarray(docs, dtype=np.int64)]
    # Sorting once beats a comparison matrix: n log n instead of k * n for a corpus of 100k documents.
    ordered = np.sort(scores)
    return (1 + len(scores) - np.searchsorted(ordered, picked, side="right")).astype(np.int64)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` best documents, best first, for one query (1-D ``scores``) or each row of a matrix.

    Guarantees an exact, deterministic order: by score descending, then by doc id ascending, including
    among documents tied at the k-th place (the lowest ids are kept); ``k`` larger than the number of
    documents gives them all.

    Example:
        >>> top_k(np.array([0.1, 0.7, 0.7, 0.9]), 3).tolist()
        [3, 1, 2]
    """
    scores = np.asarray(scores)
    if scores.ndim == 1:
        return top_k(scores[None, :], k)[0]
    n, m = scores.shape
    k = max(0, min(k, m))
    if k == 0:
        return np.zeros((n, 0), np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
    ps = np.take_along_axis(scores, part, axis=1)
    if k < m:
        # argpartition keeps an arbitrary subset of the documents tied at the k-th score; those rows (rare)
        # are redone exactly so that the lowest ids win, as the ordering rule says.
        kth = ps.min(axis=1)
        for i in np.flatnonzero((scores >= kth[:, None]).sum(axis=1) > k):
            ids = np.flatnonzero(scores[i] >= kth[i])
            part[i] = ids[np.lexsort((ids, -scores[i, ids]))][:k]
            ps[i] = scores[i, part[i]]
    order = np.lexsort((part, -ps), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


def run_order(scores: np.ndarray, gold: int, rank: int, depth: int) -> np.ndarray:
    """One query's documents best first, down to ``max(rank, depth)``, with ``gold`` at position ``rank``.

    The other documents follow :func:`top_k`'s order; the gold is placed at its stored ``rank`` (which
    :func:`gold_ranks` computed with ties in its favour), so a run written from this order scores exactly
    the stored rank in any evaluator, and the gold is never cut off the list.

    Raises:
        ValueError: ``rank`` outside ``[1, number of documents]``.

    Example:
        >>> run_order(np.array([0.9, 0.5, 0.5]), gold=2, rank=2, depth=1).tolist()
        [0, 2]
    """
    scores = np.asarray(scores)
    if not 1 <= rank <= len(scores):
        raise ValueError(f"rank {rank} outside [1, {len(scores)}]")
    others = scores.astype(np.float64)  # a copy: the gold is masked out of the ordering of the others
    others[gold] = -np.inf
    above = top_k(others, max(rank, depth) - 1)
    above = above[above != gold]
    return np.insert(above, rank - 1, gold)


def gold_ranks(
    queries: np.ndarray, docs: np.ndarray, gold: np.ndarray, *, k: int = 5, block: int = 512
) -> GoldRanks:
    """Rank every query's gold document by cosine similarity, exactly.

    Definition: ``rank = 1 + #{documents scoring strictly higher than the gold}``, so ties are resolved in
    the gold's favour and the result does not depend on document order. The top-k follows :func:`top_k`.
    Inputs must be unit-norm rows (cosine = dot product).

    Args:
        queries: float32 (n, d) unit rows.  docs: float32 (m, d) unit rows.
        gold: int (n,) doc index of each query's gold.  k: how many top documents to return.

    Returns:
        :class:`GoldRanks` with arrays of length n.

    Raises:
        ValueError: on shape mismatch or a gold index outside ``[0, m)``.

    Example:
        >>> q = np.eye(2, dtype=np.float32); d = np.eye(2, dtype=np.float32)
        >>> gold_ranks(q, d, np.array([0, 0])).rank.tolist()
        [1, 2]
    """
    queries, docs = np.asarray(queries, np.float32), np.asarray(docs, np.float32)
    gold = np.asarray(gold, np.int64)
    if queries.ndim != 2 or docs.ndim != 2 or queries.shape[1] != docs.shape[1]:
        raise ValueError(f"shapes do not match: queries {queries.shape}, docs {docs.shape}")
    if len(gold) != len(queries):
        raise ValueError(f"{len(gold)} gold ids for {len(queries)} queries")
    if len(gold) and (gold.min() < 0 or gold.max() >= len(docs)):
        raise ValueError(f"gold ids must lie in [0, {len(docs)})")
    n, k = len(queries), min(k, len(docs))
    rank = np.empty(n, np.int64)
    gold_score = np.empty(n, np.float32)
    top_ids = np.empty((n, k), np.int64)
    top_scores = np.empty((n, k), np.float32)
    for s in range(0, n, block):
        # Deliberately numpy, not the FAISS index live search uses: FAISS sums each dot product in its own
        # SIMD order, which differs from this matmul in the last bit for most (query, document) pairs (80%
        # on 66k x 512-d vectors, measured), so near-ties could resolve differently and stored rows change.
        # A rank also needs every document's score (count strictly higher), which a top-k index skips.
        scores = queries[s : s + block] @ docs.T
        g = scores[np.arange(len(scores)), gold[s : s + block]]
        gold_score[s : s + block] = g
        rank[s : s + block] = 1 + (scores > g[:, None]).sum(axis=1)
        top = top_k(scores, k)
        top_ids[s : s + block] = top
        top_scores[s : s + block] = np.take_along_axis(scores, top, axis=1)
    return GoldRanks(rank, gold_score, top_ids, top_scores)
