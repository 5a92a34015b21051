"""Exact ranking of gold documents: no approximate index ever touches a stored rank."""

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


def gold_ranks(
    queries: np.ndarray, docs: np.ndarray, gold: np.ndarray, *, k: int = 5, block: int = 512
) -> GoldRanks:
    """Rank every query's gold document by cosine similarity, exactly.

    Definition: ``rank = 1 + #{documents scoring strictly higher than the gold}``, so ties are resolved in
    the gold's favour and the result does not depend on document order. Inputs must be unit-norm rows
    (cosine = dot product).

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
        scores = queries[s : s + block] @ docs.T
        rows = np.arange(len(scores))
        g = scores[rows, gold[s : s + block]]
        gold_score[s : s + block] = g
        rank[s : s + block] = 1 + (scores > g[:, None]).sum(axis=1)
        part = (
            np.argpartition(-scores, k - 1, axis=1)[:, :k]
            if k < scores.shape[1]
            else np.tile(np.arange(k), (len(scores), 1))
        )
        ps = np.take_along_axis(scores, part, axis=1)
        order = np.lexsort((part, -ps), axis=1)  # by score, then doc id: deterministic among ties
        top_ids[s : s + block] = np.take_along_axis(part, order, axis=1)
        top_scores[s : s + block] = np.take_along_axis(ps, order, axis=1)
    return GoldRanks(rank, gold_score, top_ids, top_scores)
