"""Rank-based retrieval metrics (one gold document per query) and bootstrap intervals."""

from core.metrics.bootstrap import METRICS, Estimate, bootstrap_ci, per_query, relative_drop_ci
from core.metrics.mrr import mrr
from core.metrics.recall import recall_at

__all__ = ["METRICS", "Estimate", "bootstrap_ci", "mrr", "per_query", "recall_at", "relative_drop_ci"]
