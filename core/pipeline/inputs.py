"""A run's inputs: their fingerprints, and the checks that refuse to mix them with other stored data.

Before a run computes anything it compares the data now with what the database stored: another query text,
gold link or corpus (:func:`check_inputs`), cells of an older noise version, or another query set for a
language (:func:`check_query_sets`) are refused, or with ``--replace-changed`` replaced. The fingerprints
(:func:`data_fingerprint`) are what a stored cell is matched against; :mod:`core.pipeline.plan` reads them
too, to estimate a run without running it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from core.conditions import CLEAN_NOISE
from core.datasets import RetrievalTask
from core.encoders.windows import WINDOW_RULE_VERSION
from core.errors import DataChangedError
from core.noise import NOISE_VERSION
from core.pipeline.grid import Grid
from core.store import queries as reads
from core.store import writes as w


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


def data_fingerprints(tasks: Sequence[RetrievalTask]) -> list[str]:
    """:func:`data_fingerprint` of each task, in order; a corpus shared by several tasks is digested once."""
    corpus_sha: dict[str, str] = {}
    for t in tasks:
        if t.corpus.corpus_id not in corpus_sha:
            corpus_sha[t.corpus.corpus_id] = corpus_digest(t)
    return [data_fingerprint(t, corpus_sha[t.corpus.corpus_id]) for t in tasks]


def input_frames(tasks: list[RetrievalTask]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The tasks' queries, documents and gold links as :func:`core.store.writes.store_inputs` takes them;
    a query or corpus shared by several tasks appears once."""
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


def input_changes(conn, tasks: list[RetrievalTask]) -> tuple[dict[str, str], set[str]]:
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


def check_inputs(
    conn, tasks, dataset: str, replace_changed: bool, say: Callable[[str], None], db_path
) -> None:
    """Refuse (or, with ``replace_changed``, delete and say) when stored inputs disagree with the data.

    Raises:
        DataChangedError: a language's queries, gold or corpus changed, or its noisy cells were computed by
            another noise version (without ``replace_changed``).
    """
    changed, corpora = input_changes(conn, tasks)
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


def check_query_sets(
    conn, grid: Grid, tasks, data_fp, replace_changed: bool, say: Callable[[str], None], db_path
) -> pd.DataFrame:
    """Refuse a grid whose query set differs from the one stored for any of its languages (a curve must never
    combine cells over different queries); with ``replace_changed``, say how many cells are replaced and
    return those outside the grid (the plan recomputes them too, so nothing stored is silently dropped).

    Replacement is in place (:func:`core.store.writes.write_cells` replaces a cell with its recomputation),
    so a run killed half-way keeps every old cell not yet recomputed, and the same command finishes.

    Raises:
        DataChangedError: another query set is stored for a language (without ``replace_changed``).
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
