"""Mean reciprocal rank from gold ranks."""

from __future__ import annotations

from core.metrics._validate import as_ranks


def mrr(ranks, k: int | None = None) -> float:
    """Mean of ``1 / rank`` over queries; with ``k``, ranks beyond ``k`` count 0 (MRR@k).

    Args:
        ranks: 1-based ranks of each query's gold document.  k: optional cut-off (>= 1).

    Returns:
        MRR in [0, 1]; NaN for no queries.

    Raises:
        ValueError: a rank below 1, or ``k < 1``.

    Example:
        >>> mrr([1, 2, 4])
        0.5833333333333334
        >>> mrr([1, 2, 20], k=10)
        0.5
    """
    r = as_ranks(ranks)
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not len(r):
        return float("nan")
    rr = 1.0 / r
    if k is not None:
        rr[r > k] = 0.0
    return float(rr.mean())
