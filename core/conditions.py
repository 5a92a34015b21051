"""The clean condition's name, defined once (the noise library's identity ``"none"`` must equal it)."""

from __future__ import annotations

CLEAN_NOISE = "none"  # the noise name of unnoised queries, as stored in every table
CLEAN = (CLEAN_NOISE, 0.0, 0)  # (noise, level, seed): the clean condition is stored once, as level 0, seed 0
