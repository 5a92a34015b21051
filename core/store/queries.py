"""Every read of the results database: named functions returning DataFrames, parameters always bound.

Column names that callers may filter on come from :data:`FILTERABLE`; values are bound parameters, never
spliced into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from core.conditions import CLEAN_NOISE
from core.store.schema import CELL_KEY, STATS_COLUMNS, stats_select

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


def _has_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()[0][0]
    )


# --- One query set per curve ------------------------------------------------------------------------------
# A cell's query set: its data fingerprint (the exact queries, gold and corpus it ranked), or for a cell from
# before fingerprints (schema < v3) its query count, the most that can be told of it.
_QUERY_SET = "coalesce(data_fingerprint, 'n=' || CAST(n_queries AS VARCHAR))"
_LEFT_OUT = "_left_out"  # the connection-local view of the left-out cells' keys (see _kept)


def left_out_cells(conn: duckdb.DuckDBPyConnection, **filters) -> pd.DataFrame:
    """Cells that every combining read leaves out because they were computed over another query set.

    The rule (one place, used by every read below that combines cells): per (dataset, mode, corpus, lang),
    only the cells over the query set of the most recently completed cell are read; cells over any other
    query set (another ``max_queries``, stored by code from before runs refused that, or a run replacing
    them in place that has not finished) are left out, so that a curve, a drop, a paired test or an export
    never combines cells over different queries. A database whose languages each have one query set (what
    ``run`` guarantees) leaves nothing out.

    ``filters`` (dataset, mode, corpus, lang, ...; see :data:`FILTERABLE`) restrict the rows returned, not the
    rule. Columns: the cell key, ``n_queries`` and ``kept_n_queries`` (the query count of the cells kept for
    the same language), in key order; zero rows in the common case.
    """
    where, params = _where({k: v for k, v in filters.items() if k != "qid"}, "c.")
    keys = ", ".join(f"c.{k}" for k in CELL_KEY)
    # A cheap test first (a tenth of the full query's time on a full study's 300k cells): does any language
    # hold two fingerprints, or a legacy cell? Almost never, and then there is nothing to leave out.
    mixed = conn.execute(
        "SELECT 1 FROM cells GROUP BY dataset, mode, corpus, lang HAVING min(data_fingerprint) <> "
        "max(data_fingerprint) OR count(data_fingerprint) < count(*) LIMIT 1"
    ).fetchall()
    if not mixed:
        return pd.DataFrame(columns=[*CELL_KEY, "n_queries", "kept_n_queries"])
    return conn.execute(
        f"""
        WITH c AS (SELECT {", ".join(CELL_KEY)}, n_queries, {_QUERY_SET} AS qs,
                          coalesce(completed_at, TIMESTAMP '1970-01-01') AS done_at FROM cells),
        k AS (SELECT dataset, mode, corpus, lang, arg_max(qs, (done_at, qs)) AS keep_qs,
                     arg_max(n_queries, (done_at, qs)) AS kept_n_queries
              FROM c GROUP BY ALL HAVING count(DISTINCT qs) > 1)
        SELECT {keys}, c.n_queries, k.kept_n_queries
        FROM c JOIN k ON c.dataset = k.dataset AND c.mode = k.mode AND c.corpus = k.corpus AND c.lang = k.lang
        {where + " AND" if where else "WHERE"} c.qs <> k.keep_qs
        ORDER BY {keys}
        """,
        params,
    ).df()


def left_out_notice(left: pd.DataFrame) -> str:
    """One line naming each language with cells in ``left`` (:func:`left_out_cells`), how many cells over
    how many queries are left out, and what to do; empty when ``left`` is empty."""
    if left.empty:
        return ""
    parts = []
    for lang, part in left.groupby("lang", sort=True):
        n, counts = len(part), sorted(set(part["n_queries"].astype(int)))
        kept = sorted(set(part["kept_n_queries"].astype(int)))
        over = " / ".join(map(str, counts))
        parts.append(f"{lang}: {n} cell{'s' if n > 1 else ''} over {over} queries left out (the newest cells "
                     f"use {' / '.join(map(str, kept))})")  # fmt: skip
    return (
        "; ".join(parts)
        + ". They use another query set than the newest cells of their language, and results "
        "never combine query sets: re-run the grid with --replace-changed to recompute them."
    )


def _kept(conn: duckdb.DuckDBPyConnection, table: str, left: pd.DataFrame | None = None) -> str:
    """A SQL condition true for the rows of ``table`` (a table name or alias holding the cell-key columns)
    that belong to no left-out cell (``left``, default :func:`left_out_cells`): ``TRUE`` when none is left
    out, so the usual database pays one small read of ``cells`` and no join."""
    left = left_out_cells(conn) if left is None else left
    if left.empty:
        return "TRUE"
    # Registered on this (short-lived) connection; re-registering replaces it.
    conn.register(_LEFT_OUT, left[list(CELL_KEY)])
    match = " AND ".join(f"x.{k} = {table}.{k}" for k in CELL_KEY)
    return f"NOT EXISTS (SELECT 1 FROM {_LEFT_OUT} x WHERE {match})"


def _and(where: str, cond: str) -> str:
    """``where`` (a ``_where`` clause, possibly empty) with ``cond`` added."""
    if cond == "TRUE":
        return where
    return f"{where} AND {cond}" if where else f" WHERE {cond}"


def _stats_source(
    conn: duckdb.DuckDBPyConnection, where: str, params: list, left: pd.DataFrame | None = None
) -> tuple[str, list]:
    """FROM-clause source of ``cell_stats`` rows restricted by ``where`` (over cell-key columns), and its
    parameters: the stored table (schema v5+), or the same aggregates computed from ``ranks`` on the fly for
    an older database opened read-only (slower, identical numbers). Cells left out by
    :func:`left_out_cells` are never in it."""
    if _has_table(conn, "cell_stats"):
        return f"(SELECT * FROM cell_stats {_and(where, _kept(conn, 'cell_stats', left))})", params
    return f"({stats_select('ranks', _and(where, _kept(conn, 'ranks', left)))})", params


def summary(conn: duckdb.DuckDBPyConnection, **filters) -> pd.DataFrame:
    """MRR, accuracy@1 and n per (dataset, mode, corpus, encoder, lang, noise, level), averaged over seeds.

    Clean cells appear once with ``noise = 'none'`` and ``level = 0``. Rows are keyed by corpus too: two
    pooled grids of different language sets in one database are two corpora, never averaged together.
    MRR and accuracy@1 are the mean over every rank row of the group (every seed's); ``n`` is the largest
    query count of one of its cells (the query count when every seed ranks the same queries, as the runner
    does). Read from the per-cell aggregates (``cell_stats``), so the cost does not grow with ``ranks``.
    Cells over another query set than their language's newest are left out (:func:`left_out_cells`).
    """
    if filters.get("qid") is not None:  # aggregates are per cell: a per-query filter needs the rows
        where, params = _where(filters)
        where = _and(where, _kept(conn, "ranks"))
        return conn.execute(
            f"""
            SELECT dataset, mode, corpus, encoder, lang, noise, level,
                   avg(1.0 / rank) AS mrr, avg(CASE WHEN rank = 1 THEN 1.0 ELSE 0.0 END) AS acc1,
                   count(DISTINCT qid) AS n, count(DISTINCT seed) AS seeds
            FROM ranks {where}
            GROUP BY ALL ORDER BY dataset, mode, corpus, encoder, lang, noise, level
            """,
            params,
        ).df()
    src, params = _stats_source(conn, *_where(filters))
    keys = ", ".join(CELL_KEY)
    return conn.execute(
        f"""
        WITH c AS (SELECT {keys}, sum(n) AS n, sum(sum_rr) AS sum_rr, sum(hits1) AS hits1
                   FROM {src} s GROUP BY {keys})
        SELECT dataset, mode, corpus, encoder, lang, noise, level,
               sum(sum_rr) / sum(n) AS mrr, sum(hits1) / sum(n) AS acc1,
               max(n) AS n, count(DISTINCT seed) AS seeds
        FROM c GROUP BY ALL ORDER BY dataset, mode, corpus, encoder, lang, noise, level
        """,
        params,
    ).df()


def cell_stats(conn: duckdb.DuckDBPyConnection, **filters) -> pd.DataFrame:
    """The per-cell, per-query-bucket aggregates (:func:`core.store.schema.stats_select`) matching
    ``filters`` (cell-key columns of :data:`FILTERABLE`), in key order.

    Columns: the cell key, bucket, n, sum_rr, sum_rr10, hits1, hits5, hits10. Computed from ``ranks`` when
    the database predates ``cell_stats`` (schema v3/v4 opened read-only).
    """
    src, params = _stats_source(conn, *_where({k: v for k, v in filters.items() if k != "qid"}))
    return conn.execute(f"SELECT * FROM {src} s ORDER BY ALL", params).df()


def rank_rows(
    conn: duckdb.DuckDBPyConnection, columns: Sequence[str] | None = None, **filters
) -> pd.DataFrame:
    """Rows of ``ranks`` matching ``filters`` (see :data:`FILTERABLE`), in a stable order; rows of cells over
    another query set than their language's newest are left out (:func:`left_out_cells`)."""
    allowed = {"dataset", "mode", "corpus", "lang", "encoder", "noise", "level", "seed", "qid", "rank",
               "n_docs", "score_gold", "top_ids", "top_scores", "query_noisy", "run_id"}  # fmt: skip
    cols = list(columns or sorted(allowed))
    bad = [c for c in cols if c not in allowed]
    if bad:
        raise ValueError(f"unknown ranks columns {bad}")
    where, params = _where(filters)
    where = _and(where, _kept(conn, "ranks"))
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
    """Every run, newest first, with its grid and package versions, and ``cells_stored``: how many of the
    stored cells it computed (a cell a later run replaced counts for that run; an interrupted run's count is
    what it stored before it stopped). From schema v7 also its ``pid``, ``pid_start`` and ``cache_dir``."""
    return conn.execute(
        "SELECT r.*, CAST(coalesce(c.n, 0) AS BIGINT) AS cells_stored FROM runs r "
        "LEFT JOIN (SELECT run_id, count(*) AS n FROM cells GROUP BY run_id) c ON c.run_id = r.run_id "
        "ORDER BY r.started_at DESC, r.run_id DESC"
    ).df()


def cells(conn: duckdb.DuckDBPyConnection, **filters) -> pd.DataFrame:
    """Completed cells (one row per stored condition), but those :func:`left_out_cells` leaves out."""
    where, params = _where({k: v for k, v in filters.items() if k != "qid"})
    where = _and(where, _kept(conn, "cells"))
    return conn.execute(f"SELECT * FROM cells {where} ORDER BY ALL", params).df()


def cell_timings(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per stored cell: its run, key columns that group a run's work, fingerprint, sizes and seconds (the
    precompute plan derives encoder speeds from them)."""
    return conn.execute(
        "SELECT run_id, corpus, lang, encoder, noise, level, seed, fingerprint, n_queries, n_docs, seconds "
        "FROM cells"
    ).df()


# --- Dashboard reads -----------------------------------------------------------------------------------
# Each page's reads are one or two of the functions below; benchmarks/dashboard_queries.py times them on a
# 5-million-row ranks table.


def db_stamp(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row: the latest run id, the number of stored cells and when the last one completed.

    The dashboard keys its caches on this, so a precompute that adds cells invalidates them.
    """
    return conn.execute(
        """
        SELECT (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1) AS run_id,
               (SELECT count(*) FROM cells) AS n_cells,
               (SELECT max(completed_at) FROM cells) AS last_completed
        """
    ).df()


def conditions(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored (dataset, mode, corpus, lang, encoder, noise, level, seed) with its n_queries and n_docs,
    but the cells :func:`left_out_cells` leaves out (what the pages offer is what they can show)."""
    return conn.execute(
        f"""
        SELECT dataset, mode, corpus, lang, encoder, noise, level, seed, fingerprint, n_queries, n_docs
        FROM cells WHERE {_kept(conn, "cells")} ORDER BY dataset, mode, lang, encoder, noise, level, seed
        """
    ).df()


def encoders(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Encoders that produced stored rows, with the fingerprint their cells were computed under."""
    return conn.execute(
        """
        SELECT e.encoder, e.fingerprint, e.spec_json, e.first_run_id,
               (SELECT count(*) FROM cells c WHERE c.encoder = e.encoder AND c.fingerprint = e.fingerprint)
                   AS n_cells
        FROM encoders e ORDER BY e.encoder, n_cells DESC
        """
    ).df()


def encoder_languages(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Whether each (encoder, lang) was seen in the encoder's training (NULL: unknown)."""
    return conn.execute(
        "SELECT encoder, fingerprint, lang, seen_in_training FROM encoder_languages ORDER BY encoder, lang"
    ).df()


def curve_ranks(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    mode: str,
    noise: str,
    encoders: Sequence[str],
    langs: Sequence[str],
    seeds: Sequence[int],
    corpus: str | None = None,
) -> pd.DataFrame:
    """Per-query ranks behind a degradation curve: the clean rows plus every level of ``noise``.

    Clean rows (noise ``none``, level 0, seed 0) are returned once; the caller reuses them for every seed.
    ``corpus`` (None: all) selects one corpus, e.g. one of several pooled language sets. Columns: corpus,
    encoder, lang, level, seed, qid, rank; a query is identified by (corpus, lang, qid).
    """
    enc_where, enc_params = _where({"encoder": list(encoders), "lang": list(langs), "corpus": corpus})
    enc_where = _and(enc_where, _kept(conn, "ranks"))
    seed_ph = ", ".join("?" * len(seeds)) or "NULL"
    return conn.execute(
        f"""
        SELECT corpus, encoder, lang, level, seed, qid, rank FROM ranks
        {enc_where} AND dataset = ? AND mode = ?
              AND ((noise = ? AND level = 0) OR (noise = ? AND seed IN ({seed_ph})))
        """,
        [*enc_params, dataset, mode, CLEAN_NOISE, noise, *seeds],
    ).df()


def curve_stats(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    mode: str,
    noise: str,
    encoders: Sequence[str],
    langs: Sequence[str],
    seeds: Sequence[int],
    corpus: str | None = None,
) -> pd.DataFrame:
    """Aggregates behind a degradation curve: the clean cells plus every level of ``noise`` over ``seeds``
    (the selection of :func:`curve_ranks`), summed over seeds, one row per (corpus, encoder, language,
    level, query bucket) instead of one per query and seed.

    Columns: corpus, encoder, lang, level, bucket, n, sum_rr, sum_rr10, hits1, hits5, hits10 (sums over the
    seeds: their ratio is the seed-averaged mean when every seed ranks the same queries) and n_queries (the
    largest ``cells.n_queries`` of one seed of that corpus, encoder, language and level: the queries with a
    value), in (corpus, encoder, lang, level, bucket) order.

    Where ``seeds`` covers every stored seed of the selection (the Curves page's default), the rows come
    from ``level_stats`` (schema v6: seed sums stored with each cell, ~2.7k rows for a full study's noise
    type); otherwise, or on a database from before v6, ``cell_stats`` is summed over the chosen seeds here
    (a few hundred thousand rows at most), and before v5 the same aggregates are computed from ``ranks``.
    The numbers are the same on every path (sums of the same per-query values). Cells over another query
    set than their language's newest are left out (:func:`left_out_cells`), on every path.
    """
    left = left_out_cells(conn)  # once for the three uses below
    fast = _curve_stats_stored(conn, dataset, mode, noise, encoders, langs, seeds, corpus, left)
    if fast is not None:
        return fast
    # List parameters (``= ANY(?)``) rather than one placeholder per language: a full study selects ~100
    # languages, and 100 OR-ed comparisons per row cost more than the rest of the filter.
    where = (
        "WHERE encoder = ANY(?) AND lang = ANY(?) AND (CAST(? AS VARCHAR) IS NULL OR corpus = ?) "
        "AND dataset = ? AND mode = ? AND ((noise = ? AND level = 0) OR (noise = ? AND seed = ANY(?)))"
    )
    params = [list(encoders), list(langs), corpus, corpus, dataset, mode, CLEAN_NOISE, noise,
              [int(s) for s in seeds]]  # fmt: skip
    src, params = _stats_source(conn, where, params, left)
    cells_where = _and(where, _kept(conn, "cells", left))
    key = "corpus, encoder, lang, level"
    sums = ", ".join(f"sum({c}) AS {c}" for c in STATS_COLUMNS)
    # Sum over seeds first (the big step), then attach the query count from ``cells`` (small).
    return conn.execute(
        f"""
        WITH s AS (SELECT {key}, bucket, {sums} FROM {src} s0 GROUP BY {key}, bucket),
        q AS (SELECT {key}, max(n_queries) AS n_queries FROM cells {cells_where} GROUP BY ALL)
        SELECT s.*, q.n_queries FROM s JOIN q USING (corpus, encoder, lang, level)
        ORDER BY {key}, bucket
        """,
        [*params, *params],
    ).df()


def _curve_stats_stored(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    mode: str,
    noise: str,
    encoders: Sequence[str],
    langs: Sequence[str],
    seeds: Sequence[int],
    corpus: str | None,
    left: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """:func:`curve_stats` from ``level_stats``, or None when the table is missing or a stored noisy group
    holds a seed outside ``seeds`` (its stored sum would include that seed), or when a cell of the selection's
    dataset and mode is in ``left`` (default :func:`left_out_cells`: the stored seed sums may include it)."""
    left = left_out_cells(conn) if left is None else left
    mine = left[(left["dataset"] == dataset) & (left["mode"] == mode)] if len(left) else left
    if not _has_table(conn, "level_stats") or not mine.empty:
        return None
    cols = ("bucket", *STATS_COLUMNS)
    rows = conn.execute(
        f"""
        SELECT corpus, encoder, lang, level, n_queries, {", ".join(cols)},
               noise = ? OR list_has_all(CAST(? AS INTEGER[]), seeds) AS covered
        FROM level_stats
        WHERE encoder = ANY(?) AND lang = ANY(?) AND (CAST(? AS VARCHAR) IS NULL OR corpus = ?)
              AND dataset = ? AND mode = ? AND ((noise = ? AND level = 0) OR noise = ?)
        ORDER BY corpus, encoder, lang, level
        """,
        [CLEAN_NOISE, [int(s) for s in seeds], list(encoders), list(langs), corpus, corpus, dataset, mode,
         CLEAN_NOISE, noise],
    ).df()  # fmt: skip
    if not rows["covered"].all():
        return None
    # One row per (group, bucket), as the summing path returns them: the key repeated per list element.
    lengths = rows["bucket"].map(len).to_numpy() if len(rows) else np.zeros(0, dtype=np.int64)
    at = np.repeat(np.arange(len(rows)), lengths)
    # ``take`` keeps the string columns in their own (Arrow) storage: no per-row Python strings.
    out = {k: rows[k].array.take(at) for k in ("corpus", "encoder", "lang", "level")}
    for c, dtype in zip(cols, (np.int16, *[np.float64] * len(STATS_COLUMNS))):
        parts = rows[c].tolist()
        out[c] = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
    out["n_queries"] = rows["n_queries"].to_numpy(dtype=np.int32)[at]
    return pd.DataFrame(out)


def selection_size(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    mode: str,
    encoders: Sequence[str],
    langs: Sequence[str],
    noise: Sequence[str],
) -> pd.DataFrame:
    """One row, column ``rows``: how many rows :func:`selection_rows` returns for the same selection,
    counted from ``cells`` (no scan of ``ranks``), so a page can refuse an export too large to build."""
    where, params = _where({"dataset": dataset, "mode": mode, "encoder": list(encoders), "lang": list(langs),
                            "noise": list(noise)})  # fmt: skip
    where = _and(where, _kept(conn, "cells"))
    return conn.execute(
        f"SELECT CAST(coalesce(sum(n_queries), 0) AS BIGINT) AS rows FROM cells {where}", params
    ).df()


def per_query_ranks(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    mode: str,
    lang: str,
    noise: str,
    seed: int,
    corpus: str | None = None,
) -> pd.DataFrame:
    """Every encoder's rank of every query of ``lang`` at every level of ``noise`` (plus clean, level 0).

    ``corpus`` (None: all) selects one corpus, e.g. one of several pooled language sets; callers showing
    one row per query must pass it when the mode has several. Columns: corpus, encoder, level, qid, rank,
    n_docs. Cells :func:`left_out_cells` leaves out are not read.
    """
    return conn.execute(
        f"""
        SELECT corpus, encoder, level, qid, rank, n_docs FROM ranks
        WHERE dataset = ? AND mode = ? AND lang = ? AND (CAST(? AS VARCHAR) IS NULL OR corpus = ?)
              AND ((noise = ? AND level = 0) OR (noise = ? AND seed = ?)) AND {_kept(conn, "ranks")}
        """,
        [dataset, mode, lang, corpus, corpus, CLEAN_NOISE, noise, seed],
    ).df()


def query_texts(conn: duckdb.DuckDBPyConnection, dataset: str, lang: str, limit: int = 5000) -> pd.DataFrame:
    """Clean query texts of ``lang`` (qid, text), in qid order, at most ``limit`` rows."""
    return conn.execute(
        "SELECT qid, text FROM queries WHERE dataset = ? AND lang = ? ORDER BY qid LIMIT ?",
        [dataset, lang, int(limit)],
    ).df()


def noisy_texts(
    conn: duckdb.DuckDBPyConnection, dataset: str, lang: str, noise: str, level: float, seed: int
) -> pd.DataFrame:
    """Stored noisy versions of ``lang``'s queries under one condition: qid, noisy, edits_json, cer."""
    return conn.execute(
        """
        SELECT qid, noisy, edits_json, cer, layout FROM noisy_queries
        WHERE dataset = ? AND lang = ? AND noise = ? AND level = ? AND seed = ? ORDER BY qid
        """,
        [dataset, lang, noise, float(level), int(seed)],
    ).df()


def query_top(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    mode: str,
    lang: str,
    noise: str,
    level: float,
    seed: int,
    qid: int,
) -> pd.DataFrame:
    """Each encoder's stored top-k for one query under one condition, one row per (encoder, position).

    Columns: encoder, corpus, rank (of the gold), pos (1-based), doc_id, score, text (the document), is_gold.
    Cells :func:`left_out_cells` leaves out are not read.
    """
    return conn.execute(
        f"""
        WITH r AS (
            SELECT encoder, corpus, rank, top_ids, top_scores FROM ranks
            WHERE dataset = ? AND mode = ? AND lang = ? AND noise = ? AND level = ? AND seed = ? AND qid = ?
                  AND {_kept(conn, "ranks")}
        ), u AS (
            SELECT encoder, corpus, rank, unnest(range(1, len(top_ids) + 1)) AS pos,
                   unnest(top_ids) AS doc_id, unnest(top_scores) AS score
            FROM r
        )
        SELECT u.encoder, u.corpus, u.rank, u.pos, u.doc_id, u.score, d.text,
               coalesce(u.doc_id = g.doc_id, FALSE) AS is_gold
        FROM u
        LEFT JOIN documents d ON d.corpus = u.corpus AND d.doc_id = u.doc_id
        LEFT JOIN gold g ON g.corpus = u.corpus AND g.lang = ? AND g.qid = ?
        ORDER BY u.encoder, u.pos
        """,
        [dataset, mode, lang, noise, float(level), int(seed), int(qid), lang, int(qid)],
    ).df()


def gold_document(conn: duckdb.DuckDBPyConnection, corpus: str, lang: str, qid: int) -> pd.DataFrame:
    """The gold document of one query: doc_id, text (zero rows when the query is not in ``corpus``)."""
    return conn.execute(
        """
        SELECT g.doc_id, d.text FROM gold g
        JOIN documents d ON d.corpus = g.corpus AND d.doc_id = g.doc_id
        WHERE g.corpus = ? AND g.lang = ? AND g.qid = ?
        """,
        [corpus, lang, int(qid)],
    ).df()


def coverage(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Stored cells per (dataset, mode, lang, encoder, noise, level, seed); ``cells`` counts the corpora. Cells
    :func:`left_out_cells` leaves out are not counted: they must be recomputed to be shown."""
    return conn.execute(
        f"""
        SELECT dataset, mode, lang, encoder, noise, level, seed, count(*) AS cells,
               max(n_queries) AS n_queries, max(completed_at) AS completed_at
        FROM cells WHERE {_kept(conn, "cells")} GROUP BY ALL ORDER BY ALL
        """
    ).df()


def selection_rows(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    mode: str,
    encoders: Sequence[str],
    langs: Sequence[str],
    noise: Sequence[str],
) -> pd.DataFrame:
    """Per-query rows of a selection, for export: no top-k lists, the noisy query text included; rows of
    cells :func:`left_out_cells` leaves out are not exported."""
    where, params = _where({"dataset": dataset, "mode": mode, "encoder": list(encoders), "lang": list(langs),
                            "noise": list(noise)})  # fmt: skip
    where = _and(where, _kept(conn, "ranks"))
    return conn.execute(
        f"""
        SELECT dataset, mode, corpus, lang, encoder, noise, level, seed, qid, rank, n_docs, score_gold,
               query_noisy, run_id
        FROM ranks {where} ORDER BY encoder, lang, noise, level, seed, qid
        """,
        params,
    ).df()


# --- Stored findings (core.findings) ----------------------------------------------------------------------


def answer_cells(
    conn: duckdb.DuckDBPyConnection, dataset: str, mode: str, corpus: str | None, seed: int = 0
) -> pd.DataFrame:
    """Identity and provenance of every cell a research answer reads (one dataset, mode and seed; one
    corpus, or all when None), in key order.

    Columns: corpus, lang, encoder, noise, level, fingerprint, data_fingerprint, noise_version, n_queries,
    completed_at, run_id. A cell and its rank rows are written and replaced together, so these rows change
    whenever the rank rows behind the answer do. Cells :func:`left_out_cells` leaves out are not listed (nor
    read by :func:`rank_rows`), so the answer never combines query sets.
    """
    return conn.execute(
        f"""
        SELECT corpus, lang, encoder, noise, level, fingerprint, data_fingerprint, noise_version, n_queries,
               completed_at, run_id
        FROM cells
        WHERE dataset = ? AND mode = ? AND seed = ? AND (CAST(? AS VARCHAR) IS NULL OR corpus = ?)
              AND {_kept(conn, "cells")}
        ORDER BY corpus, lang, encoder, noise, level
        """,
        [dataset, mode, int(seed), corpus, corpus],
    ).df()


def answer_seen(
    conn: duckdb.DuckDBPyConnection, dataset: str, mode: str, corpus: str | None, seed: int = 0
) -> pd.DataFrame:
    """Whether each model of a research answer trained on each language it is evaluated on: one row per
    (encoder, lang) of the cells :func:`answer_cells` lists, from ``encoder_languages`` under the encoder
    fingerprint of those cells.

    Columns: encoder, lang, seen_in_training (True / False, or None when unknown: a model whose training
    languages are not known, a language the table does not list for it, or two of its fingerprints that
    disagree none of which says True), in (encoder, lang) order.
    """
    return conn.execute(
        f"""
        WITH c AS (
            SELECT DISTINCT encoder, fingerprint, lang FROM cells
            WHERE dataset = ? AND mode = ? AND seed = ? AND (CAST(? AS VARCHAR) IS NULL OR corpus = ?)
                  AND {_kept(conn, "cells")}
        )
        SELECT c.encoder, c.lang,
               CASE WHEN bool_or(l.seen_in_training) THEN TRUE
                    WHEN count(l.seen_in_training) = count(*) THEN FALSE END AS seen_in_training
        FROM c LEFT JOIN encoder_languages l
             ON l.encoder = c.encoder AND l.fingerprint = c.fingerprint AND l.lang = c.lang
        GROUP BY c.encoder, c.lang ORDER BY c.encoder, c.lang
        """,
        [dataset, mode, int(seed), corpus, corpus],
    ).df()


def answer_targets(conn: duckdb.DuckDBPyConnection, seed: int = 0) -> pd.DataFrame:
    """Every (dataset, mode, corpus) with cells of ``seed``, and how many cells each holds."""
    return conn.execute(
        "SELECT dataset, mode, corpus, count(*) AS n_cells FROM cells WHERE seed = ? GROUP BY ALL ORDER BY ALL",
        [int(seed)],
    ).df()


def stored_findings(
    conn: duckdb.DuckDBPyConnection, dataset: str, mode: str, corpus: str, params_json: str
) -> pd.DataFrame:
    """The stored research answer of one (dataset, mode, corpus, params): zero or one row with ranks_key,
    code_version, computed_at, seconds and payload_json. Zero rows, not an error, on a database from before
    the ``findings`` table (schema v3), which readers still open."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'findings'"
    ).fetchall()[0][0]
    if not exists:
        return pd.DataFrame(columns=["ranks_key", "code_version", "computed_at", "seconds", "payload_json"])
    return conn.execute(
        """
        SELECT ranks_key, code_version, computed_at, seconds, payload_json FROM findings
        WHERE dataset = ? AND mode = ? AND corpus = ? AND params_json = ?
        """,
        [dataset, mode, corpus, params_json],
    ).df()
