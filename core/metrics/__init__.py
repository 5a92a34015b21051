"""Rank-based retrieval metrics (one gold document per query), bootstrap intervals, paired significance
tests, degradation-curve summaries and rank correlations: the project's one home for statistics."""

from core.metrics.bootstrap import METRICS, Estimate, bootstrap_ci, mean_ci, per_query, relative_drop_ci
from core.metrics.correlation import drop_replicates, query_draws, spearman, spearman_ci
from core.metrics.curves import (
    CurveBands,
    auc,
    cluster_bands,
    cluster_bands_batch,
    curve_bands,
    level_at_half,
)
from core.metrics.hierarchical import (
    hierarchical_drop_ci,
    hierarchical_drop_difference,
    hierarchical_mean_ci,
    hierarchical_mean_difference,
)
from core.metrics.mrr import mrr
from core.metrics.recall import recall_at
from core.metrics.significance import (
    PairedDifference,
    holm,
    paired_difference,
    paired_randomization_test,
    paired_randomization_tests,
    relative_drop_difference,
    stars,
)

__all__ = [
    "METRICS",
    "CurveBands",
    "Estimate",
    "PairedDifference",
    "auc",
    "bootstrap_ci",
    "cluster_bands",
    "cluster_bands_batch",
    "curve_bands",
    "drop_replicates",
    "hierarchical_drop_ci",
    "hierarchical_drop_difference",
    "hierarchical_mean_ci",
    "hierarchical_mean_difference",
    "holm",
    "level_at_half",
    "mean_ci",
    "mrr",
    "paired_difference",
    "paired_randomization_test",
    "paired_randomization_tests",
    "per_query",
    "query_draws",
    "recall_at",
    "relative_drop_ci",
    "relative_drop_difference",
    "spearman",
    "spearman_ci",
    "stars",
]
