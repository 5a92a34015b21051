"""Run a grid: noise the queries, encode through the cache, rank exactly, store one row per query.

Resumable and incremental by construction: the unit of work is a *cell* (dataset, mode, corpus, lang,
encoder, noise, level, seed); a cell's rows and its ``cells`` record are written in one transaction, and a
run skips every cell already stored with the same encoder fingerprint. A run killed at any moment loses at
most the cells buffered since its last flush, and the next run recomputes exactly those.

One path whatever computes the cells: :func:`_plan` decides the work (groups of cells), :func:`compute_batch`
computes one language's groups (noise, one encoding pass, then :func:`compute_group` per group: rank, rows)
and :class:`ResultSink` is the only writer. The local backend runs them in this process; the Ray backend
(:mod:`core.pipeline.ray_backend`) on actors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from core.conditions import CLEAN_NOISE
from core.datasets import RetrievalTask, is_multiway
from core.datasets.codes import noise_language, same_language
from core.encoders import (
    EmbeddingCache,
    Encoder,
    document_side,
    encode_cached,
    encoder_fingerprint,
    query_side,
    resolve_spec,
    seen_languages,
)
from core.encoders.process import RemoteEncoder, load_for_run, release
from core.encoders.windows import WINDOW_RULE_VERSION, document_key
from core.encoders.windows import document_vectors as windowed_vectors
from core.errors import DataChangedError, EncoderUnavailable, UnknownNameError
from core.jobs import run_is_dead, this_process
from core.noise import NOISE_VERSION, apply_noise_batch
from core.paths import cache_dir
from core.pipeline.grid import Grid, grid_tasks
from core.provenance import versions
from core.ranking import gold_ranks
from core.store import CELL_KEY, connect
from core.store import queries as reads
from core.store import writes as w

log = logging.getLogger(__name__)
NOISY_MEMO_SIZE = 64  # noisy query sets kept for the next encoder (a run's memory must not grow per cell)
KEEP_TEXTS = 50_000  # a language batch's query vectors kept in memory up to this many texts (~100 MB)
FLUSH_CELLS = 200  # buffered cells written at the latest after this many (and after flush_seconds)


@dataclass
class RunReport:
    """What a run did: cells written, cells already stored (``cells_skipped``), cells of encoders that could
    not load here (``cells_unavailable``: not computed, not stored), encoders skipped with the reason, texts
    encoded (by this process and by the run's workers), and the backend that computed it."""

    run_id: str
    cells_written: int = 0
    cells_skipped: int = 0
    cells_unavailable: int = 0
    texts_encoded: int = 0
    skipped_encoders: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    backend: str = "local"


def _noisy_frame(task: RetrievalTask, noise: str, level: float, seed: int) -> pd.DataFrame:
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


def _inputs(tasks: list[RetrievalTask]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    q, d, g = [], {}, []
    for t in tasks:
        q.append(pd.DataFrame({"dataset": t.dataset, "lang": t.lang, "qid": t.qids, "text": list(t.queries)}))
        d.setdefault(t.corpus.corpus_id, pd.DataFrame(
            {"corpus": t.corpus.corpus_id, "doc_id": np.arange(t.n_docs), "text": list(t.corpus.documents)}
        ))  # fmt: skip
        g.append(
            pd.DataFrame(
                {
                    "corpus": t.corpus.corpus_id,
                    "dataset": t.dataset,
                    "lang": t.lang,
                    "qid": t.qids,
                    "doc_id": t.gold,
                }
            )
        )
    queries = pd.concat(q).drop_duplicates(["dataset", "lang", "qid"])
    return queries, pd.concat(d.values()), pd.concat(g)


def _cell_key(task: RetrievalTask, encoder: str, noise: str, level: float, seed: int) -> tuple:
    """The task's cell in :data:`core.store.CELL_KEY` order."""
    return task.dataset, task.mode, task.corpus.corpus_id, task.lang, encoder, noise, float(level), int(seed)


def corpus_digest(task: RetrievalTask) -> str:
    """sha256 of a task's corpus: its id and every document text, in doc-id order; for a corpus of
    multi-sentence documents also their sentences and the windowing rules' version."""
    h = hashlib.sha256(task.corpus.corpus_id.encode())
    h.update(json.dumps(list(task.corpus.documents), ensure_ascii=False).encode())
    if task.corpus.segments:
        h.update(json.dumps([WINDOW_RULE_VERSION, task.corpus.segments], ensure_ascii=False).encode())
    return h.hexdigest()


def data_fingerprint(task: RetrievalTask, corpus_sha: str | None = None) -> str:
    """Fingerprint of exactly the data a cell of ``task`` is computed from.

    sha256 over the dataset, mode, language, the corpus (:func:`corpus_digest`), and every (qid, query text,
    gold doc id) of the task, so a changed sentence, gold link or query subset gives another fingerprint.
    """
    h = hashlib.sha256()
    header = [task.dataset, task.mode, task.lang, corpus_sha or corpus_digest(task)]
    h.update(json.dumps(header).encode())
    h.update(
        json.dumps([task.qids.tolist(), list(task.queries), task.gold.tolist()], ensure_ascii=False).encode()
    )
    return h.hexdigest()[:32]


def _input_changes(conn, tasks: list[RetrievalTask]) -> tuple[dict[str, str], set[str]]:
    """Languages whose stored queries or gold disagree with the data now (lang -> why), and the corpora
    whose stored documents disagree. Ids present in only one side are additions, not changes."""
    changed: dict[str, str] = {}
    corpora: set[str] = set()
    seen_corpora: set[str] = set()
    for t in tasks:
        stored_q, stored_g = w.stored_queries_and_gold(conn, t.dataset, t.lang, t.corpus.corpus_id)
        for qid, text, gold in zip(t.qids.tolist(), t.queries, t.gold.tolist()):
            if qid in stored_q and stored_q[qid] != text:
                changed.setdefault(t.lang, f"query {qid} is now {text[:40]!r}, stored {stored_q[qid][:40]!r}")
                break
            if qid in stored_g and stored_g[qid] != gold:
                changed.setdefault(t.lang, f"the gold document of query {qid} changed")
                break
        # A pooled corpus is shared by every language's task: read and compare its documents once.
        if t.corpus.corpus_id in seen_corpora:
            continue
        seen_corpora.add(t.corpus.corpus_id)
        stored_d = dict(reads.documents(conn, t.corpus.corpus_id).itertuples(index=False))
        docs = t.corpus.documents
        if stored_d and (len(stored_d) != len(docs) or any(stored_d.get(i) != d for i, d in enumerate(docs))):
            corpora.add(t.corpus.corpus_id)
            changed.setdefault(t.lang, f"the documents of corpus {t.corpus.corpus_id} changed")
    return changed, corpora


@dataclass(frozen=True)
class Group:
    """One unit of work: an encoder's cells of one (language, condition), over one or more tasks.

    ``tasks`` are indices into :attr:`RunPlan.tasks` (the same query set ranked against each mode's corpus),
    so a group is a few bytes to send to a worker that already holds the tasks.
    """

    encoder: str
    lang: str
    cond: tuple[str, float, int]
    tasks: tuple[int, ...]


@dataclass
class RunPlan:
    """What a run computes, decided once on the driver before any model loads (both backends use it).

    ``groups`` maps every encoder that can be fingerprinted here to its groups with a cell to compute (an
    encoder whose cells are all stored maps to ``[]``); ``data_fp[i]`` is :func:`data_fingerprint` of
    ``tasks[i]``.
    """

    grid: Grid
    tasks: list[RetrievalTask]
    data_fp: list[str]
    langs: list[str]
    groups: dict[str, list[Group]]
    fingerprints: dict[str, str]
    n_todo: int
    n_extra: int = 0  # of n_todo, cells outside the grid recomputed on its query set (--replace-changed)

    @property
    def multiway(self) -> bool:
        """Whether the grid's dataset is a multi-way parallel set (its codes are matched by ISO language)."""
        return is_multiway(self.grid.label)

    def corpora(self, groups: list[Group]) -> dict[str, int]:
        """Corpus id -> index of a task ranked against it, for every corpus ``groups`` rank against."""
        out: dict[str, int] = {}
        for g in groups:
            for i in g.tasks:
                out.setdefault(self.tasks[i].corpus.corpus_id, i)
        return out


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


def noisy_key(task: RetrievalTask, cond: tuple[str, float, int]) -> tuple:
    """The identity of a condition's noisy query set (the same for every encoder and mode)."""
    noise, level, seed = cond
    return task.dataset, task.lang, noise, float(level), int(seed), len(task.queries)


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
            noisy = fresh = _noisy_frame(first, noise, level, seed)
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
        key = _cell_key(task, name, noise, level, seed)
        ranks.append(_rank_frame(task, key, gr, texts, run_id))
        cells.append({
            **dict(zip(CELL_KEY, key)), "fingerprint": encoder.fingerprint, "run_id": run_id,
            "n_queries": len(task.queries), "n_docs": task.n_docs,
            "seconds": time.monotonic() - t0, "completed_at": pd.Timestamp.now(),
            "data_fingerprint": data_fp, "noise_version": NOISE_VERSION,
        })  # fmt: skip
    return GroupResult(pd.DataFrame(cells), pd.concat(ranks), fresh, n_new)


class ResultSink:
    """The driver's single writer: buffers group results and stores them through ``write_cells``.

    Every backend hands its results here and nothing else writes cells, so each flush stores whole cells
    with their rows in one transaction wherever they were computed. Also keeps the progress bar, the run's
    counters and a bounded memo of noisy query sets for the next encoders.

    Writes run on one background thread while the run computes on, one write at a time and in order: a
    flush first waits for the previous write (so at most one buffer is in flight, and a write that failed
    raises here), and :meth:`flush` with ``wait`` (the default) returns only once everything is stored.
    """

    def __init__(self, db_path, report: RunReport, n_todo: int, *, progress: bool, flush_seconds: float,
                 on_progress: Callable[[int, int], None] | None):  # fmt: skip
        self.db_path, self.report, self.n_todo = db_path, report, n_todo
        self.flush_seconds, self.on_progress = flush_seconds, on_progress
        self.bar = tqdm(
            total=n_todo, desc="cells", unit="cell", disable=not progress or not n_todo, dynamic_ncols=True
        )
        self._buffer: dict[str, list[pd.DataFrame]] = {"cells": [], "ranks": [], "noisy": []}
        self._last_flush = time.monotonic()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clir-writer")
        self._pending: Future | None = None
        # Noisy queries of recent conditions, reused by the next encoders; bounded so that a run's memory
        # does not grow with its number of cells (an evicted entry is simply recomputed, deterministically).
        self._noisy: OrderedDict[tuple, pd.DataFrame] = OrderedDict()

    def noisy_for(self, plan: RunPlan, group: Group) -> pd.DataFrame | None:
        """The memoised noisy query frame of ``group``'s condition, or None (clean, or not computed yet)."""
        key = noisy_key(plan.tasks[group.tasks[0]], group.cond)
        if key in self._noisy:
            self._noisy.move_to_end(key)
            return self._noisy[key]
        return None

    def add(self, plan: RunPlan, group: Group, result: GroupResult) -> None:
        """Take one computed group; flush when the buffer is old or large."""
        if result.noisy is not None:
            key = noisy_key(plan.tasks[group.tasks[0]], group.cond)
            self._buffer["noisy"].append(result.noisy)
            self._noisy[key] = result.noisy
            while len(self._noisy) > NOISY_MEMO_SIZE:
                self._noisy.popitem(last=False)
        self._buffer["cells"].append(result.cells)
        self._buffer["ranks"].append(result.ranks)
        self.report.texts_encoded += result.texts_encoded
        # Bounded in time and in size: a fast encoder must not pile up thousands of cells. Flushed before
        # the progress report, so that when a group is reported every earlier flushed group is stored.
        if (
            time.monotonic() - self._last_flush > self.flush_seconds
            or len(self._buffer["cells"]) >= FLUSH_CELLS
        ):
            self.flush(wait=False)
        for _ in range(len(result.cells)):
            self.report.cells_written += 1
            self.bar.update(1)
            if self.on_progress:
                self.on_progress(self.report.cells_written, self.n_todo)

    def skip(self, groups: list[Group]) -> None:
        """Count the cells of an encoder that could not load: unavailable in the report, done for the bar."""
        n = sum(len(g.tasks) for g in groups)
        self.report.cells_unavailable += n
        self.bar.update(n)

    def flush(self, wait: bool = True) -> None:
        """Store every buffered cell with its rank rows and noisy queries in one transaction, on the writer
        thread; with ``wait``, return once it (and every earlier write) is stored.

        Raises:
            StoreError: this write or an earlier one failed (the cells of earlier writes are stored).
        """
        self._wait()
        if self._buffer["cells"]:
            noisy = pd.concat(self._buffer["noisy"]) if self._buffer["noisy"] else pd.DataFrame()
            frames = pd.concat(self._buffer["cells"]), pd.concat(self._buffer["ranks"]), noisy
            self._pending = self._writer.submit(self._write, *frames)
        for v in self._buffer.values():
            v.clear()
        self._last_flush = time.monotonic()
        if wait:
            self._wait()

    def _write(self, cells: pd.DataFrame, ranks: pd.DataFrame, noisy: pd.DataFrame) -> None:
        with connect(self.db_path) as conn:
            w.write_cells(conn, cells, ranks, noisy)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Close the progress bar and the writer thread (the buffer is flushed by the caller; a write still in
        flight, after a failure, is waited for)."""
        self.bar.close()
        self._writer.shutdown(wait=True)


BACKENDS = ("local", "ray")


def run_grid(
    grid: Grid,
    db_path: str | Path,
    *,
    progress: bool = True,
    say: Callable[[str], None] = print,
    flush_seconds: float = 2.0,
    on_progress: Callable[[int, int], None] | None = None,
    replace_changed: bool = False,
    backend: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> RunReport:
    """Compute every missing cell of ``grid`` into ``db_path``.

    ``on_progress(done, total)`` is called after each computed cell (for status files and UIs).
    ``backend`` is ``"local"`` (this process) or ``"ray"`` (actors of a Ray cluster at ``address``, or of a
    Ray started here with ``workers`` CPUs; see :mod:`core.pipeline.ray_backend`). Both share the planning,
    the per-group computation (:func:`compute_group`) and the writer: the same grid gives the same rows.

    Guarantees: one ``ranks`` row per (cell, query); no cell twice; a second run over a finished grid
    loads no model and encodes nothing; an encoder that cannot load is reported through ``say`` and skipped
    while the rest of the grid runs. Nothing is mixed: a cell counts as done only under the same encoder
    fingerprint, data fingerprint (:func:`data_fingerprint`), query count and noise version; when the data
    of a language changed under the database, or a stored cell was computed by another model under the same
    encoder name, the run refuses before computing anything, unless ``replace_changed``, which deletes and
    recomputes exactly those cells and says so. A grid whose query set of a language (e.g. its
    ``max_queries``) differs from the one of any cell stored for that language is refused the same way;
    ``replace_changed`` then recomputes every such cell on the new query set, those outside the grid too
    (:func:`query_set_changes`). Cells stored before data fingerprints existed (schema < v3)
    are recomputed, with a message. The run's ``runs`` row ends ``done``, ``failed`` or ``interrupted`` on
    every path once it is written; a failure keeps every cell completed before it.

    Raises:
        UnknownNameError: unknown language, encoder or backend (before anything is computed).
        DataError: missing or malformed data.  StoreError: unreadable, damaged, foreign or locked database.
        DataChangedError: the data or an encoder changed under stored cells (without ``replace_changed``).
        BackendUnavailable: ``ray`` is not installed or its cluster cannot be reached.
    """
    if backend not in BACKENDS:
        raise UnknownNameError("backend", backend, BACKENDS)
    session = None
    if backend == "ray":
        from core.pipeline import ray_backend

        session = ray_backend.RaySession(address, workers)
    ok = False
    try:
        if session is not None:
            session.check()  # fails in a second, before the data or the database is read
        report = _run_grid(grid, db_path, progress=progress, say=say, flush_seconds=flush_seconds,
                           on_progress=on_progress, replace_changed=replace_changed, session=session)  # fmt: skip
        ok = True
        return report
    finally:
        if session is not None:
            session.close(ok)


def _run_grid(grid: Grid, db_path, *, progress, say, flush_seconds, on_progress, replace_changed, session):
    started = time.monotonic()
    tasks = grid_tasks(grid)
    for name in grid.encoders:
        resolve_spec(name)  # unknown names fail now, not after an hour of encoding
    report = RunReport(
        run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
        backend="local" if session is None else "ray",
    )
    corpus_sha: dict[str, str] = {}
    for t in tasks:
        if t.corpus.corpus_id not in corpus_sha:
            corpus_sha[t.corpus.corpus_id] = corpus_digest(t)
    data_fp = [data_fingerprint(t, corpus_sha[t.corpus.corpus_id]) for t in tasks]

    # Every stored row is read back once before anything is written: a damaged file is refused untouched.
    with connect(db_path, verify=True) as conn:
        mark_dead_runs(conn, say)
        w.record_run_start(conn, {
            "run_id": report.run_id, "grid_toml": Path(grid.source).read_text() if Path(grid.source).is_file() else "",
            "grid_json": json.dumps(grid.to_dict()), "versions_json": json.dumps(versions()),
            "argv": " ".join(sys.argv), **this_process(), "cache_dir": run_cache(session),
        })  # fmt: skip

    sink: ResultSink | None = None
    status = "failed"
    try:
        with connect(db_path) as conn:
            _check_inputs(conn, tasks, grid.label, replace_changed, say, db_path)
            # Before any input is stored: a refused grid leaves the database as it was.
            extra = _check_query_sets(conn, grid, tasks, data_fp, replace_changed, say, db_path)
            w.store_inputs(conn, *_inputs(tasks))
            done = {tuple(r[: len(CELL_KEY)]): tuple(r[len(CELL_KEY) :])
                    for r in w.completed_cells(conn).itertuples(index=False)}  # fmt: skip

        plan = _plan(grid, tasks, data_fp, done, report, say, replace_changed, db_path, extra)
        # Cells of an encoder that cannot even be fingerprinted here are not in the plan: unavailable, not
        # "already stored".
        report.cells_unavailable = sum(1 for c in grid.cells() if c[3] in report.skipped_encoders)
        report.cells_skipped = len(grid.cells()) - (plan.n_todo - plan.n_extra) - report.cells_unavailable
        sink = ResultSink(db_path, report, plan.n_todo, progress=progress, flush_seconds=flush_seconds,
                          on_progress=on_progress)  # fmt: skip
        if plan.n_todo:
            if session is not None:
                from core.pipeline import ray_backend

                ray_backend.run_plan(plan, sink, session, say=say, db_path=db_path)
            else:
                _run_local(plan, sink, say=say, db_path=db_path, progress=progress)
        sink.flush()
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        if sink is not None:
            _keep_completed(sink.flush, say)
        raise
    except BaseException:
        if sink is not None:
            _keep_completed(sink.flush, say)
        raise
    finally:
        if sink is not None:
            sink.close()
        report.seconds = time.monotonic() - started
        try:
            with connect(db_path) as conn:
                w.record_run_end(conn, report.run_id, status)
        except Exception as exc:
            if status == "done":
                raise
            # The run is already failing with its own error; that one is what the user must see (and on a
            # full disk it already says so: a second line would repeat it in DuckDB's words).
            from core.errors import is_disk_full

            (log.debug if is_disk_full(exc) else log.warning)(
                "could not mark run %s %s: %s", report.run_id, status, exc
            )
    return report


def mark_dead_runs(conn, say: Callable[[str], None]) -> int:
    """Mark 'interrupted' the runs still 'running' whose process is surely gone (:func:`core.jobs.run_is_dead`:
    this host, PID gone or reused), saying so once; returns how many. A run killed with SIGKILL cannot mark
    its own row: the next run on its host does."""
    running = w.running_runs(conn)
    dead = [r.run_id for r in running.itertuples(index=False) if run_is_dead(r.host, r.pid, r.pid_start)]
    n = w.mark_interrupted(conn, dead)
    if n:
        say(f"marked {n} earlier run{'s' if n > 1 else ''} interrupted (process gone): {', '.join(dead)}")
    return n


def run_cache(session) -> str:
    """The embedding cache a run reads and fills, as its ``runs`` row records it: this process's
    ``$CLIR_CACHE_DIR`` (or ``<repo>/cache``), also the workers' of a private Ray; on a Ray cluster each node's
    own."""
    if session is not None and session.address:
        return f"each Ray node's own $CLIR_CACHE_DIR (cluster at {session.address})"
    try:
        return str(cache_dir().absolute())
    except OSError:  # cannot be created here: the run says so when it first needs it, not now
        return os.environ.get("CLIR_CACHE_DIR") or "<repo>/cache"


def _run_local(plan: RunPlan, sink: ResultSink, *, say, db_path, progress: bool) -> None:
    """The local backend: each encoder loaded once (in this process, or in its own single-threaded child
    processes for the kinds that ask for them: :mod:`core.encoders.process`), its groups computed in plan
    order."""
    report = sink.report

    def encode(encoder: Encoder, texts: list[str], label: str) -> tuple[np.ndarray, int]:
        return encode_through_cache(encoder, texts, label, progress)

    # The next language's noisy queries are computed on a second thread while this one encodes (the
    # encoders' matrix products release the GIL), the first language's while the encoder loads and encodes
    # the documents; noise is deterministic, so the rows are the same. Ranking stays on this thread: its
    # one-BLAS-thread limit is process-wide and would slow an encoder running in this process.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clir-noise") as noiser:
        for name, groups in plan.groups.items():
            if not groups:
                continue
            batches = list(by_language(groups).values())
            ahead = _noise_ahead(noiser, plan, sink, batches[0])
            encoder = _load(name, report, say)
            if encoder is None:
                sink.skip(groups)
                continue
            try:
                record_encoder(db_path, name, encoder.fingerprint, encoder.spec, report.run_id, plan.langs,
                               multiway=plan.multiway)  # fmt: skip
                doc_vectors: dict[str, np.ndarray] = {}
                for cid, i in plan.corpora(groups).items():
                    doc_vectors[cid], n_new = document_vectors(encoder, plan.tasks[i], encode)
                    report.texts_encoded += n_new
                _encode_and_rank(name, encoder, plan, batches, ahead, noiser, doc_vectors, sink, progress)
            finally:
                release(encoder)
            sink.flush(wait=False)  # stored while the next encoder loads


def _encode_and_rank(name: str, encoder: Encoder, plan: RunPlan, batches: list[list[Group]], ahead: Future,
                     noiser: ThreadPoolExecutor, doc_vectors: Mapping[str, np.ndarray], sink: ResultSink,
                     progress: bool) -> None:  # fmt: skip
    """Each language batch of one encoder: its encoding pass, then its ranking into ``sink``. ``ahead`` is
    the first batch's noise (:func:`_noise_ahead`); each batch starts the next one's.

    An encoder in child processes (:class:`RemoteEncoder`) encodes the next batch (on a second thread,
    which only waits for the children) while this thread ranks the current one, so the children never
    wait for the ranking; the rows are the same, in the same order.
    """

    def start(b: int) -> tuple[list, list[Group], list]:
        nonlocal ahead
        known, fresh = ahead.result()
        if b + 1 < len(batches):
            ahead = _noise_ahead(noiser, plan, sink, batches[b + 1])
        return fresh, batches[b], [k if k is not None else f for k, f in zip(known, fresh)]

    if not isinstance(encoder, RemoteEncoder):
        for b in range(len(batches)):
            fresh, groups, frames = start(b)
            batch = encode_batch(encoder, plan.tasks, groups, frames, progress=progress)
            _rank_and_add(name, encoder, plan, batch, fresh, doc_vectors, sink)
        return
    feeder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clir-encode")
    try:

        def submit(b: int) -> tuple[list, Future]:
            fresh, groups, frames = start(b)
            return fresh, feeder.submit(encode_batch, encoder, plan.tasks, groups, frames, progress=progress)

        pending = submit(0)
        for b in range(len(batches)):
            fresh, future = pending
            batch = future.result()
            if b + 1 < len(batches):
                pending = submit(b + 1)
            _rank_and_add(name, encoder, plan, batch, fresh, doc_vectors, sink)
    finally:
        # On a failure the caller then stops the children, which ends an encoding still in flight there.
        feeder.shutdown(wait=False, cancel_futures=True)


def _rank_and_add(name: str, encoder: Encoder, plan: RunPlan, batch: EncodedBatch, fresh: list,
                  doc_vectors: Mapping[str, np.ndarray], sink: ResultSink) -> None:  # fmt: skip
    """Rank ``batch`` and hand its groups to ``sink``; ``fresh[i]`` is group i's noisy frame if computed
    ahead (never stored yet: stored with its cells)."""
    rows = rank_batch(name, encoder, plan.tasks, plan.data_fp, batch, doc_vectors, top_k=plan.grid.top_k,
                      run_id=sink.report.run_id)  # fmt: skip
    for (g, result), new in zip(rows, fresh):
        if new is not None:
            result.noisy = new
        noise, level, seed = g.cond
        sink.bar.set_postfix_str(f"{name} {g.lang} {noise}@{level:g} s{seed}", refresh=False)
        sink.add(plan, g, result)


def _noise_ahead(noiser: ThreadPoolExecutor, plan: RunPlan, sink: ResultSink, groups: list[Group]) -> Future:
    """Start computing the noisy query frames ``groups`` lack: a future of (frames the sink's memo holds,
    frames computed now), one entry per group, None where not applicable."""
    known = [sink.noisy_for(plan, g) for g in groups]  # read now, on this thread: the memo is not shared

    def compute() -> tuple[list, list]:
        fresh = [
            None
            if k is not None or g.cond[0] == CLEAN_NOISE
            else _noisy_frame(plan.tasks[g.tasks[0]], *g.cond)
            for g, k in zip(groups, known)
        ]
        return known, fresh

    return noiser.submit(compute)


def by_language(groups: list[Group]) -> dict[str, list[Group]]:
    """``groups`` by language, each language's in their order (the plan's)."""
    out: dict[str, list[Group]] = {}
    for g in groups:
        out.setdefault(g.lang, []).append(g)
    return out


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
        frame = known if known is not None else _noisy_frame(task, *g.cond)
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
    Both backends compute through these two."""
    if not groups:
        return
    batch = encode_batch(encoder, tasks, groups, noisy, progress=progress)
    yield from rank_batch(name, encoder, tasks, data_fp, batch, doc_vectors, top_k=top_k, run_id=run_id)


def _keep_completed(flush: Callable[[], None], say: Callable[[str], None]) -> None:
    """Store the cells completed before a failure; if even that fails, the first error is what counts."""
    try:
        flush()
    except Exception as exc:  # noqa: BLE001 - the original failure is re-raised by the caller
        from core.errors import is_disk_full  # a full disk is the first error's own line already

        (log.debug if is_disk_full(exc) else log.warning)("could not store the last buffered cells: %s", exc)


def _check_inputs(conn, tasks, dataset: str, replace_changed: bool, say, db_path) -> None:
    """Refuse (or, with ``replace_changed``, delete and say) when stored inputs disagree with the data."""
    changed, corpora = _input_changes(conn, tasks)
    stale_noise = w.completed_cells(conn)
    stale_noise = stale_noise[
        (stale_noise["noise"] != CLEAN_NOISE)
        & stale_noise["noise_version"].notna()
        & (stale_noise["noise_version"] != NOISE_VERSION)
        & stale_noise["lang"].isin([t.lang for t in tasks])
        & (stale_noise["dataset"] == dataset)
    ]
    for lang in sorted(set(stale_noise["lang"])):
        changed.setdefault(lang, f"its noisy cells were computed by noise version "
                                 f"{stale_noise.loc[stale_noise.lang == lang, 'noise_version'].iloc[0]}, "
                                 f"this code is version {NOISE_VERSION}")  # fmt: skip
    if not changed:
        return
    first = sorted(changed)[0]
    what = f"language{'s' if len(changed) > 1 else ''} {', '.join(sorted(changed))}"
    if not replace_changed:
        raise DataChangedError(
            f"the data of {what} changed since its cells were stored in {str(db_path)!r} ({first}: "
            f"{changed[first]}); use a new --db, or pass --replace-changed to delete and recompute its cells"
        )
    n = w.delete_changed(conn, dataset, sorted(changed), sorted(corpora))
    say(f"replaced: the data of {what} changed ({first}: {changed[first]}); deleted {n} stored cells and "
        "their inputs, recomputing them now")  # fmt: skip


def query_set_changes(
    cells: pd.DataFrame, tasks: Sequence[RetrievalTask], data_fp: Sequence[str]
) -> pd.DataFrame:
    """The stored cells (rows of :func:`core.store.writes.completed_cells`) of the tasks' (dataset, mode,
    corpus, lang) computed over another query set than the task's now, for any encoder, noise, level or
    seed, with the task's query count as ``asked`` and its index as ``task``.

    Another query set: another data fingerprint (:func:`data_fingerprint`: e.g. another ``max_queries``), or
    for a cell stored before fingerprints (schema < v3) another query count.
    """
    want = pd.DataFrame({
        "dataset": [t.dataset for t in tasks], "mode": [t.mode for t in tasks],
        "corpus": [t.corpus.corpus_id for t in tasks], "lang": [t.lang for t in tasks],
        "want_fp": list(data_fp), "asked": [len(t.queries) for t in tasks], "task": range(len(tasks)),
    })  # fmt: skip
    both = cells.merge(want, on=["dataset", "mode", "corpus", "lang"], how="inner")
    legacy = both["data_fingerprint"].isna()
    other = (~legacy & (both["data_fingerprint"] != both["want_fp"])) | (
        legacy & (both["n_queries"] != both["asked"])
    )
    return both[other].drop(columns="want_fp").reset_index(drop=True)


def outside_grid(cells: pd.DataFrame, grid: Grid) -> list[bool]:
    """Per row of ``cells`` (cell-key columns), whether its (encoder, noise, level, seed) is not one of
    ``grid``'s (its dataset, mode, corpus and language are the caller's concern)."""
    in_grid = {(e, *c) for e in grid.encoders for c in grid.conditions}
    keys = zip(cells["encoder"], cells["noise"], cells["level"].astype(float), cells["seed"].astype(int))
    return [k not in in_grid for k in keys]


def _check_query_sets(conn, grid: Grid, tasks, data_fp, replace_changed: bool, say, db_path) -> pd.DataFrame:
    """Refuse a grid whose query set differs from the one stored for any of its languages (a curve must never
    combine cells over different queries); with ``replace_changed``, say how many cells are replaced and
    return those outside the grid (the plan recomputes them too, so nothing stored is silently dropped).

    Replacement is in place (:func:`core.store.writes.write_cells` replaces a cell with its recomputation),
    so a run killed half-way keeps every old cell not yet recomputed, and the same command finishes.
    """
    stale = query_set_changes(w.completed_cells(conn), tasks, data_fp)
    if stale.empty:
        return stale
    langs = sorted(set(stale["lang"]))

    def counts(lang: str) -> tuple[str, int]:
        part = stale[stale["lang"] == lang]
        return " / ".join(str(n) for n in sorted(set(part["n_queries"].astype(int)))), int(
            part["asked"].iloc[0]
        )

    if len(langs) == 1:
        stored, asked = counts(langs[0])
        what = f"{langs[0]} has cells over {stored} queries in {str(db_path)!r}, this grid asks for {asked}"
    else:
        what = f"{', '.join(langs)} have cells over another query set in {str(db_path)!r} (" + "; ".join(
            "{}: {} queries stored, this grid asks for {}".format(lang, *counts(lang)) for lang in langs) + ")"  # fmt: skip
    if not replace_changed:
        raise DataChangedError(
            f"{what}: a curve must never mix query sets; run with --replace-changed to recompute the stored "
            f"cells of {'this language' if len(langs) == 1 else 'these languages'} on the new query set, or "
            "use another --db"
        )
    extra = stale[outside_grid(stale, grid)].reset_index(drop=True)
    say(f"replacing {len(stale)} stored cells: {what}; each is recomputed on the new query set"
        + (f", {len(extra)} of them outside this grid" if len(extra) else ""))  # fmt: skip
    return extra


def _extra_groups(extra: pd.DataFrame, tasks, say) -> tuple[dict[str, list[Group]], dict[str, str], int]:
    """Groups recomputing ``extra`` (stored cells outside the grid, :func:`_check_query_sets`) on the grid's
    tasks, per encoder, with the encoders' fingerprints and the number of cells. An encoder that cannot even
    be fingerprinted here keeps its old cells (reads leave them out) and is said in one line."""
    groups: dict[str, list[Group]] = {}
    fingerprints: dict[str, str] = {}
    n = 0
    for name, part in extra.groupby("encoder", sort=False):
        try:
            fingerprints[name] = encoder_fingerprint(name)
        except (EncoderUnavailable, UnknownNameError) as exc:
            say(f"{len(part)} stored cells of encoder {name} keep their old query set ({exc}); reads leave "
                "them out")  # fmt: skip
            continue
        for (lang, noise, level, seed), cell in part.groupby(["lang", "noise", "level", "seed"], sort=True):
            cond = (noise, float(level), int(seed))
            groups.setdefault(name, []).append(
                Group(name, lang, cond, tuple(sorted(cell["task"].astype(int))))
            )
            n += len(cell)
    return groups, fingerprints, n


def _plan(grid, tasks, data_fp, done, report, say, replace_changed, db_path, extra=None) -> RunPlan:
    """Per encoder, the (lang, condition) groups with a cell to compute; refuse another model's cells.

    Encoders that cannot even be fingerprinted here are reported through ``say`` and left out. Says how many
    legacy cells (schema < v3) are recomputed. ``extra`` (:func:`_check_query_sets`) are stored cells outside
    the grid to recompute on its query set: their groups follow the grid's.
    """
    groups: dict[str, list[Group]] = {}
    fingerprints: dict[str, str] = {}
    langs = sorted({t.lang for t in tasks})
    n_legacy = 0
    for name in grid.encoders:
        try:
            fp = encoder_fingerprint(name)
        except EncoderUnavailable as exc:
            report.skipped_encoders[name] = exc.reason
            say(str(exc))
            continue
        fingerprints[name] = fp
        other_model: dict[str, int] = {}
        mine = []
        for lang in langs:
            for cond in grid.conditions:
                todo = []
                for i, t in enumerate(tasks):
                    if t.lang != lang:
                        continue
                    stored = done.get(_cell_key(t, name, *cond))
                    want = (fp, len(t.queries), data_fp[i])
                    if (
                        stored is not None
                        and stored[:3] == want
                        and (cond[0] == CLEAN_NOISE or stored[3] == NOISE_VERSION)
                    ):
                        continue
                    if stored is not None:
                        if stored[0] != fp:
                            other_model[stored[0]] = other_model.get(stored[0], 0) + 1
                        elif stored[2] is None or (isinstance(stored[2], float) and np.isnan(stored[2])):
                            n_legacy += 1
                        # else: another query set, refused or announced by _check_query_sets already
                    todo.append(i)
                if todo:
                    mine.append(Group(name, lang, cond, tuple(todo)))
        if other_model:
            n = sum(other_model.values())
            olds = ", ".join(sorted(other_model))
            if not replace_changed:
                raise DataChangedError(
                    f"encoder {name} is another model now (fingerprint {fp}); {n} cells in {str(db_path)!r} were "
                    f"computed under the same name by fingerprint {olds}; use a new --db, rename the model, or "
                    "pass --replace-changed to replace them"
                )
            say(f"replacing {n} cells of encoder {name}: stored fingerprint {olds}, current {fp}")
        groups[name] = mine
    if n_legacy:
        say(f"recomputing {n_legacy} cells stored before data fingerprints (schema < v3), to never mix them")
    n_extra = 0
    if extra is not None and len(extra):
        more, fps, n_extra = _extra_groups(extra, tasks, say)
        for name, gs in more.items():
            groups.setdefault(name, []).extend(gs)
            fingerprints.setdefault(name, fps[name])
    n_todo = sum(len(g.tasks) for gs in groups.values() for g in gs)
    return RunPlan(grid, tasks, list(data_fp), langs, groups, fingerprints, n_todo, n_extra)


def _rank_frame(task: RetrievalTask, key: tuple, gr, texts: list[str], run_id: str) -> pd.DataFrame:
    df = pd.DataFrame({
        **dict(zip(CELL_KEY, key)),
        "qid": task.qids.astype(np.int32), "rank": gr.rank.astype(np.int32), "n_docs": np.int32(task.n_docs),
        "score_gold": gr.gold_score, "top_ids": list(gr.top_ids.astype(np.int32)),
        "top_scores": list(gr.top_scores), "query_noisy": texts, "run_id": run_id,
    })  # fmt: skip
    return df


def _load(name: str, report: RunReport, say) -> Encoder | None:
    """Load ``name`` as the local backend uses it (:func:`core.encoders.process.load_for_run`), or report it
    skipped (the reason said once) and return None."""
    try:
        return load_for_run(name)
    except EncoderUnavailable as exc:
        skip_encoder(name, exc.reason, report, say)
        return None


def skip_encoder(name: str, reason: str, report: RunReport, say) -> None:
    """Record that encoder ``name`` cannot load (``reason``) and say it in the usual one line."""
    report.skipped_encoders[name] = reason
    say(str(EncoderUnavailable(name, reason)))


def record_encoder(
    db_path, name: str, fingerprint: str, spec: dict, run_id: str, langs: list[str], *, multiway: bool = False
) -> None:
    """Store a loaded encoder's spec and, per language, whether it saw it in training (driver only).

    A Tatoeba code is seen when the model trained on that very code; a multi-way set's code (``arb_Arab``,
    ``fas``) when it names the same ISO 639-3 language or macrolanguage as a training code
    (:func:`core.datasets.codes.same_language`: ``arb_Arab`` and Tatoeba's ``ara``).
    """
    seen = seen_languages(name)

    def saw(lang: str) -> bool | None:
        if seen is None:
            return None
        return same_language(lang, seen) if multiway else lang in seen

    with connect(db_path) as conn:
        w.record_encoder(
            conn, name, fingerprint, json.dumps(spec), run_id, {lang: saw(lang) for lang in langs}
        )
