"""Recall@k (accuracy@1 for k = 1) from gold ranks: one relevant document per query."""

from __future__ import annotations

from core.metrics._validate import as_ranks


def recall_at(ranks, k: int) -> float:
    """Share of queries whose gold document is within the top ``k``.

    With one gold per query this equals hit rate@k; ``recall_at(ranks, 1)`` is the accuracy@1 that
    Tatoeba papers publish.

    Raises:
        ValueError: a rank below 1, or ``k < 1``.

    Example:
        >>> recall_at([1, 2, 7], 5)
        0.6666666666666666
    """
    r = as_ranks(ranks)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return float((r <= k).mean()) if len(r) else float("nan")
