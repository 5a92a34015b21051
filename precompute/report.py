"""Summary table printed after a run and by ``python -m precompute summary``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.store import connect
from core.store import queries as q


def summary_frame(db: str | Path, metric: str = "mrr", noise: list[str] | None = None) -> pd.DataFrame:
    """Wide table: one row per (mode, noise, encoder, language), one column per level (seed-averaged)."""
    with connect(db, read_only=True) as conn:
        df = q.summary(conn)
    if df.empty:
        return df
    clean = df[df.noise == "none"]
    noisy = df[df.noise != "none"]
    # The clean cell is every noise type's level-0 point.
    parts = (
        [noisy] + [clean.assign(noise=n) for n in sorted(noisy.noise.unique())]
        if not noisy.empty
        else [clean]
    )
    df = pd.concat(parts)
    if noise:
        df = df[df.noise.isin(noise)]
    wide = df.pivot_table(index=["mode", "noise", "encoder", "lang"], columns="level", values=metric)
    wide.columns = [f"{c:g}" for c in wide.columns]
    n = df.groupby(["mode", "noise", "encoder", "lang"]).n.max()
    return wide.join(n).reset_index()


def print_summary(db: str | Path, metric: str = "mrr", noise: list[str] | None = None) -> None:
    """Print :func:`summary_frame` (an empty DB prints a hint instead)."""
    df = summary_frame(db, metric, noise)
    if df.empty:
        print(f"{db}: no results yet; run `python -m precompute run --grid ... --db {db}`")
        return
    print(f"\n{metric.upper()} by level ({db})")
    with pd.option_context(
        "display.max_rows", 500, "display.width", 200, "display.float_format", "{:.3f}".format
    ):
        print(df.to_string(index=False))
