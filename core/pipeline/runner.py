"""Run a grid: noise the queries, encode through the cache, rank exactly, store one row per query.

Resumable and incremental by construction: the unit of work is a *cell* (dataset, mode, corpus, lang,
encoder, noise, level, seed); a cell's rows and its ``cells`` record are written in one transaction, and a
run skips every cell already stored with the same encoder fingerprint. A run killed at any moment loses at
most the cells buffered since its last flush, and the next run recomputes exactly those.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from core.datasets import RetrievalTask, build_tasks, load_bitexts
from core.encoders import (
    EmbeddingCache,
    encode_cached,
    encoder_fingerprint,
    load_encoder,
    resolve_spec,
    seen_languages,
)
from core.errors import EncoderUnavailable
from core.noise import apply_noise
from core.pipeline.grid import Grid
from core.provenance import versions
from core.ranking import gold_ranks
from core.store import CELL_KEY, connect
from core.store import writes as w

log = logging.getLogger(__name__)
CLEAN = ("none", 0.0, 0)  # the clean condition is stored once, as seed 0


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
    rows = []
    for qid, text in zip(task.qids.tolist(), task.queries):
        res = apply_noise(text, noise, level, seed=seed, qid=qid, lang=task.lang)
        rows.append(
            (
                qid,
                res.noisy,
                json.dumps([e.to_dict() for e in res.edits], ensure_ascii=False),
                res.cer,
                res.layout,
            )
        )
    df = pd.DataFrame(rows, columns=["qid", "noisy", "edits_json", "cer", "layout"])
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
    return (
        task.dataset,
        task.mode,
        task.corpus.corpus_id,
        task.lang,
        encoder,
        noise,
        float(level),
        int(seed),
    )


def run_grid(
    grid: Grid,
    db_path: str | Path,
    *,
    progress: bool = True,
    say: Callable[[str], None] = print,
    flush_seconds: float = 2.0,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunReport:
    """Compute every missing cell of ``grid`` into ``db_path``.

    ``on_progress(done, total)`` is called after each computed cell (for status files and UIs).

    Guarantees: one ``ranks`` row per (cell, query); no cell twice; a second run over a finished grid
    loads no model and encodes nothing; an encoder that cannot load is reported through ``say`` and skipped
    while the rest of the grid runs.

    Raises:
        UnknownNameError: unknown language or encoder (before anything is computed).
        DataError: missing or malformed data.  StoreError: unreadable, foreign or locked database.
    """
    started = time.monotonic()
    bitexts = load_bitexts(grid.dataset, grid.languages, grid.path)
    for name in grid.encoders:
        resolve_spec(name)  # unknown names fail now, not after an hour of encoding
    tasks = [t for mode in grid.modes for t in build_tasks(bitexts, mode, grid.max_queries)]
    report = RunReport(run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6])
    conditions = [CLEAN, *grid.noisy_conditions]
    langs = sorted(bitexts)

    with connect(db_path) as conn:
        w.record_run_start(conn, {
            "run_id": report.run_id, "grid_toml": Path(grid.source).read_text() if Path(grid.source).is_file() else "",
            "grid_json": json.dumps(grid.to_dict()), "versions_json": json.dumps(versions()),
            "host": platform.node(), "argv": " ".join(sys.argv),
        })  # fmt: skip
        w.store_inputs(conn, *_inputs(tasks))
        # A cell counts as done only under the same encoder fingerprint and query set (max_queries).
        done = {tuple(r[:-2]): (r[-2], r[-1]) for r in w.completed_cells(conn).itertuples(index=False)}

    # Plan: per encoder, the (lang, condition) groups with at least one cell missing under its fingerprint.
    plan: dict[str, list[tuple[str, tuple, list[RetrievalTask]]]] = {}
    for name in grid.encoders:
        try:
            fp = encoder_fingerprint(name)
        except EncoderUnavailable as exc:
            report.skipped_encoders[name] = exc.reason
            say(str(exc))
            continue
        groups = []
        for lang in langs:
            for cond in conditions:
                todo = [
                    t
                    for t in tasks
                    if t.lang == lang and done.get(_cell_key(t, name, *cond)) != (fp, len(t.queries))
                ]
                if todo:
                    groups.append((lang, cond, todo))
        plan[name] = groups
    n_todo = sum(len(todo) for groups in plan.values() for *_, todo in groups)
    n_all = len(grid.encoders) * len(tasks) * len(conditions)
    report.cells_skipped = n_all - n_todo

    overall = tqdm(
        total=n_todo, desc="cells", unit="cell", disable=not progress or not n_todo, dynamic_ncols=True
    )
    buffer: dict[str, list[pd.DataFrame]] = {"cells": [], "ranks": [], "noisy": []}
    noisy_memo: dict[tuple, pd.DataFrame] = {}
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
        for name, groups in plan.items():
            if not groups:
                continue
            encoder = _load(name, report, say, db_path=db_path, langs=langs)
            if encoder is None:
                overall.update(sum(len(todo) for *_, todo in groups))
                continue
            doc_vectors: dict[str, np.ndarray] = {}
            for lang, (noise, level, seed), todo in groups:
                t0 = time.monotonic()
                overall.set_postfix_str(f"{name} {lang} {noise}@{level:g} s{seed}", refresh=False)
                if noise == "none":
                    texts = list(todo[0].queries)
                else:
                    key = (todo[0].dataset, lang, noise, level, seed)
                    if key not in noisy_memo:
                        noisy_memo[key] = _noisy_frame(todo[0], noise, level, seed)
                        buffer["noisy"].append(noisy_memo[key])
                    texts = noisy_memo[key]["noisy"].tolist()
                q_emb = _encode(encoder, texts, report, progress, f"{lang} {noise}@{level:g}")
                for task in todo:
                    cid = task.corpus.corpus_id
                    if cid not in doc_vectors:
                        doc_vectors[cid] = _encode(
                            encoder, list(task.corpus.documents), report, progress, f"docs {cid}"
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
                    }]))  # fmt: skip
                    report.cells_written += 1
                    overall.update(1)
                    if on_progress:
                        on_progress(report.cells_written, n_todo)
                if time.monotonic() - last_flush > flush_seconds:
                    flush()
            flush()
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        overall.close()
        try:
            flush()
        finally:
            with connect(db_path) as conn:
                w.record_run_end(conn, report.run_id, status)
            report.seconds = time.monotonic() - started
    return report


def _rank_frame(task: RetrievalTask, key: tuple, gr, texts: list[str], run_id: str) -> pd.DataFrame:
    df = pd.DataFrame({
        **dict(zip(CELL_KEY, key)),
        "qid": task.qids.astype(np.int32), "rank": gr.rank.astype(np.int32), "n_docs": np.int32(task.n_docs),
        "score_gold": gr.gold_score, "top_ids": list(gr.top_ids.astype(np.int32)),
        "top_scores": list(gr.top_scores), "query_noisy": texts, "run_id": run_id,
    })  # fmt: skip
    return df


def _encode(encoder, texts: list[str], report: RunReport, progress: bool, label: str) -> np.ndarray:
    cache = EmbeddingCache(encoder.fingerprint)
    try:
        with tqdm(total=len(texts), desc=f"  {label}", unit="text", leave=False, disable=not progress) as bar:
            vecs, n_new = encode_cached(encoder, texts, cache, on_progress=bar.update)
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
