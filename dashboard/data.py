"""The dashboard's only door to the results database and the encoders.

Pages call these functions, never SQL. Reads are ``@st.cache_data`` wrappers over :mod:`core.store.queries`
keyed by the database's *stamp* (file size and mtime of the DuckDB file and its WAL), so a precompute that
writes new cells invalidates them on the next rerun. Every read opens a short read-only connection through
:func:`core.store.connect`, which waits (with backoff) while a precompute holds the write lock: a user sees
a spinner, never a lock error. Encoders and document matrices are ``@st.cache_resource`` (once per process).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import jobs
from core.datasets import is_document_corpus, is_multiway
from core.datasets.all_english import ALL_ENGLISH, PooledEnglish, all_english
from core.encoders.windows import document_key
from core.errors import ClirError
from core.paths import REPO_ROOT, default_db_path
from core.search_index import SearchIndex, build_index, check_kind
from core.store import connect
from core.store import queries as q
from dashboard import analysis

READ_TIMEOUT_S = 45.0  # how long a read waits for a precompute's write transaction before giving up
# Above this many seed-0 rank rows the Findings page does not compute the research answer itself (about a
# minute per million rows on 2 cores: per-query bootstraps and paired tests); the precompute stores it.
RESEARCH_LIVE_MAX_ROWS = 2_000_000
_READS = {
    "db_stamp", "conditions", "encoders", "encoder_languages", "curve_ranks", "curve_stats", "per_query_ranks",
    "query_texts", "noisy_texts", "query_top", "gold_document", "coverage", "selection_rows", "runs",
    "documents", "gold_documents", "rank_rows", "selection_size", "answer_cells", "answer_seen", "left_out_cells",
}  # fmt: skip


def db_path() -> Path:
    """The database the app reads: ``$CLIR_DB`` or the demo grid's ``results/demo.duckdb``."""
    return default_db_path()


def stamp(path: Path | None = None) -> tuple | None:
    """Cheap change marker of the database file (and its WAL); None when the file does not exist."""
    path = Path(path or db_path())
    parts = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            s = p.stat()
            parts.append((s.st_size, s.st_mtime_ns))
        except OSError:
            parts.append(None)
    return None if parts[0] is None else (str(path), *parts)


def _hashable(value):
    if isinstance(value, (list, tuple, set)):
        return tuple(value)
    return value


@st.cache_data(show_spinner=False, max_entries=512)
def _read(name: str, path: str, key: tuple, kwargs: tuple) -> pd.DataFrame:
    with connect(path, read_only=True, timeout=READ_TIMEOUT_S) as conn:
        return getattr(q, name)(conn, **{k: list(v) if isinstance(v, tuple) else v for k, v in kwargs})


def read(name: str, **kwargs) -> pd.DataFrame:
    """Call ``core.store.queries.<name>(conn, **kwargs)`` through the cache.

    Raises:
        StoreError: missing, empty or foreign database, or locked longer than :data:`READ_TIMEOUT_S`.
        ValueError: ``name`` is not one of the dashboard's reads.
    """
    if name not in _READS:
        raise ValueError(f"unknown read {name!r}; allowed: {', '.join(sorted(_READS))}")
    key = stamp()
    if key is None:
        from core.errors import StoreError

        raise StoreError(f"database {str(db_path())!r} does not exist")
    kw = tuple(sorted((k, _hashable(v)) for k, v in kwargs.items()))
    return _read(name, str(db_path()), key, kw).copy()


@dataclass(frozen=True)
class DbState:
    """Whether the database can be shown, and if not, what to tell the user."""

    ok: bool
    level: str = "info"  # "info" or "warning"
    message: str = ""


def db_state() -> DbState:
    """Check the database: missing, empty, foreign, or holding no cells gives a message, never an error."""
    path = db_path()
    if not path.is_file():
        return DbState(
            False,
            "info",
            f"No results database at `{path}` yet. Run `make precompute` (or `python -m precompute run "
            f"--grid precompute/grids/demo.toml --db {path}`), or point `CLIR_DB` at an existing file.",
        )
    try:
        cells = read("db_stamp")
    except ClirError as exc:
        return DbState(False, "warning", f"The results database cannot be read: {exc}")
    if cells.empty or int(cells["n_cells"].iloc[0]) == 0:
        return DbState(
            False,
            "info",
            f"`{path}` holds no results yet: a precompute may be starting. This page refreshes when cells "
            "arrive (reload the page).",
        )
    return DbState(True)


def query_set_notice(**filters) -> str:
    """The one-line notice of the cells every read leaves out because they use another query set than the
    newest cells of their language (:func:`core.store.queries.left_out_cells`, restricted by ``filters``,
    e.g. the page's dataset and mode; None values are ignored); empty when none is. Pages show it so that a
    number computed without those cells never goes unexplained."""
    left = read("left_out_cells", **{k: v for k, v in filters.items() if v is not None})
    return q.left_out_notice(left)


# --- Derived, cached numbers ----------------------------------------------------------------------------


@st.cache_data(show_spinner="Bootstrapping confidence bands...", max_entries=128)
def _curve(key, dataset, mode, noise, encoders, langs, seeds, metric, facets_items, n_boot, corpus=None):
    stats = read("curve_stats", dataset=dataset, mode=mode, noise=noise, encoders=encoders, langs=langs,
                 seeds=seeds, corpus=corpus)  # fmt: skip
    facets = dict(facets_items) if facets_items else None
    return stats, analysis.curves_from_stats(stats, metric, facets, n_boot=n_boot)


def curve(
    dataset: str,
    mode: str,
    noise: str,
    encoders: list[str],
    langs: list[str],
    seeds: list[int],
    metric: str,
    facets: dict[str, str] | None,
    n_boot: int = analysis.N_BOOT,
    corpus: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-cell, per-query-bucket aggregates, curve table with bootstrap bands) for one selection; cached.

    ``n_boot=0`` gives the values without bands (NaN), for a chart of point values (the heatmap).

    Read from the aggregates (``queries.curve_stats``), never from per-query rows, so its cost does not grow
    with the ranks table; the bands are the bucket bootstrap of :func:`analysis.curves_from_stats`.
    ``corpus`` (None: every corpus of the mode) restricts to one corpus; queries are keyed by corpus either
    way, so rows of two pooled corpora are never averaged into one query.
    """
    facet_items = tuple(sorted(facets.items())) if facets else None
    return _curve(stamp(), dataset, mode, noise, tuple(encoders), tuple(langs), tuple(seeds), metric,
                  facet_items, n_boot, corpus)  # fmt: skip


@st.cache_data(show_spinner="Running paired randomization tests...", max_entries=64)
def _pairwise(key, dataset, mode, noise, encoders, langs, seeds, metric, a, b, corpus=None):
    # The aggregates only (cached read), not ``curve``: that would also bootstrap every language's bands.
    stats = read("curve_stats", dataset=dataset, mode=mode, noise=noise, encoders=encoders, langs=langs,
                 seeds=seeds, corpus=corpus)  # fmt: skip
    return analysis.pairwise_from_stats(stats, metric, a, b)


def pairwise(dataset, mode, noise, encoders, langs, seeds, metric, a, b, corpus=None) -> pd.DataFrame:
    """Encoder ``a`` minus ``b`` per level and language, sign-flip test over query buckets
    (:func:`analysis.pairwise_from_stats`), Holm across languages."""
    return _pairwise(stamp(), dataset, mode, noise, tuple(encoders), tuple(langs), tuple(seeds), metric, a, b,
                     corpus)  # fmt: skip


# --- Background job ---------------------------------------------------------------------------------------


def background_status() -> dict | None:
    """The background job status of the database the app reads (:func:`core.jobs.read_status`), if any."""
    return jobs.read_status(db_path())


@st.cache_data(show_spinner=False, max_entries=8)
def _stored_research(key, dataset: str, mode: str, corpus: str | None, references: tuple[str, ...]):
    from core.findings import stored_findings

    with connect(str(db_path()), read_only=True, timeout=READ_TIMEOUT_S) as conn:
        return stored_findings(conn, dataset, mode, corpus, references=references)


@st.cache_data(
    show_spinner="Computing the research answer (bootstrap intervals and paired tests, once per database)...",
    max_entries=8,
)
def _research(key, dataset: str, mode: str, corpus: str | None, references: tuple[str, ...]):
    from core.findings import RANK_COLUMNS, findings_answer

    filters = {"dataset": dataset, "mode": mode, "seed": 0}
    if corpus:
        filters["corpus"] = corpus
    rows = read("rank_rows", columns=RANK_COLUMNS, **filters)
    seen = read("answer_seen", dataset=dataset, mode=mode, corpus=corpus)
    return findings_answer(rows, references, dataset=dataset, seen=seen)


def research(dataset: str, mode: str, corpus: str | None = None, references: tuple[str, ...] | None = None):
    """The research answer (:func:`core.research.research_answer`) of one dataset, mode (and pooled corpus),
    seed 0, and its resource groups; with its scope (the dataset, the languages each model trained on) and, on
    multi-way parallel data, its per-language breakdown (:func:`core.findings.findings_answer`).

    The answer the precompute stored (:func:`core.findings.stored_findings`) when it is current: read in
    milliseconds, no spinner. Otherwise (nothing stored, older cells, other code or references) computed
    here from the ranks, once per database state, unless that means more than :data:`RESEARCH_LIVE_MAX_ROWS`
    rows (a full study): then a ClirError says how to store it. Both are :func:`core.findings.findings_answer`
    of the same rows, so the page shows the same numbers either way.
    """
    from core.research import DASHBOARD_REFERENCES

    refs = tuple(references or DASHBOARD_REFERENCES)
    key = stamp()
    stored = _stored_research(key, dataset, mode, corpus, refs)
    if stored is not None:
        return stored
    cells = read("answer_cells", dataset=dataset, mode=mode, corpus=corpus)
    n_rows = int(cells["n_queries"].fillna(0).sum())
    if n_rows > RESEARCH_LIVE_MAX_ROWS:
        raise ClirError(
            f"The research answer of {dataset} / {mode} is not stored for the cells this database holds now, "
            f"and computing it here would take minutes ({n_rows:,} per-query rows). Run `python -m precompute "
            f"findings --db {db_path()}` once (a precompute run also does it at its end), then reload."
        )
    return _research(key, dataset, mode, corpus, refs)


# --- Live search resources --------------------------------------------------------------------------------


def _single_thread_inference() -> None:
    """One torch thread: a single query encodes ~6x faster on a busy 2-core machine than with thread
    hand-offs (24 vs 150 ms median for minilm, measured here); documents come from the cache anyway."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:
            return
    torch.set_num_threads(1)


@st.cache_resource(show_spinner="Loading encoder (once per server process)...")
def encoder(name: str):
    """``(encoder, None)`` or ``(None, reason)``; loaded once per server process."""
    from core.encoders import document_side, load_encoder, query_side

    _single_thread_inference()
    try:
        enc = load_encoder(name)
        # First calls build lazy state (graphs, tokenizers): not a user's latency.
        query_side(enc).encode(["warm-up"])
        document_side(enc).encode(["warm-up"])
        return enc, None
    except ClirError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken model must not take the page down
        return None, f"{exc.__class__.__name__}: {exc}"


@dataclass
class DocIndex:
    """Unit-norm document vectors of one corpus under one encoder fingerprint, and their FAISS index."""

    matrix: np.ndarray  # (n_docs, dim) float32
    texts: list[str]
    encoded_now: int  # documents that were missing from the embedding cache and were encoded on load
    seconds: float
    search_index: SearchIndex | None = None  # exact IndexFlatIP over ``matrix`` unless given
    note: str = ""  # why the requested index kind was not used (shown to the user), else empty

    def __post_init__(self) -> None:
        if self.search_index is None:
            self.search_index = build_index(self.matrix, fingerprint="", corpus="")


def index_kind() -> str:
    """The search index the dashboard asks for: ``$CLIR_SEARCH_INDEX`` (``flat`` or ``hnsw``), default
    ``flat`` (exact). HNSW is refused, with a note, for corpora under :data:`core.search_index.HNSW_MIN_DOCS`."""
    return os.environ.get("CLIR_SEARCH_INDEX", "").strip().lower() or "flat"


def pooled_english(dataset: str) -> PooledEnglish | None:
    """Every English side of ``$CLIR_DATA_DIR`` pooled (:func:`core.datasets.all_english.all_english`) for
    loader ``dataset``, or None when the data folder is unset, missing or not of that dataset, and for a
    multi-way set, whose one English side is already its stored ``pair`` corpus."""
    if is_multiway(dataset) or dataset not in ("tatoeba", "generic"):
        return None
    try:
        return all_english(dataset=dataset)
    except ClirError:
        return None


def corpus_texts(corpus: str) -> list[str]:
    """Document texts of ``corpus``: the stored corpus's from the database, or for
    :data:`core.datasets.all_english.ALL_ENGLISH` the English sides of every language in ``$CLIR_DATA_DIR``."""
    if corpus == ALL_ENGLISH:
        return list(all_english().documents)
    return read("documents", corpus=corpus)["text"].tolist()


def _encode_missing(name: str, enc, err, missing: list[str], cache, corpus: str) -> dict[str, np.ndarray]:
    from core.encoders import document_side, encode_cached

    if enc is None:
        raise ClirError(f"{len(missing):,} documents are not in the cache and {name} cannot load: {err}")
    what = f"Encoding {len(missing):,} documents with {name} (once; the embedding cache keeps them"
    if corpus == ALL_ENGLISH:
        what += f"; `python -m precompute index --encoder {name}` does this ahead of a demo"
    what += ")"
    bar = st.progress(0.0, text=what)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        bar.progress(min(1.0, done[0] / len(missing)), text=f"{what}: {done[0]:,} / {len(missing):,}")

    try:
        vecs, _ = encode_cached(document_side(enc), missing, cache, batch=256, on_progress=tick)
    finally:
        bar.empty()
    return dict(zip(missing, vecs))


def _window_missing(name: str, enc, err, corpus: str, texts: list[str], cache) -> dict[str, np.ndarray]:
    """Every document vector of a document corpus by the encoder's windowing rule, from its sentences read
    again from the dataset's folder, windows through ``cache``; stored there under their keys."""
    from core.datasets import corpus_segments
    from core.datasets.retrieval import SENTENCE_JOIN
    from core.encoders import document_side, encode_cached
    from core.encoders.windows import document_vectors

    if enc is None:
        raise ClirError(f"the documents of {corpus} are not in the cache and {name} cannot load: {err}")
    side = document_side(enc)
    segments = corpus_segments(corpus)
    if [SENTENCE_JOIN.join(s) for s in segments] != list(texts):
        raise ClirError(
            f"the documents of {corpus} in the data folder differ from the database's: re-run the grid"
        )
    keys = [document_key(t) for t in texts]
    with st.spinner(
        f"Encoding the {len(segments):,} documents of {corpus} with {name} (once, by its windows)"
    ):
        vectors, _ = document_vectors(side, segments, lambda e, t, _label: encode_cached(e, t, cache))
    cache.put(keys, vectors)
    return dict(zip(keys, vectors))


@st.cache_resource(show_spinner="Reading document vectors from the embedding cache...", max_entries=16)
def doc_index(
    name: str, fingerprint: str, corpus: str, db_stamp: tuple | None, kind: str = "flat"
) -> DocIndex:
    """Document vectors of ``corpus`` (:func:`corpus_texts`) from the precompute's embedding cache of the
    encoder's document side (``EmbeddingCache(fingerprint)``, ``fingerprint`` being that side's), and their
    FAISS index (:func:`core.search_index.build_index`, ``kind`` as :func:`index_kind`); documents absent
    from the cache are encoded once by the document side with a progress bar, stored there, and counted in
    ``encoded_now``. HNSW asked for a corpus under the threshold gives the exact index and a ``note``.

    ``db_stamp`` (:func:`stamp`) is part of the cache key, so a database whose corpus changed is re-read.
    """
    from core.encoders import EmbeddingCache, finite_vectors

    t0 = time.monotonic()
    texts = corpus_texts(corpus)
    enc, err = encoder(name)
    # A document corpus's vectors are the encoder's windowing rule's, kept under document_key of each text
    # (core.encoders.windows): the text encoded whole could be truncated.
    keys = [document_key(t) for t in texts] if is_document_corpus(corpus) else texts
    cache = EmbeddingCache(fingerprint)
    try:
        found = cache.get(keys)
        missing = [t for t in dict.fromkeys(keys) if t not in found]
        if missing and keys is not texts:
            found.update(_window_missing(name, enc, err, corpus, texts, cache))
        elif missing:
            found.update(_encode_missing(name, enc, err, missing, cache, corpus))
    finally:
        cache.close()
    matrix = np.stack([found[t] for t in keys]).astype(np.float32) if texts else np.zeros((0, 1), np.float32)
    finite_vectors(name, matrix)  # a cache filled before the check existed may hold a NaN model's vectors
    note = ""
    try:
        check_kind(kind, len(texts))
    except ClirError as exc:
        note, kind = f"{exc}. Searching exactly instead.", "flat"
    index = build_index(matrix, fingerprint=fingerprint, corpus=corpus, kind=kind)
    # The page's exact ranks read FAISS's copy of the vectors: one matrix per encoder in memory, not two.
    return DocIndex(index.vectors(), texts, len(missing), time.monotonic() - t0, index, note)


def search(name: str, index: DocIndex, texts: list[str], k: int = 10) -> tuple[np.ndarray, np.ndarray, float]:
    """Encode ``texts`` (e.g. a clean query and its noisy version) with the encoder's query side in one call
    and take each text's top-k from the corpus's FAISS index (:meth:`core.search_index.SearchIndex.search`,
    :func:`core.ranking.top_k`'s order); return (top-k doc ids, each text's scores over every document,
    seconds for encode + FAISS top-k).

    The scores over every document (numpy, as :func:`core.ranking.gold_ranks` computes them) are what the
    page ranks documents by (``rank = 1 + #strictly higher``), so a live rank equals the stored one; they
    are computed after the clock stops."""
    from core.encoders import finite_vectors, query_side

    enc, err = encoder(name)
    if enc is None:
        raise ClirError(f"encoder {name} is not available: {err}")
    t0 = time.perf_counter()
    # A NaN model's vectors are refused (NonFiniteError, a ClirError: the page says it in one line).
    qv = finite_vectors(name, query_side(enc).encode(list(texts))).astype(np.float32)
    top, _ = index.search_index.search(qv, k)
    seconds = time.perf_counter() - t0
    # One BLAS thread: an idle OpenBLAS worker spinning after the product slows the next query's encoding
    # on a 2-core machine more than a second thread speeds up this memory-bound product.
    with _blas().limit(limits=1, user_api="blas"):
        scores = qv @ index.matrix.T
    return top, scores, seconds


def search_cached(
    name: str, index: DocIndex, texts: list[str], k: int = 10
) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`search`, remembered per (encoder, its fingerprint, corpus index, texts, k) for every session:
    the same query on the same index gives the same results, so a repeated query (a page's default example,
    a shared link) is answered without encoding it again. The seconds are those of the search that
    computed the results."""
    enc, _ = encoder(name)
    si = index.search_index
    key = (
        name,
        getattr(enc, "fingerprint", None),
        si.fingerprint,
        si.corpus,
        si.kind,
        len(index.texts),
        stamp(),
    )
    return _search(key, tuple(texts), int(k), index)


@st.cache_data(show_spinner=False, max_entries=256)
def _search(
    key: tuple, texts: tuple[str, ...], k: int, _index: DocIndex
) -> tuple[np.ndarray, np.ndarray, float]:
    return search(key[0], _index, list(texts), k)


@st.cache_resource(show_spinner=False)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def env_summary() -> dict:
    """Where the app reads from (shown on the Runs page)."""
    return {
        "database": str(db_path()),
        "embedding cache": os.environ.get("CLIR_CACHE_DIR") or str(REPO_ROOT / "cache"),
        "data": os.environ.get("CLIR_DATA_DIR", "(CLIR_DATA_DIR not set)"),
    }
