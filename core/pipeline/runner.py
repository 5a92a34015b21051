"""Run a grid: noise the queries, encode through the cache, rank exactly, store one row per query.

Resumable and incremental by construction: the unit of work is a *cell* (dataset, mode, corpus, lang,
encoder, noise, level, seed); a cell's rows and its ``cells`` record are written in one transaction, and a
run skips every cell already stored with the same encoder fingerprint. A run killed at any moment loses at
most the cells buffered since its last flush, and the next run recomputes exactly those.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from core.conditions import CLEAN_NOISE
from core.datasets import RetrievalTask, build_tasks, load_bitexts
from core.encoders import (
    EmbeddingCache,
    document_side,
    encode_cached,
    encoder_fingerprint,
    load_encoder,
    query_side,
    resolve_spec,
    seen_languages,
)
from core.errors import DataChangedError, EncoderUnavailable
from core.noise import NOISE_VERSION, apply_noise_batch
from core.pipeline.grid import Grid
from core.provenance import versions
from core.ranking import gold_ranks
from core.store import CELL_KEY, connect
from core.store import queries as reads
from core.store import writes as w

log = logging.getLogger(__name__)
NOISY_MEMO_SIZE = 64  # noisy query sets kept for the next encoder (a run's memory must not grow per cell)
FLUSH_CELLS = 200  # buffered cells written at the latest after this many (and after flush_seconds)


@dataclass
class RunReport:
    """What a run did: cells written / skipped, encoders skipped with the reason, texts encoded."""

    run_id: str
    cells_written: int = 0
    cells_skipped: int = 0
    texts_encoded: int = 0
    skipped_encoders: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _noisy_frame(task: RetrievalTask, noise: str, level: float, seed: int) -> pd.DataFrame:
    qids = task.qids.tolist()
    # One batch call: the same results as apply_noise query by query, computed several times faster,
    # read by column (no NoiseResult or Edit object per query).
    res = apply_noise_batch(list(task.queries), noise, level, seed=seed, qids=qids, langs=task.lang)
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
    """sha256 of a task's corpus: its id and every document text, in doc-id order."""
    h = hashlib.sha256(task.corpus.corpus_id.encode())
    h.update(json.dumps(list(task.corpus.documents), ensure_ascii=False).encode())
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


def run_grid(
    grid: Grid,
    db_path: str | Path,
    *,
    progress: bool = True,
    say: Callable[[str], None] = print,
    flush_seconds: float = 2.0,
    on_progress: Callable[[int, int], None] | None = None,
    replace_changed: bool = False,
) -> RunReport:
    """Compute every missing cell of ``grid`` into ``db_path``.

    ``on_progress(done, total)`` is called after each computed cell (for status files and UIs).

    Guarantees: one ``ranks`` row per (cell, query); no cell twice; a second run over a finished grid
    loads no model and encodes nothing; an encoder that cannot load is reported through ``say`` and skipped
    while the rest of the grid runs. Nothing is mixed: a cell counts as done only under the same encoder
    fingerprint, data fingerprint (:func:`data_fingerprint`), query count and noise version; when the data
    of a language changed under the database, or a stored cell was computed by another model under the same
    encoder name, the run refuses before computing anything, unless ``replace_changed``, which deletes and
    recomputes exactly those cells and says so. Cells stored before data fingerprints existed (schema < v3)
    are recomputed, with a message. The run's ``runs`` row ends ``done``, ``failed`` or ``interrupted`` on
    every path once it is written; a failure keeps every cell completed before it.

    Raises:
        UnknownNameError: unknown language or encoder (before anything is computed).
        DataError: missing or malformed data.  StoreError: unreadable, damaged, foreign or locked database.
        DataChangedError: the data or an encoder changed under stored cells (without ``replace_changed``).
    """
    started = time.monotonic()
    bitexts = load_bitexts(grid.dataset, grid.languages, grid.path)
    for name in grid.encoders:
        resolve_spec(name)  # unknown names fail now, not after an hour of encoding
    tasks = [t for mode in grid.modes for t in build_tasks(bitexts, mode, grid.max_queries)]
    report = RunReport(run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6])
    langs = sorted(bitexts)
    corpus_sha: dict[str, str] = {}
    data_fp: dict[tuple, str] = {}
    for t in tasks:
        if t.corpus.corpus_id not in corpus_sha:
            corpus_sha[t.corpus.corpus_id] = corpus_digest(t)
        data_fp[(t.mode, t.lang)] = data_fingerprint(t, corpus_sha[t.corpus.corpus_id])

    # Every stored row is read back once before anything is written: a damaged file is refused untouched.
    with connect(db_path, verify=True) as conn:
        w.record_run_start(conn, {
            "run_id": report.run_id, "grid_toml": Path(grid.source).read_text() if Path(grid.source).is_file() else "",
            "grid_json": json.dumps(grid.to_dict()), "versions_json": json.dumps(versions()),
            "host": platform.node(), "argv": " ".join(sys.argv),
        })  # fmt: skip

    overall = None
    buffer: dict[str, list[pd.DataFrame]] = {"cells": [], "ranks": [], "noisy": []}
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if buffer["cells"]:
            noisy = pd.concat(buffer["noisy"]) if buffer["noisy"] else pd.DataFrame()
            with connect(db_path) as conn:
                w.write_cells(conn, pd.concat(buffer["cells"]), pd.concat(buffer["ranks"]), noisy)
        for v in buffer.values():
            v.clear()
        last_flush = time.monotonic()

    status = "failed"
    try:
        with connect(db_path) as conn:
            _check_inputs(conn, tasks, grid.dataset, replace_changed, say, db_path)
            w.store_inputs(conn, *_inputs(tasks))
            done = {tuple(r[: len(CELL_KEY)]): tuple(r[len(CELL_KEY) :])
                    for r in w.completed_cells(conn).itertuples(index=False)}  # fmt: skip

        plan, n_legacy, n_other = _plan(grid, tasks, langs, grid.conditions, done, data_fp, report, say,
                                        replace_changed, db_path)  # fmt: skip
        if n_legacy:
            say(
                f"recomputing {n_legacy} cells stored before data fingerprints (schema < v3), to never mix them"
            )
        if n_other:
            say(f"recomputing {n_other} cells stored for another query set (max_queries) of the same data")
        n_todo = sum(len(todo) for groups in plan.values() for *_, todo in groups)
        n_all = len(grid.cells())
        report.cells_skipped = n_all - n_todo

        overall = tqdm(
            total=n_todo, desc="cells", unit="cell", disable=not progress or not n_todo, dynamic_ncols=True
        )
        # Noisy queries of recent conditions, reused by the next encoders; bounded so that a run's memory
        # does not grow with its number of cells (an evicted entry is simply recomputed, deterministically).
        noisy_memo: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        for name, groups in plan.items():
            if not groups:
                continue
            encoder = _load(name, report, say, db_path=db_path, langs=langs)
            if encoder is None:
                overall.update(sum(len(todo) for *_, todo in groups))
                continue
            doc_vectors: dict[str, np.ndarray] = {}
            prefetched: tuple[str | None, dict[tuple, pd.DataFrame]] = (None, {})
            for lang, (noise, level, seed), todo in groups:
                # Before the prefetch: a language's first cell carries its encoding time, so the cells'
                # seconds still add up to the run's time (the plan derives speeds from them).
                t0 = time.monotonic()
                if lang != prefetched[0]:
                    # Every text of this language's cells in one length-sorted pass through the cache, so
                    # the per-cell encodes below only read the cache (issue 13: per-cell batches padded
                    # worse and paid per-call costs ~40 times per language).
                    prefetched = (lang, _prefetch(encoder, [g for g in groups if g[0] == lang], noisy_memo,
                                                  doc_vectors, report, progress))  # fmt: skip
                overall.set_postfix_str(f"{name} {lang} {noise}@{level:g} s{seed}", refresh=False)
                if noise == CLEAN_NOISE:
                    texts = list(todo[0].queries)
                else:
                    key = _noisy_key(todo[0], noise, level, seed)
                    if key not in noisy_memo:
                        frame = prefetched[1].pop(key, None)
                        noisy_memo[key] = (
                            _noisy_frame(todo[0], noise, level, seed) if frame is None else frame
                        )
                        buffer["noisy"].append(noisy_memo[key])
                        while len(noisy_memo) > NOISY_MEMO_SIZE:
                            noisy_memo.popitem(last=False)
                    noisy_memo.move_to_end(key)
                    texts = noisy_memo[key]["noisy"].tolist()
                # Asymmetric encoders (a distilled student for queries, its teacher for documents) encode
                # each side with its own model, cached under that side's fingerprint.
                q_emb = _encode(query_side(encoder), texts, report, progress, f"{lang} {noise}@{level:g}")
                for task in todo:
                    cid = task.corpus.corpus_id
                    if cid not in doc_vectors:
                        doc_vectors[cid] = _encode(
                            document_side(encoder),
                            list(task.corpus.documents),
                            report,
                            progress,
                            f"docs {cid}",
                        )
                    # One BLAS thread for ranking: OpenBLAS workers left spinning after a multi-threaded
                    # matmul steal the 2 cores from torch's next forward pass.
                    with threadpool_limits(limits=1, user_api="blas"):
                        gr = gold_ranks(q_emb, doc_vectors[cid], task.gold, k=grid.top_k)
                    key = _cell_key(task, name, noise, level, seed)
                    buffer["ranks"].append(_rank_frame(task, key, gr, texts, report.run_id))
                    buffer["cells"].append(pd.DataFrame([{
                        **dict(zip(CELL_KEY, key)), "fingerprint": encoder.fingerprint, "run_id": report.run_id,
                        "n_queries": len(task.queries), "n_docs": task.n_docs,
                        "seconds": time.monotonic() - t0, "completed_at": pd.Timestamp.now(),
                        "data_fingerprint": data_fp[(task.mode, task.lang)], "noise_version": NOISE_VERSION,
                    }]))  # fmt: skip
                    report.cells_written += 1
                    overall.update(1)
                    if on_progress:
                        on_progress(report.cells_written, n_todo)
                # Bounded in time and in size: a fast encoder must not pile up thousands of cells.
                if time.monotonic() - last_flush > flush_seconds or len(buffer["cells"]) >= FLUSH_CELLS:
                    flush()
            flush()
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        _keep_completed(flush, say)
        raise
    except BaseException:
        _keep_completed(flush, say)
        raise
    finally:
        if overall is not None:
            overall.close()
        report.seconds = time.monotonic() - started
        try:
            with connect(db_path) as conn:
                w.record_run_end(conn, report.run_id, status)
        except Exception as exc:
            if status == "done":
                raise
            # The run is already failing with its own error; that one is what the user must see.
            log.warning("could not mark run %s %s: %s", report.run_id, status, exc)
    return report


def _keep_completed(flush: Callable[[], None], say: Callable[[str], None]) -> None:
    """Store the cells completed before a failure; if even that fails, the first error is what counts."""
    try:
        flush()
    except Exception as exc:  # noqa: BLE001 - the original failure is re-raised by the caller
        log.warning("could not store the last buffered cells: %s", exc)


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


def _plan(grid, tasks, langs, conditions, done, data_fp, report, say, replace_changed, db_path):
    """Per encoder, the (lang, condition, tasks) groups with a cell to compute; refuse another model's cells.

    Returns (plan, number of legacy cells to recompute, number of cells of another query set to recompute).
    """
    plan: dict[str, list[tuple[str, tuple, list[RetrievalTask]]]] = {}
    n_legacy = n_other = 0
    for name in grid.encoders:
        try:
            fp = encoder_fingerprint(name)
        except EncoderUnavailable as exc:
            report.skipped_encoders[name] = exc.reason
            say(str(exc))
            continue
        other_model: dict[str, int] = {}
        groups = []
        for lang in langs:
            for cond in conditions:
                todo = []
                for t in tasks:
                    if t.lang != lang:
                        continue
                    stored = done.get(_cell_key(t, name, *cond))
                    want = (fp, len(t.queries), data_fp[(t.mode, t.lang)])
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
                        else:
                            n_other += 1
                    todo.append(t)
                if todo:
                    groups.append((lang, cond, todo))
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
        plan[name] = groups
    return plan, n_legacy, n_other


def _rank_frame(task: RetrievalTask, key: tuple, gr, texts: list[str], run_id: str) -> pd.DataFrame:
    df = pd.DataFrame({
        **dict(zip(CELL_KEY, key)),
        "qid": task.qids.astype(np.int32), "rank": gr.rank.astype(np.int32), "n_docs": np.int32(task.n_docs),
        "score_gold": gr.gold_score, "top_ids": list(gr.top_ids.astype(np.int32)),
        "top_scores": list(gr.top_scores), "query_noisy": texts, "run_id": run_id,
    })  # fmt: skip
    return df


def _noisy_key(task: RetrievalTask, noise: str, level: float, seed: int) -> tuple:
    return task.dataset, task.lang, noise, level, seed, len(task.queries)


def _prefetch(
    encoder, groups, noisy_memo, doc_vectors, report: RunReport, progress: bool
) -> dict[tuple, pd.DataFrame]:
    """Encode (into the cache) every text the ``groups`` of one language need, in one call per side
    (documents of corpora already in ``doc_vectors`` excepted: a pooled corpus is checked once).

    Returns the noisy frames computed for it that ``noisy_memo`` did not hold (the caller stores each
    when its cell is computed, as before). Vectors are the cache's: the cells read the same ones.
    """
    frames: dict[tuple, pd.DataFrame] = {}
    queries: list[str] = []
    docs: dict[str, tuple[str, ...]] = {}
    for _lang, (noise, level, seed), todo in groups:
        task = todo[0]
        if noise == CLEAN_NOISE:
            queries += task.queries
        else:
            key = _noisy_key(task, noise, level, seed)
            frame = noisy_memo.get(key)
            if frame is None:
                frame = frames[key] = _noisy_frame(task, noise, level, seed)
            queries += frame["noisy"].tolist()
        for t in todo:
            if t.corpus.corpus_id not in doc_vectors:
                docs.setdefault(t.corpus.corpus_id, t.corpus.documents)
    doc_texts = [d for ds in docs.values() for d in ds]
    q_side, d_side = query_side(encoder), document_side(encoder)
    label = f"{groups[0][0]} all conditions"
    if q_side is d_side:
        _encode(q_side, [*doc_texts, *queries], report, progress, label, keep=False)
    else:
        _encode(d_side, doc_texts, report, progress, f"docs of {label}", keep=False)
        _encode(q_side, queries, report, progress, label, keep=False)
    return frames


def _encode(
    encoder, texts: list[str], report: RunReport, progress: bool, label: str, keep: bool = True
) -> np.ndarray:
    cache = EmbeddingCache(encoder.fingerprint)
    try:
        with tqdm(total=len(texts), desc=f"  {label}", unit="text", leave=False, disable=not progress) as bar:
            vecs, n_new = encode_cached(encoder, texts, cache, on_progress=bar.update, keep=keep)
    finally:
        cache.close()
    report.texts_encoded += n_new
    return vecs


def _load(name: str, report: RunReport, say, *, db_path, langs: list[str]):
    try:
        encoder = load_encoder(name)
    except EncoderUnavailable as exc:
        report.skipped_encoders[name] = exc.reason
        say(str(exc))
        return None
    seen = seen_languages(name)
    with connect(db_path) as conn:
        w.record_encoder(
            conn, name, encoder.fingerprint, json.dumps(encoder.spec), report.run_id,
            {lang: (None if seen is None else lang in seen) for lang in langs},
        )  # fmt: skip
    return encoder
