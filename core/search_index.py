"""FAISS search over one corpus's document vectors under one encoder fingerprint.

Exact inner-product search (``IndexFlatIP``) by default. HNSW (``IndexHNSWFlat``, inner product) is an
explicit option for corpora over :data:`HNSW_MIN_DOCS` documents only, and the index says it is approximate
so the UI can label its results. Either way the returned top-k follows :func:`core.ranking.top_k`'s rule on
the index's scores: by score descending, then doc id ascending, the lowest ids kept among the documents tied
at the k-th place.

Stored ranks never come from here: :func:`core.ranking.gold_ranks` stays on numpy (see its comment).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from core.errors import ConfigError

HNSW_MIN_DOCS = 1_000_000  # below this an exact scan is fast enough, and exact is what the project shows
KINDS = ("flat", "hnsw")


@dataclass(frozen=True)
class HnswParams:
    """HNSW build and search parameters, all explicit. FAISS draws node levels from its own fixed-seed
    generator and the graph is built on one thread, so the same vectors give the same graph."""

    m: int = 32
    ef_construction: int = 200
    ef_search: int = 128


def search_threads() -> int:
    """Threads FAISS may use: ``$CLIR_FAISS_THREADS``, else 1 (capped by the CPUs).

    One, not two, on the 2-core machine this runs on: after a search, FAISS's idle OpenMP workers spin, and
    the next query's encoding (torch, numpy) then waits for a core: minilm's encode p50 was 563 ms with 2
    FAISS threads against 56-61 ms with 1, and the FAISS top-10 itself was faster on one thread (26-38 vs
    50 ms for two queries over 66k x 384 vectors, busy machine). Set it higher on a machine with cores to
    spare.
    """
    raw = os.environ.get("CLIR_FAISS_THREADS", "")
    n = int(raw) if raw.strip().isdigit() and int(raw) > 0 else 1
    return max(1, min(n, os.cpu_count() or 1))


def _faiss():
    import faiss

    faiss.omp_set_num_threads(search_threads())
    return faiss


class _Pinned:
    """A read-only float32 array interface over memory that ``owner`` keeps alive."""

    def __init__(self, owner: object, address: int, shape: tuple[int, int]):
        self.owner = owner
        self.__array_interface__ = {"shape": shape, "typestr": "<f4", "data": (address, True), "version": 3}


@dataclass
class SearchIndex:
    """A FAISS index over one corpus (``corpus``) under one encoder fingerprint (``fingerprint``)."""

    fingerprint: str
    corpus: str
    kind: str
    n_docs: int
    dim: int
    index: object = field(repr=False)
    params: HnswParams | None = None

    @property
    def exact(self) -> bool:
        """True for the exact scan; False for HNSW, whose results must be labelled approximate."""
        return self.kind == "flat"

    @property
    def label(self) -> str:
        """How results of this index are described to a user (``exact ...`` or ``approximate ...``)."""
        if self.exact:
            return "exact (FAISS IndexFlatIP)"
        p = self.params
        return f"approximate (FAISS HNSW, M={p.m}, efSearch={p.ef_search})"

    def vectors(self) -> np.ndarray:
        """The indexed document vectors as a read-only numpy view of FAISS's own storage (no copy: a
        caller that needs every document's score need not keep a second 100+ MB matrix per encoder)."""
        faiss = _faiss()
        flat = faiss.downcast_index(self.index.storage) if self.kind == "hnsw" else self.index
        if self.n_docs == 0:
            return np.zeros((0, self.dim), np.float32)
        address = faiss.rev_swig_ptr(flat.get_xb(), self.n_docs * self.dim).ctypes.data
        # The view's base holds this index, so FAISS's memory lives as long as any view of it.
        return np.asarray(_Pinned(self, address, (self.n_docs, self.dim)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` doc ids (int64, ``(n, k)``, best first) and their scores (float32) for each query row.

        Guarantees :func:`core.ranking.top_k`'s order on the index's scores, ties included: FAISS returns
        an arbitrary subset of the documents tied at the k-th score, so the search widens until the last
        candidate scores strictly below the k-th (or every document is a candidate), then sorts the
        candidates by (-score, id). ``k`` larger than the corpus gives every document.
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise ValueError(f"queries have {q.shape[1]} dimensions, the index {self.dim}")
        k = max(0, min(int(k), self.n_docs))
        n = len(q)
        if k == 0 or n == 0:
            return np.zeros((n, k), np.int64), np.zeros((n, k), np.float32)
        _faiss()
        want = min(self.n_docs, k + 8)
        scores, ids = self.index.search(q, want)
        while want < self.n_docs:
            # Rows whose k-th score is still tied with the last candidate might miss tied lower ids.
            open_rows = (scores[:, -1] >= scores[:, k - 1]) & (ids[:, -1] >= 0)
            if not open_rows.any():
                break
            want = min(self.n_docs, want * 4)
            scores, ids = self.index.search(q, want)
        top_ids = np.empty((n, k), np.int64)
        top_scores = np.empty((n, k), np.float32)
        for i in range(n):
            ok = ids[i] >= 0  # HNSW may return fewer than asked (-1 padding)
            cid, cs = ids[i][ok], scores[i][ok]
            order = np.lexsort((cid, -cs))[:k]
            got = len(order)
            top_ids[i, :got], top_scores[i, :got] = cid[order], cs[order]
            if got < k:
                top_ids[i, got:], top_scores[i, got:] = -1, -np.inf
        return top_ids, top_scores


def check_kind(kind: str, n_docs: int) -> None:
    """Refuse an unknown kind, and HNSW for a corpus of at most :data:`HNSW_MIN_DOCS` documents.

    Raises:
        ConfigError: with a one-line reason.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown search index {kind!r}; valid: {', '.join(KINDS)}")
    if kind == "hnsw" and n_docs <= HNSW_MIN_DOCS:
        raise ConfigError(
            f"HNSW (approximate) search is only allowed for corpora over {HNSW_MIN_DOCS:,} documents; this one "
            f"has {n_docs:,}: use the exact index (flat, the default)"
        )


def build_index(
    vectors: np.ndarray,
    *,
    fingerprint: str,
    corpus: str,
    kind: str = "flat",
    params: HnswParams | None = None,
) -> SearchIndex:
    """Index ``vectors`` (unit-norm float32 rows; row ``i`` is doc id ``i``) of ``corpus`` under encoder
    ``fingerprint``.

    ``kind="flat"`` (default): exact inner product. ``kind="hnsw"``: approximate, only for corpora over
    :data:`HNSW_MIN_DOCS` documents, built on one thread with ``params`` (default :class:`HnswParams`) so
    that the same vectors give the same graph.

    Raises:
        ConfigError: unknown ``kind``, or HNSW for a corpus under the threshold.
        ValueError: ``vectors`` is not a 2-D matrix.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"document vectors must be a 2-D matrix, got shape {vectors.shape}")
    n, dim = vectors.shape
    check_kind(kind, n)
    faiss = _faiss()
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return SearchIndex(fingerprint, corpus, kind, n, dim, index)
    params = params or HnswParams()
    index = faiss.IndexHNSWFlat(dim, params.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params.ef_construction
    index.hnsw.efSearch = params.ef_search
    # Parallel insertion makes the graph depend on thread timing; one thread keeps it reproducible.
    faiss.omp_set_num_threads(1)
    try:
        index.add(vectors)
    finally:
        faiss.omp_set_num_threads(search_threads())
    return SearchIndex(fingerprint, corpus, kind, n, dim, index, params)


@dataclass(frozen=True)
class Prebuilt:
    """What :func:`prebuild` did: corpus size, documents encoded now, and the index it built."""

    encoder: str
    corpus: str
    n_docs: int
    encoded_now: int
    seconds: float
    index: SearchIndex = field(repr=False)


def corpus_vectors(encoder, texts, *, progress: bool = True, desc: str = "") -> tuple[np.ndarray, int]:
    """Unit-norm vectors of ``texts`` by ``encoder``'s document side, read from the embedding cache under
    its fingerprint; texts the cache lacks are encoded once (a tqdm bar counts them) and stored there.

    Returns:
        (float32 matrix in ``texts`` order, number of texts encoded now).
    """
    from tqdm import tqdm

    from core.encoders import EmbeddingCache, document_side, encode_cached

    side = document_side(encoder)
    cache = EmbeddingCache(side.fingerprint)
    try:
        missing = len(set(texts)) - len(cache.get(texts))
        with tqdm(
            total=missing,
            desc=desc or f"encoding {side.name}",
            unit="doc",
            disable=not progress or not missing,
        ) as bar:
            return encode_cached(side, texts, cache, batch=256, on_progress=bar.update)
    finally:
        cache.close()


def prebuild(name: str, corpus: str = "all-eng", *, kind: str = "flat", progress: bool = True) -> Prebuilt:
    """Make ``corpus`` (only ``all-eng``: every English side of ``$CLIR_DATA_DIR``) searchable by encoder
    ``name`` without waiting: its documents' vectors land in the embedding cache, which live search reads,
    and the index is built once to check it.

    Raises:
        UnknownNameError: unknown encoder or corpus.  EncoderUnavailable: the encoder cannot load here.
        DataError: no data folder.  ConfigError: HNSW for a corpus under the threshold.
    """
    from core.datasets.all_english import ALL_ENGLISH, all_english
    from core.encoders import document_side, load_encoder
    from core.errors import UnknownNameError

    if corpus != ALL_ENGLISH:
        raise UnknownNameError("corpus", corpus, [ALL_ENGLISH])
    t0 = time.monotonic()
    pooled = all_english()
    check_kind(kind, len(pooled.documents))
    enc = load_encoder(name)
    matrix, n_new = corpus_vectors(
        enc, list(pooled.documents), progress=progress, desc=f"{name}: {pooled.label}"
    )
    index = build_index(matrix, fingerprint=document_side(enc).fingerprint, corpus=ALL_ENGLISH, kind=kind)
    return Prebuilt(name, ALL_ENGLISH, len(pooled.documents), n_new, time.monotonic() - t0, index)
