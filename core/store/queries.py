"""Every read of the results database: named functions returning DataFrames, parameters always bound.

Column names that callers may filter on come from :data:`FILTERABLE`; values are bound parameters, never
spliced into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

FILTERABLE = ("dataset", "mode", "corpus", "lang", "encoder", "noise", "level", "seed", "qid")


def _where(filters: dict, alias: str = "") -> tuple[str, list]:
    """``WHERE`` clause over allow-listed columns; a list value means ``IN``; None means no filter."""
    parts, params = [], []
    for col, value in filters.items():
        if col not in FILTERABLE:
            raise ValueError(f"cannot filter on {col!r}; allowed: {', '.join(FILTERABLE)}")
        if value is None:
            continue
        name = f"{alias}{col}"
        if isinstance(value, (list, tuple, set)):
            value = list(value)
            if not value:
                parts.append("FALSE")
                continue
            parts.append(f"{name} IN ({', '.join('?' * len(value))})")
            params.extend(value)
        else:
            parts.append(f"{name} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def summary(conn: duckdb.DuckDBPyConnection, **filters) -> pd.DataFrame:
    """MRR, accuracy@1 and n per (dataset, mode, encoder, lang, noise, level), averaged over seeds.

    Clean cells appear once with ``noise = 'none'`` and ``level = 0``.
    """
    where, params = _where(filters)
    return conn.execute(
        f"""
        SELECT dataset, mode, encoder, lang, noise, level,
               avg(1.0 / rank) AS mrr, avg(CASE WHEN rank = 1 THEN 1.0 ELSE 0.0 END) AS acc1,
               count(DISTINCT qid) AS n, count(DISTINCT seed) AS seeds
        FROM ranks {where}
        GROUP BY ALL ORDER BY dataset, mode, encoder, lang, noise, level
        """,
        params,
    ).df()


def rank_rows(
    conn: duckdb.DuckDBPyConnection, columns: Sequence[str] | None = None, **filters
) -> pd.DataFrame:
    """Rows of ``ranks`` matching ``filters`` (see :data:`FILTERABLE`), in a stable order."""
    allowed = {"dataset", "mode", "corpus", "lang", "encoder", "noise", "level", "seed", "qid", "rank",
               "n_docs", "score_gold", "top_ids", "top_scores", "query_noisy", "run_id"}  # fmt: skip
    cols = list(columns or sorted(allowed))
    bad = [c for c in cols if c not in allowed]
    if bad:
        raise ValueError(f"unknown ranks columns {bad}")
    where, params = _where(filters)
    order = "dataset, mode, encoder, lang, noise, level, seed, qid"
    return conn.execute(f"SELECT {', '.join(cols)} FROM ranks {where} ORDER BY {order}", params).df()


def gold_documents(conn: duckdb.DuckDBPyConnection, corpus: str) -> pd.DataFrame:
    """Gold doc id of every (lang, qid) of ``corpus``."""
    return conn.execute(
        "SELECT lang, qid, doc_id FROM gold WHERE corpus = ? ORDER BY lang, qid", [corpus]
    ).df()


def documents(conn: duckdb.DuckDBPyConnection, corpus: str) -> pd.DataFrame:
    """All documents of ``corpus`` ordered by doc id."""
    return conn.execute("SELECT doc_id, text FROM documents WHERE corpus = ? ORDER BY doc_id", [corpus]).df()


def runs(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every run, newest first, with its grid and package versions."""
    return conn.execute("SELECT * FROM runs ORDER BY started_at DESC").df()


def cells(conn: duckdb.DuckDBPyConnection, **filters) -> pd.DataFrame:
    """Completed cells (one row per stored condition)."""
    where, params = _where({k: v for k, v in filters.items() if k != "qid"})
    return conn.execute(f"SELECT * FROM cells {where} ORDER BY ALL", params).df()
