"""Schema of the results database, as append-only numbered migrations (see docs/schema.md).

Each migration is a function ``mNNN_name(conn)``; ``schema_migrations`` records which ran. Never edit a
migration that has shipped: add the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from core.errors import StoreError
from core.store._exec import _exec, transaction

CELL_KEY = ("dataset", "mode", "corpus", "lang", "encoder", "noise", "level", "seed")


def m001_initial(conn: duckdb.DuckDBPyConnection) -> None:
    """Runs, inputs (queries, documents, gold), noisy queries, completed cells and per-query ranks."""
    _exec(
        conn,
        """
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
            grid_toml VARCHAR, grid_json VARCHAR, versions_json VARCHAR, host VARCHAR, argv VARCHAR);
        CREATE TABLE encoders (
            encoder VARCHAR, fingerprint VARCHAR, spec_json VARCHAR, first_run_id VARCHAR,
            PRIMARY KEY (encoder, fingerprint));
        CREATE TABLE queries (
            dataset VARCHAR, lang VARCHAR, qid INTEGER, text VARCHAR, PRIMARY KEY (dataset, lang, qid));
        CREATE TABLE documents (corpus VARCHAR, doc_id INTEGER, text VARCHAR, PRIMARY KEY (corpus, doc_id));
        CREATE TABLE gold (
            corpus VARCHAR, dataset VARCHAR, lang VARCHAR, qid INTEGER, doc_id INTEGER,
            PRIMARY KEY (corpus, lang, qid));
        CREATE TABLE noisy_queries (
            dataset VARCHAR, lang VARCHAR, noise VARCHAR, level DOUBLE, seed INTEGER, qid INTEGER,
            noisy VARCHAR, edits_json VARCHAR, cer DOUBLE, layout VARCHAR,
            PRIMARY KEY (dataset, lang, noise, level, seed, qid));
        CREATE TABLE cells (
            dataset VARCHAR, mode VARCHAR, corpus VARCHAR, lang VARCHAR, encoder VARCHAR, noise VARCHAR,
            level DOUBLE, seed INTEGER, fingerprint VARCHAR, run_id VARCHAR, n_queries INTEGER,
            n_docs INTEGER, seconds DOUBLE, completed_at TIMESTAMP,
            PRIMARY KEY (dataset, mode, corpus, lang, encoder, noise, level, seed));
        CREATE TABLE ranks (
            dataset VARCHAR, mode VARCHAR, corpus VARCHAR, lang VARCHAR, encoder VARCHAR, noise VARCHAR,
            level DOUBLE, seed INTEGER, qid INTEGER, rank INTEGER, n_docs INTEGER, score_gold REAL,
            top_ids INTEGER[], top_scores REAL[], query_noisy VARCHAR, run_id VARCHAR);
    """,
    )


def m002_encoder_languages(conn: duckdb.DuckDBPyConnection) -> None:
    """Whether each (encoder, language) was seen in the encoder's training (NULL: unknown)."""
    _exec(
        conn,
        """
        CREATE TABLE encoder_languages (
            encoder VARCHAR, fingerprint VARCHAR, lang VARCHAR, seen_in_training BOOLEAN,
            PRIMARY KEY (encoder, fingerprint, lang));
    """,
    )


def m003_data_fingerprints(conn: duckdb.DuckDBPyConnection) -> None:
    """Each cell records the fingerprint of its input data and the noise version it was computed under.

    Cells stored before v3 keep NULL in both (legacy): the runner treats them as not done, recomputes them
    on the next run of their grid and says so, so they are never mixed with fingerprinted cells.
    """
    _exec(
        conn,
        """
        ALTER TABLE cells ADD COLUMN data_fingerprint VARCHAR;
        ALTER TABLE cells ADD COLUMN noise_version VARCHAR;
    """,
    )


def m004_findings(conn: duckdb.DuckDBPyConnection) -> None:
    """The research answer of each (dataset, mode, corpus), stored by the precompute (``core.findings``).

    ``corpus`` is ``''`` for the answer over every corpus of the mode (a primary key column cannot be NULL).
    ``ranks_key`` fingerprints the cells the answer was computed from and ``code_version`` the code, so a
    reader recognises an answer that no longer matches the ranks or the code and never shows it as current.
    """
    _exec(
        conn,
        """
        CREATE TABLE findings (
            dataset VARCHAR, mode VARCHAR, corpus VARCHAR, params_json VARCHAR, ranks_key VARCHAR,
            code_version VARCHAR, computed_at TIMESTAMP, seconds DOUBLE, payload_json VARCHAR,
            PRIMARY KEY (dataset, mode, corpus, params_json));
    """,
    )


# Per-cell aggregates (m005). Queries of a cell are split into STATS_BUCKETS buckets by a hash of their qid
# alone, so a query falls in the same bucket in every cell (every encoder, noise, level and seed): a bootstrap
# or sign-flip test that resamples buckets stays paired across levels and encoders. 32 buckets of ~30 queries
# each keep the table ~1/30 of ``ranks`` while leaving enough units for percentile intervals.
STATS_BUCKETS = 32
# Knuth's multiplicative hash (2654435761) mod 2**32, then mod the bucket count: stable across DuckDB
# versions (no built-in hash()), spreads consecutive qids over buckets.
STATS_BUCKET_SQL = f"CAST(((CAST(qid AS BIGINT) * 2654435761) % 4294967296) % {STATS_BUCKETS} AS SMALLINT)"
# The sums every page needs: MRR, MRR@10, recall@1/5/10 (= accuracy@1 at 1) are each a sum over queries
# divided by n. Keep in step with STATS_METRICS (metric name -> column).
STATS_COLUMNS = ("n", "sum_rr", "sum_rr10", "hits1", "hits5", "hits10")
STATS_METRICS = {"mrr": "sum_rr", "mrr@10": "sum_rr10", "recall@1": "hits1", "recall@5": "hits5",
                 "recall@10": "hits10"}  # fmt: skip


def stats_select(source: str, where: str = "") -> str:
    """``SELECT`` of the ``cell_stats`` rows (key, bucket, sums) of the rank rows in ``source``.

    ``source`` is a table or registered frame with the ``ranks`` columns, named by this package's own code
    (never user input); ``where`` an optional clause with ``?`` placeholders. The one definition used by the
    backfill (m005), by ``write_cells`` and by readers of a database without ``cell_stats``, so aggregates
    are computed the same way everywhere.
    """
    keys = ", ".join(CELL_KEY)
    return f"""
        SELECT {keys}, {STATS_BUCKET_SQL} AS bucket, CAST(count(*) AS INTEGER) AS n,
               sum(1.0 / rank) AS sum_rr, sum(CASE WHEN rank <= 10 THEN 1.0 / rank ELSE 0.0 END) AS sum_rr10,
               CAST(count(*) FILTER (WHERE rank <= 1) AS INTEGER) AS hits1,
               CAST(count(*) FILTER (WHERE rank <= 5) AS INTEGER) AS hits5,
               CAST(count(*) FILTER (WHERE rank <= 10) AS INTEGER) AS hits10
        FROM {source} {where} GROUP BY {keys}, bucket
    """


def m005_cell_stats(conn: duckdb.DuckDBPyConnection) -> None:
    """Per-cell, per-query-bucket sums of the rank rows (``cell_stats``), backfilled from ``ranks``.

    Derived data: ``write_cells`` writes a cell's rows in the same transaction as its rank rows and every
    delete of rank rows deletes them, so they always equal a recomputation from ``ranks`` (the source of
    truth). Pages read them instead of scanning ``ranks`` (100+ million rows in a full study).
    """
    _exec(
        conn,
        """
        CREATE TABLE cell_stats (
            dataset VARCHAR, mode VARCHAR, corpus VARCHAR, lang VARCHAR, encoder VARCHAR, noise VARCHAR,
            level DOUBLE, seed INTEGER, bucket SMALLINT, n INTEGER, sum_rr DOUBLE, sum_rr10 DOUBLE,
            hits1 INTEGER, hits5 INTEGER, hits10 INTEGER);
    """,
    )
    _exec(conn, f"INSERT INTO cell_stats {stats_select('ranks')} ORDER BY ALL")


# Per-level aggregates (m006): ``cell_stats`` summed over seeds, one row per (dataset, mode, corpus, lang,
# encoder, noise, level) with one list element per query bucket. A degradation curve over every stored seed
# (the Curves page's default) reads ~2.7k such rows for a full study instead of summing ~370k ``cell_stats``
# rows over seeds, which cost most of the page's 300 ms budget at 100M rank rows.
LEVEL_KEY = ("dataset", "mode", "corpus", "lang", "encoder", "noise", "level")


def level_stats_select(where: str = "") -> str:
    """``SELECT`` of the ``level_stats`` rows of the cells matching ``where``, from ``cell_stats`` and ``cells``.

    ``where`` is an optional clause over :data:`LEVEL_KEY` columns of the alias ``x`` (``cell_stats`` or
    ``cells``), written by this package's own code, with ``?`` placeholders: its parameters must be passed
    twice (once per table). Each row holds ``seeds`` (every seed stored for the group, ascending),
    ``n_queries`` (the largest ``cells.n_queries`` of a seed), and per bucket present (``bucket``,
    ascending) the sums of ``cell_stats`` over those seeds. The one definition used by the backfill (m006)
    and by ``write_cells``, so the table always equals this recomputation.
    """
    keys = ", ".join(LEVEL_KEY)
    sums = (
        "CAST(sum(n) AS INTEGER) AS n, sum(sum_rr) AS sum_rr, sum(sum_rr10) AS sum_rr10, "
        "CAST(sum(hits1) AS INTEGER) AS hits1, CAST(sum(hits5) AS INTEGER) AS hits5, "
        "CAST(sum(hits10) AS INTEGER) AS hits10"
    )
    lists = ", ".join(f"list({c} ORDER BY bucket) AS {c}" for c in ("bucket", *STATS_COLUMNS))
    return f"""
        WITH s AS (SELECT {keys}, bucket, {sums} FROM cell_stats x {where} GROUP BY {keys}, bucket),
        l AS (SELECT {keys}, {lists} FROM s GROUP BY {keys}),
        c AS (SELECT {keys}, list(seed ORDER BY seed) AS seeds, max(n_queries) AS n_queries
              FROM cells x {where} GROUP BY {keys})
        SELECT {", ".join(f"l.{k}" for k in LEVEL_KEY)}, c.seeds, c.n_queries,
               {", ".join(f"l.{c}" for c in ("bucket", *STATS_COLUMNS))}
        FROM l JOIN c ON {" AND ".join(f"l.{k} = c.{k}" for k in LEVEL_KEY)}
    """


def m006_level_stats(conn: duckdb.DuckDBPyConnection) -> None:
    """``cell_stats`` summed over seeds, per (dataset, mode, corpus, lang, encoder, noise, level), one list
    element per query bucket (``level_stats``), backfilled from ``cell_stats`` and ``cells``.

    Derived data, like ``cell_stats``: ``write_cells`` recomputes the rows of every group it writes a cell
    of, in the same transaction, and ``delete_changed`` deletes them with their cells, so they always equal
    :func:`level_stats_select` (and hence sums over ``ranks``).
    """
    _exec(
        conn,
        """
        CREATE TABLE level_stats (
            dataset VARCHAR, mode VARCHAR, corpus VARCHAR, lang VARCHAR, encoder VARCHAR, noise VARCHAR,
            level DOUBLE, seeds INTEGER[], n_queries INTEGER, bucket SMALLINT[], n INTEGER[],
            sum_rr DOUBLE[], sum_rr10 DOUBLE[], hits1 INTEGER[], hits5 INTEGER[], hits10 INTEGER[]);
    """,
    )
    _exec(conn, f"INSERT INTO level_stats {level_stats_select()} ORDER BY ALL")


def m007_run_process(conn: duckdb.DuckDBPyConnection) -> None:
    """Each run records its process and its embedding cache.

    ``pid`` and ``pid_start`` (with the existing ``host``) let a later run or the Runs page tell that the
    process of a run still marked ``running`` is gone (killed with SIGKILL, a lost machine) and mark or show
    it ``interrupted`` (:func:`core.jobs.run_is_dead`); ``pid_start`` identifies the process's start, so a
    PID reused by another process is not taken for the run. ``cache_dir`` is the embedding cache the run
    read and filled (the driver's ``$CLIR_CACHE_DIR``), which the Runs page names. Runs stored before v7
    keep NULL in all three: their liveness cannot be told and they are left as they are.
    """
    _exec(
        conn,
        """
        ALTER TABLE runs ADD COLUMN pid INTEGER;
        ALTER TABLE runs ADD COLUMN pid_start VARCHAR;
        ALTER TABLE runs ADD COLUMN cache_dir VARCHAR;
    """,
    )


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    m001_initial,
    m002_encoder_languages,
    m003_data_fingerprints,
    m004_findings,
    m005_cell_stats,
    m006_level_stats,
    m007_run_process,
]
SCHEMA_VERSION = len(MIGRATIONS)
# Readers accept this version and later: m004 to m006 only add derived tables (findings, cell_stats,
# level_stats) that readers treat as absent when missing (cell_stats is then computed from ``ranks`` and
# level_stats from cell_stats on the fly), and m007 only adds run columns (pid, pid_start, cache_dir) that
# readers treat as NULL when missing, so a database a precompute has not migrated yet still opens in the
# dashboard.
READABLE_FROM = 3


def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def schema_version(conn: duckdb.DuckDBPyConnection, path: Path | str = "") -> int:
    """Return the number of migrations applied (0 for an empty database).

    Raises:
        StoreError: the database has tables but no migration record (not ours, or from before versioning).
    """
    tables = _tables(conn)
    if "schema_migrations" not in tables:
        if tables:
            raise StoreError(
                f"database {str(path)!r} has tables ({', '.join(sorted(tables)[:5])}) but no schema version: "
                "it was not written by this version of clir-noise-lab; use a new --db path"
            )
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]


def check_schema(conn: duckdb.DuckDBPyConnection, path: Path | str = "") -> int:
    """For readers: the schema must be one this code reads, from :data:`READABLE_FROM` to the current one
    (readers cannot migrate; every read of a table added later tolerates its absence).

    Raises:
        StoreError: empty, too old or newer schema, each with what to do.
    """
    v = schema_version(conn, path)
    if v == 0:
        raise StoreError(f"database {str(path)!r} is empty; run `python -m precompute run` first")
    if v < READABLE_FROM:
        raise StoreError(
            f"database {str(path)!r} has schema v{v}, older than v{SCHEMA_VERSION}; "
            f"`python -m precompute migrate --db {path}` upgrades it without losing rows"
        )
    if v > SCHEMA_VERSION:
        raise StoreError(f"database {str(path)!r} has schema v{v}, newer than this code (v{SCHEMA_VERSION})")
    return v


def migrate(conn: duckdb.DuckDBPyConnection, path: Path | str = "") -> int:
    """Apply the pending migrations, each in its own transaction; idempotent. Returns the new version.

    Raises:
        StoreError: unversioned foreign tables, or a schema newer than this code.
    """
    v = schema_version(conn, path)
    if v > SCHEMA_VERSION:
        raise StoreError(f"database {str(path)!r} has schema v{v}, newer than this code (v{SCHEMA_VERSION})")
    if v == 0:
        _exec(
            conn,
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)",
        )
    for number, fn in enumerate(MIGRATIONS[v:], start=v + 1):
        with transaction(conn):
            fn(conn)
            _exec(conn, "INSERT INTO schema_migrations VALUES (?, ?, now())", [number, fn.__name__])
    return SCHEMA_VERSION


def verify(conn: duckdb.DuckDBPyConnection, path: Path | str = "") -> dict[str, int]:
    """Read every row of every table once (a full scan, hashing each row); return table -> row count.

    DuckDB reads blocks lazily, so a truncated or damaged file can open and even answer small queries;
    this scan touches every stored block, so it fails on any block that cannot be read back.

    Raises:
        StoreError: a table cannot be read in full (truncated or corrupt file), with the table named.
    """
    counts = {}
    for table in sorted(_tables(conn)):
        try:
            # ``table`` comes from the catalog, never from user input; quoting keeps odd names intact.
            counts[table] = conn.execute(f'SELECT count(*), sum(hash(t)) FROM "{table}" t').fetchall()[0][0]
        except duckdb.Error as exc:
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise StoreError(
                f"database {str(path)!r} is damaged (table {table} cannot be read: {first}); "
                "restore it from a backup or use a new --db"
            ) from exc
    return counts
