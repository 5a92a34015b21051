"""Shared input check for rank-based metrics."""

import numpy as np


def as_ranks(ranks) -> np.ndarray:
    """Ranks as float64; raises ValueError on a rank below 1."""
    r = np.asarray(ranks, dtype=np.float64).ravel()
    if len(r) and r.min() < 1:
        raise ValueError(f"ranks are 1-based; got {r.min()}")
    return r
