"""Summary table printed after a run and by ``python -m precompute summary``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.conditions import CLEAN_NOISE
from core.store import connect
from core.store import queries as q


def summary_frame(db: str | Path, metric: str = "mrr", noise: list[str] | None = None) -> pd.DataFrame:
    """Wide table: one row per (dataset, mode, corpus, noise, encoder, language), one column per level
    (seed-averaged).

    The dataset column is shown only when the database holds several datasets (NTREX-128's ``amh`` is not
    Tatoeba's), the corpus column (a pooled language set's digest, ``eng`` for a multi-way set's English side)
    only when some corpus is not a language's own.
    """
    with connect(db, read_only=True) as conn:
        df = q.summary(conn)
    if df.empty:
        return df
    clean = df[df.noise == CLEAN_NOISE]
    noisy = df[df.noise != CLEAN_NOISE]
    # The clean cell is every noise type's level-0 point.
    parts = (
        [noisy] + [clean.assign(noise=n) for n in sorted(noisy.noise.unique())]
        if not noisy.empty
        else [clean]
    )
    df = pd.concat(parts)
    if noise:
        df = df[df.noise.isin(noise)]
    # Keyed by corpus too: pooled grids of different language sets in one DB are different experiments.
    df = df.assign(corpus=[_corpus_label(m, c) for m, c in zip(df["mode"], df["corpus"])])
    index = ["dataset", "mode", "corpus", "noise", "encoder", "lang"]
    wide = df.pivot_table(index=index, columns="level", values=metric)
    labels = [f"{c:g}" for c in wide.columns]
    # Levels that print alike (0.1 and 0.1000001) get their exact values, never one shared column name.
    wide.columns = labels if len(set(labels)) == len(labels) else [repr(float(c)) for c in wide.columns]
    n = df.groupby(index).n.max()
    out = wide.join(n).reset_index()
    if (out["corpus"] == "").all():
        out = out.drop(columns="corpus")
    if out["dataset"].nunique() == 1:
        out = out.drop(columns="dataset")
    return out


def query_set_notice(db: str | Path, **filters) -> str:
    """The one-line notice of the cells every read of ``db`` leaves out because they use another query set
    than the newest cells of their language (:func:`core.store.queries.left_out_cells`, restricted by
    ``filters``: lists of values or None); empty when none is."""
    filters = {k: v for k, v in filters.items() if k in q.FILTERABLE and v}
    with connect(db, read_only=True) as conn:
        return q.left_out_notice(q.left_out_cells(conn, **filters))


def _corpus_label(mode: str, corpus: str) -> str:
    # A language's own pair corpus adds nothing; a pooled one is shown by its id's digest, a multi-way set's
    # shared English side (flores200/pair/eng) or documents by their last part.
    shared = corpus.endswith("/eng")
    return "" if mode == "pair" and not shared else corpus.rsplit("/", 1)[-1]


def print_summary(db: str | Path, metric: str = "mrr", noise: list[str] | None = None) -> None:
    """Print :func:`summary_frame` (an empty DB prints a hint instead), then :func:`query_set_notice`'s line
    when cells are left out."""
    df = summary_frame(db, metric, noise)
    if df.empty:
        print(f"{db}: no results yet; run `python -m precompute run --grid ... --db {db}`")
        return
    print(f"\n{metric.upper()} by level ({db})")
    with pd.option_context(
        "display.max_rows", 500, "display.width", 200, "display.float_format", "{:.3f}".format
    ):
        print(df.to_string(index=False))
    notice = query_set_notice(db)
    if notice:
        print(f"notice: {notice}")
