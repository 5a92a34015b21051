"""Exact ranking: every rank and top-k the project shows or stores comes from here.

The tie rule is one for all: a document's *rank* counts the documents scoring strictly higher, so ties are
resolved in its favour (the stored gold rank); an *ordering* of documents is by score, then by doc id, and
an ordering that must agree with a stored gold rank puts the gold ahead of the documents tied with it.
No approximate index ever touches a stored rank. Scores must be finite: a NaN compares false with
everything, so it would never be "strictly higher" and a NaN model would rank every gold first; every
function here refuses NaN and infinite scores (:class:`core.errors.NonFiniteError`) instead of ranking them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import NonFiniteError


@dataclass(frozen=True)
class GoldRanks:
    """Per query: the gold's rank, its score, and the top-k documents with their scores."""

    rank: np.ndarray  # int64, 1-based
    gold_score: np.ndarray  # float32
    top_ids: np.ndarray  # int64 (n, k), best first
    top_scores: np.ndarray  # float32 (n, k)


def _require_finite(scores: np.ndarray, what: str = "scores") -> None:
    """Raise :class:`NonFiniteError` if ``scores`` hold a NaN or an infinity."""
    finite = np.isfinite(scores)
    if not finite.all():
        raise NonFiniteError(
            f"{int((~finite).sum())} of {finite.size} {what} are NaN or infinite; refusing to rank them (a NaN "
            "is never above the gold, so every gold would rank first)"
        )


def _require_rankable(vectors: np.ndarray, what: str) -> None:
    """Raise :class:`NonFiniteError` unless every dot product of ``vectors`` with such vectors is finite.

    Entries within ``sqrt(float32 max / dim)`` in absolute value keep every dot product finite (unit rows are
    far inside), so checking the vectors, O((n + m) d), spares checking the n x m scores."""
    if vectors.size == 0:
        return
    bound = float(np.sqrt(np.finfo(np.float32).max / max(1, vectors.shape[-1]))) / 2
    # max/min propagate NaN, and a NaN fails every comparison.
    if not (vectors.max() <= bound and vectors.min() >= -bound):
        _require_finite(vectors, what)
        raise NonFiniteError(
            f"{what} hold values over {bound:.3g}: their scores could overflow; not unit rows"
        )


def rank_of(scores: np.ndarray, doc: int) -> int:
    """1-based rank of document ``doc`` among one query's ``scores``: 1 + #{documents scoring strictly higher}.

    Raises:
        NonFiniteError: a score is NaN or infinite.

    Example:
        >>> rank_of(np.array([0.5, 0.9, 0.5]), 2)
        2
    """
    scores = np.asarray(scores)
    _require_finite(scores)
    return 1 + int((scores > scores[doc]).sum())


def ranks_of(scores: np.ndarray, docs) -> np.ndarray:
    """1-based ranks of several documents among one query's ``scores`` (:func:`rank_of` of each).

    Raises:
        NonFiniteError: a score is NaN or infinite.

    Example:
        >>> ranks_of(np.array([0.5, 0.9, 0.5, 0.1]), [3, 0, 1]).tolist()
        [4, 2, 1]
    """
    scores = np.asarray(scores)
    _require_finite(scores)
    picked = scores[np.asarray(docs, dtype=np.int64)]
    # Sorting once beats a comparison matrix: n log n instead of k * n for a corpus of 100k documents.
    ordered = np.sort(scores)
    return (1 + len(scores) - np.searchsorted(ordered, picked, side="right")).astype(np.int64)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` best documents, best first, for one query (1-D ``scores``) or each row of a matrix.

    Guarantees an exact, deterministic order: by score descending, then by doc id ascending, including
    among documents tied at the k-th place (the lowest ids are kept); ``k`` larger than the number of
    documents gives them all.

    Raises:
        NonFiniteError: a score is NaN or infinite.

    Example:
        >>> top_k(np.array([0.1, 0.7, 0.7, 0.9]), 3).tolist()
        [3, 1, 2]
    """
    scores = np.asarray(scores)
    _require_finite(scores)
    return _top_k(scores, k)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k` without the check (its callers checked, or masked a document with ``-inf``)."""
    if scores.ndim == 1:
        return _top_k(scores[None, :], k)[0]
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
        ValueError: ``rank`` outside ``[1, number of documents]``.  NonFiniteError: a score is NaN or infinite.

    Example:
        >>> run_order(np.array([0.9, 0.5, 0.5]), gold=2, rank=2, depth=1).tolist()
        [0, 2]
    """
    scores = np.asarray(scores)
    _require_finite(scores)
    if not 1 <= rank <= len(scores):
        raise ValueError(f"rank {rank} outside [1, {len(scores)}]")
    others = scores.astype(np.float64)  # a copy: the gold is masked out of the ordering of the others
    others[gold] = -np.inf
    above = _top_k(others, max(rank, depth) - 1)
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
        NonFiniteError: a vector holds a NaN or an infinity (or values so large that a score overflows).

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
    _require_rankable(queries, "query vectors")
    _require_rankable(docs, "document vectors")
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
        top = _top_k(scores, k)
        top_ids[s : s + block] = top
        top_scores[s : s + block] = np.take_along_axis(scores, top, axis=1)
    return GoldRanks(rank, gold_score, top_ids, top_scores)
