"""The computation of cells, the same whichever backend runs it: noise, encode, rank, rows.

:func:`compute_batch` computes one encoder's groups of one language: :func:`encode_batch` (every query text
of the groups through the embedding cache in one length-sorted pass) then :func:`rank_batch`
(:func:`compute_group` per group: exact ranks against each task's corpus, one ``ranks`` row per query and
one ``cells`` row per cell). :func:`document_vectors` gives a corpus's vectors. Nothing here touches the
database or knows where it runs: the backends (:mod:`core.pipeline.backends`) call these functions and hand
the results to the sink (:mod:`core.pipeline.sink`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from core.conditions import CLEAN_NOISE
from core.datasets import RetrievalTask
from core.datasets.codes import noise_language
from core.encoders import EmbeddingCache, Encoder, document_side, encode_cached, query_side
from core.encoders.windows import document_key
from core.encoders.windows import document_vectors as windowed_vectors
from core.noise import NOISE_VERSION, apply_noise_batch
from core.pipeline.schedule import Group, cell_key
from core.ranking import gold_ranks
from core.store import CELL_KEY

KEEP_TEXTS = 50_000  # a language batch's query vectors kept in memory up to this many texts (~100 MB)


def noisy_frame(task: RetrievalTask, noise: str, level: float, seed: int) -> pd.DataFrame:
    """The noisy queries of ``task`` under one condition, with their edits, CER and layout, one row per query
    (the ``noisy_queries`` table's columns). Deterministic: the same arguments give the same frame."""
    qids = task.qids.tolist()
    # One batch call: the same results as apply_noise query by query, computed several times faster,
    # read by column (no NoiseResult or Edit object per query).
    # The dataset's code (amh_Ethi, aze-Latn) names the language; the noise reads its ISO 639-3 part.
    res = apply_noise_batch(
        list(task.queries), noise, level, seed=seed, qids=qids, langs=noise_language(task.lang)
    )
    df = pd.DataFrame(
        {"qid": qids, "noisy": res.noisy, "edits_json": res.edits_json, "cer": res.cer, "layout": res.layouts}
    )
    df.insert(0, "dataset", task.dataset)
    df.insert(1, "lang", task.lang)
    df.insert(2, "noise", noise)
    df.insert(3, "level", float(level))
    df.insert(4, "seed", int(seed))
    return df


def noisy_key(task: RetrievalTask, cond: tuple[str, float, int]) -> tuple:
    """The identity of a condition's noisy query set (the same for every encoder and mode)."""
    noise, level, seed = cond
    return task.dataset, task.lang, noise, float(level), int(seed), len(task.queries)


@dataclass
class GroupResult:
    """The rows of one computed :class:`Group`: cells, rank rows, and the noisy queries if computed now."""

    cells: pd.DataFrame
    ranks: pd.DataFrame
    noisy: pd.DataFrame | None
    texts_encoded: int


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    # Found once: a threadpool_limits() per ranked cell re-scanned every loaded library (~2.5 ms each).
    return ThreadpoolController()


EncodeFn = Callable[[Encoder, list[str], str], tuple[np.ndarray, int]]


def encode_through_cache(
    encoder: Encoder, texts: list[str], label: str = "", progress: bool = False, *, keep: bool = True
) -> tuple[np.ndarray, int]:
    """Vectors of ``texts`` through this process's embedding cache (``$CLIR_CACHE_DIR``), and how many
    texts were encoded now. The one way a run encodes, whichever process it runs in. ``keep=False`` only
    fills the cache and returns no vectors."""
    cache = EmbeddingCache(encoder.fingerprint)
    try:
        with tqdm(total=len(texts), desc=f"  {label}", unit="text", leave=False, disable=not progress) as bar:
            return encode_cached(encoder, texts, cache, on_progress=bar.update, keep=keep)
    finally:
        cache.close()


def document_vectors(
    encoder: Encoder, task: RetrievalTask, encode: EncodeFn = encode_through_cache
) -> tuple[np.ndarray, int]:
    """(vectors of ``task``'s corpus by the encoder's document side, texts encoded now). Documents of
    several sentences go through the encoder's windowing rule (:mod:`core.encoders.windows`)."""
    cid = task.corpus.corpus_id
    if task.corpus.segments:
        side = document_side(encoder)
        vectors, n_new = windowed_vectors(side, task.corpus.segments, encode, f"docs {cid}")
        keep_document_vectors(side, task.corpus.documents, vectors)
        return vectors, n_new
    return encode(document_side(encoder), list(task.corpus.documents), f"docs {cid}")


def keep_document_vectors(side: Encoder, documents: tuple[str, ...], vectors: np.ndarray) -> None:
    """Store windowed document vectors in ``side``'s embedding cache under
    :func:`core.encoders.windows.document_key`, where exports and live search read them."""
    cache = EmbeddingCache(side.fingerprint)
    try:
        cache.put([document_key(d) for d in documents], vectors)
    finally:
        cache.close()


def compute_group(
    name: str,
    encoder: Encoder,
    tasks: list[RetrievalTask],
    data_fps: list[str],
    cond: tuple[str, float, int],
    doc_vectors: Mapping[str, np.ndarray],
    *,
    top_k: int,
    run_id: str,
    noisy: pd.DataFrame | None = None,
    encode: EncodeFn = encode_through_cache,
    started: float | None = None,
) -> GroupResult:
    """Compute one group's cells: noise the queries, encode them, rank each task's corpus, build the rows.

    The one computation of a cell, whichever backend runs it; it touches no database. ``tasks`` share one
    language and query set; ``doc_vectors`` holds the document vectors of every corpus they rank against;
    ``noisy`` is the condition's noisy query frame if already computed (noise is deterministic, so reusing
    it gives the same rows); ``name`` is the encoder's name in the grid; ``started`` (default: now) is when
    the work of its cells began, for their ``seconds``. Guarantees: the same encoder vectors give the same
    rows, bit for bit, except ``run_id``, ``seconds`` and ``completed_at``.
    """
    t0 = time.monotonic() if started is None else started
    noise, level, seed = cond
    first = tasks[0]
    fresh = None
    if noise == CLEAN_NOISE:
        texts = list(first.queries)
    else:
        if noisy is None:
            noisy = fresh = noisy_frame(first, noise, level, seed)
        texts = noisy["noisy"].tolist()
    # Asymmetric encoders (a distilled student for queries, its teacher for documents) encode each side
    # with its own model, cached under that side's fingerprint.
    q_emb, n_new = encode(query_side(encoder), texts, f"{first.lang} {noise}@{level:g}")
    ranks, cells = [], []
    for task, data_fp in zip(tasks, data_fps):
        # One BLAS thread for ranking: OpenBLAS workers left spinning after a multi-threaded matmul steal
        # the 2 cores from torch's next forward pass.
        with _blas().limit(limits=1, user_api="blas"):
            gr = gold_ranks(q_emb, doc_vectors[task.corpus.corpus_id], task.gold, k=top_k)
        key = cell_key(task, name, noise, level, seed)
        ranks.append(_rank_frame(task, key, gr, texts, run_id))
        cells.append({
            **dict(zip(CELL_KEY, key)), "fingerprint": encoder.fingerprint, "run_id": run_id,
            "n_queries": len(task.queries), "n_docs": task.n_docs,
            "seconds": time.monotonic() - t0, "completed_at": pd.Timestamp.now(),
            "data_fingerprint": data_fp, "noise_version": NOISE_VERSION,
        })  # fmt: skip
    return GroupResult(pd.DataFrame(cells), pd.concat(ranks), fresh, n_new)


def _rank_frame(task: RetrievalTask, key: tuple, gr, texts: list[str], run_id: str) -> pd.DataFrame:
    df = pd.DataFrame({
        **dict(zip(CELL_KEY, key)),
        "qid": task.qids.astype(np.int32), "rank": gr.rank.astype(np.int32), "n_docs": np.int32(task.n_docs),
        "score_gold": gr.gold_score, "top_ids": list(gr.top_ids.astype(np.int32)),
        "top_scores": list(gr.top_scores), "query_noisy": texts, "run_id": run_id,
    })  # fmt: skip
    return df


@dataclass
class EncodedBatch:
    """One language's groups after their encoding pass (:func:`encode_batch`), ready to rank."""

    groups: Sequence[Group]
    frames: list[pd.DataFrame | None]  # each group's noisy query frame (None: clean)
    computed: list[bool]  # whether the frame was computed by the encoding pass (then stored with the group)
    encode: EncodeFn  # the query vectors of a group's texts (memory or cache)
    texts_encoded: int
    started: float


def encode_batch(
    encoder: Encoder,
    tasks: Sequence[RetrievalTask],
    groups: Sequence[Group],
    noisy: Sequence[pd.DataFrame | None],
    *,
    progress: bool = False,
) -> EncodedBatch:
    """The encoding pass of ``groups`` (one encoder's, of one language): every query text of the groups
    through the embedding cache in one length-sorted pass.

    Group by group, ~1,000 texts per call padded worse and paid the per-call costs ~40 times per language
    (overhead 1.48 against encoding once). ``tasks`` are the plan's (what ``Group.tasks`` index);
    ``noisy[i]`` is ``groups[i]``'s noisy query frame if already known (None: computed here). A batch of at
    most :data:`KEEP_TEXTS` texts keeps its vectors in memory for its groups (the same float32 vectors the
    cache returns); a larger one (a full grid's language) only fills the cache, which its groups then read,
    so that memory stays bounded.
    """
    started = time.monotonic()
    frames: list[pd.DataFrame | None] = []
    computed: list[bool] = []
    texts: list[str] = []
    for g, known in zip(groups, noisy, strict=True):
        task = tasks[g.tasks[0]]
        if g.cond[0] == CLEAN_NOISE:
            frames.append(None)
            computed.append(False)
            texts += task.queries
            continue
        frame = known if known is not None else noisy_frame(task, *g.cond)
        frames.append(frame)
        computed.append(known is None)
        texts += frame["noisy"].tolist()
    keep = len(texts) <= KEEP_TEXTS
    label = f"{groups[0].lang} all conditions" if groups else ""
    vectors, n_new = encode_through_cache(query_side(encoder), texts, label, progress, keep=keep)
    memo = dict(zip(texts, vectors)) if keep else {}

    def encode(enc: Encoder, batch: list[str], label: str) -> tuple[np.ndarray, int]:
        if memo:
            return np.stack([memo[t] for t in batch]), 0
        return encode_through_cache(enc, batch, label, progress)

    return EncodedBatch(groups, frames, computed, encode, n_new, started)


def rank_batch(
    name: str,
    encoder: Encoder,
    tasks: Sequence[RetrievalTask],
    data_fp: Sequence[str],
    batch: EncodedBatch,
    doc_vectors: Mapping[str, np.ndarray],
    *,
    top_k: int,
    run_id: str,
) -> Iterator[tuple[Group, GroupResult]]:
    """Rank an encoded batch: yield ``(group, result)`` in the groups' order, each result equal to
    :func:`compute_group`'s for the group, with ``result.noisy`` the frame the encoding pass computed (to be
    stored) or None. The first result carries the pass's time and texts, so the cells' ``seconds`` add up."""
    for i, (g, frame) in enumerate(zip(batch.groups, batch.frames)):
        result = compute_group(
            name, encoder, [tasks[j] for j in g.tasks], [data_fp[j] for j in g.tasks], g.cond, doc_vectors,
            top_k=top_k, run_id=run_id, noisy=frame, encode=batch.encode,
            started=batch.started if i == 0 else None,
        )  # fmt: skip
        result.noisy = frame if batch.computed[i] else None
        if i == 0:
            result.texts_encoded += batch.texts_encoded
        yield g, result


def compute_batch(
    name: str,
    encoder: Encoder,
    tasks: Sequence[RetrievalTask],
    data_fp: Sequence[str],
    groups: Sequence[Group],
    doc_vectors: Mapping[str, np.ndarray],
    noisy: Sequence[pd.DataFrame | None],
    *,
    top_k: int,
    run_id: str,
    progress: bool = False,
) -> Iterator[tuple[Group, GroupResult]]:
    """Compute ``groups`` (one encoder's, of one language): :func:`encode_batch` then :func:`rank_batch`.
    Every backend computes through these two."""
    if not groups:
        return
    batch = encode_batch(encoder, tasks, groups, noisy, progress=progress)
    yield from rank_batch(name, encoder, tasks, data_fp, batch, doc_vectors, top_k=top_k, run_id=run_id)
