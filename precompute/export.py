"""Export stored ranks as Parquet, or as TREC run + qrels files that ranx and trec_eval read.

A TREC run must list every document above the gold for MRR to come out right, and the DB keeps only the
top-k; so the run is rebuilt from the embedding cache (the same vectors the precompute ranked with) down
to each query's gold, in :func:`core.ranking.run_order`'s order: the gold sits at its stored rank. Readers
order a run by score alone (ranx sorts tied scores arbitrarily, trec_eval by doc name), so the written
scores strictly decrease down the list: the cosine to 1e-9, tied ones stepped down by 1e-9 each. Cells whose
vectors are no longer cached, or whose cached vectors give a NaN or infinite score, are refused with a clear
message: no sentinel or made-up score is ever written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.datasets import is_document_corpus
from core.encoders import EmbeddingCache, side_fingerprints
from core.encoders.windows import document_key
from core.errors import DataError
from core.ranking import run_order
from core.store import CELL_KEY, connect
from core.store import queries as q


def _slug(*parts) -> str:
    return ".".join(re.sub(r"[^A-Za-z0-9_-]+", "_", str(p)) for p in parts)


def _corpus_token(mode: str, corpus: str) -> str:
    # Pair corpora are one per language (the language is in the name already); pooled corpora differ by
    # language set, so their file names carry the corpus id's digest and two of them never share a file.
    return mode if mode == "pair" else f"{mode}-{corpus.rsplit('/', 1)[-1]}"


def _level_token(level: float) -> str:
    # repr() is the shortest text that reads back as the same float: 0.1 and 0.1000001 never share a name.
    return repr(float(level))


def export(db: str | Path, out: str | Path, *, fmt: str = "parquet", **filters) -> list[Path]:
    """Write the ranks matching ``filters`` (lists of values, None = all) to ``out``; return the files.

    Guarantees: every file is written to a staging folder inside ``out`` first and renamed into place only
    when all of them are complete, so a failed export changes nothing in ``out``; a file of the same name
    already in ``out`` (e.g. a stale ``.qrels`` from another database) is replaced, never kept; no two
    exported conditions share a file name (levels are named by their exact value, pooled corpora by their
    id), and a collision would be refused rather than overwritten; every format holds only the cells over each
    language's newest query set (:func:`core.store.queries.left_out_cells`: an export never combines query
    sets; the CLI names what was left out).

    Raises:
        StoreError: unreadable DB.  DataError: nothing matches, or TREC vectors are missing from the cache.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with connect(db, read_only=True) as conn:
        rows = q.rank_rows(conn, **filters)
        if rows.empty:
            raise DataError(f"no rows in {db} match { ({k: v for k, v in filters.items() if v}) }")
        if fmt == "parquet":
            return _publish(out, {"ranks.parquet": lambda p: rows.to_parquet(p, index=False)})
        cells = q.cells(conn, **filters)
        docs = {c: q.documents(conn, c) for c in rows.corpus.unique()}
        specs = {
            (e.encoder, e.fingerprint): json.loads(e.spec_json) if e.spec_json else None
            for e in q.encoders(conn).itertuples(index=False)
        }
        gold = {c: q.gold_documents(conn, c) for c in rows.corpus.unique()}
    fingerprints = cells.set_index(list(CELL_KEY))["fingerprint"]
    files: dict[str, Callable[[Path], None]] = {}
    for key, sel in rows.groupby(list(CELL_KEY), sort=False):
        cell = dict(zip(CELL_KEY, key))
        corpus, lang, encoder, fp = cell["corpus"], cell["lang"], cell["encoder"], fingerprints[key]
        # Each side's vectors live under that side's fingerprint (they differ for asymmetric encoders).
        q_fp, d_fp = side_fingerprints(fp, specs.get((encoder, fp)))
        doc_texts, query_texts = docs[corpus].text.tolist(), sel.query_noisy.tolist()
        if is_document_corpus(corpus):  # the windowing rule's vectors, never the text encoded whole
            doc_texts = [document_key(t) for t in doc_texts]
        doc_vecs, query_vecs = _cached(d_fp, doc_texts), _cached(q_fp, query_texts)
        missing = sum(t not in doc_vecs for t in doc_texts) + sum(t not in query_vecs for t in query_texts)
        if missing:
            raise DataError(f"{missing} vectors of encoder {encoder} are not in the embedding cache; re-run "
                            "the precompute (it re-encodes only what is missing) or export parquet")  # fmt: skip
        scores = np.stack([query_vecs[t] for t in query_texts]) @ np.stack([doc_vecs[t] for t in doc_texts]).T
        if not np.isfinite(scores).all():
            # NaN vectors cached by a broken model: a run file must never carry a made-up score for them.
            raise DataError(f"the cached vectors of encoder {encoder} ({lang}, {cell['noise']}) give NaN or "
                            "infinite scores; refusing to write a TREC run (its cells cannot be trusted)")  # fmt: skip
        token = _corpus_token(cell["mode"], corpus)
        name = _slug(token, lang, encoder, cell["noise"], _level_token(cell["level"]), cell["seed"])
        golds = gold[corpus][gold[corpus].lang == lang].set_index("qid")["doc_id"]
        depth, lines = len(sel.top_ids.iloc[0]), []
        for qid, rank, s in zip(sel.qid, sel["rank"], scores):
            top = run_order(s, int(golds[qid]), int(rank), depth)
            lines.extend(f"{lang}-{qid} Q0 d{doc} {pos} {score} {name}\n"
                         for pos, (doc, score) in enumerate(zip(top, _strictly_decreasing(s[top])), 1))  # fmt: skip
        if f"{name}.run" in files:
            raise DataError(
                f"two exported conditions would both be written to {name}.run; export them separately"
            )
        files[f"{name}.run"] = _text_writer("".join(lines))
        files.setdefault(f"{_slug(token, lang)}.qrels", _text_writer(
            "".join(f"{lang}-{qid} 0 d{doc} 1\n" for qid, doc in golds.items())))  # fmt: skip
    return _publish(out, files)


def _strictly_decreasing(scores: np.ndarray) -> list[str]:
    """``scores`` (best first) printed to 1e-9, each at least 1e-9 below the one before it.

    Raises:
        DataError: a score is NaN, infinite or beyond what 1e-9 steps can print (an int64 cast would write
        a sentinel such as -9223372036.854775808 instead).
    """
    scores = np.asarray(scores, np.float64)
    if not (np.isfinite(scores).all() and np.abs(scores).max(initial=0.0) < 1e9):
        raise DataError("a TREC run score is NaN, infinite or out of range; refusing to write it")
    units = np.round(scores * 1e9).astype(np.int64)
    # v[i] = min(u[i], v[i-1] - 1) is, with w = v + i, a running minimum: w[i] = min(u[i] + i, w[i-1]).
    step = np.arange(len(units))
    units = np.minimum.accumulate(units + step) - step
    return [f"{u / 1e9:.9f}" for u in units]


def _text_writer(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text, encoding="utf-8")


def _publish(out: Path, files: dict[str, Callable[[Path], None]]) -> list[Path]:
    """Write each file into a staging folder in ``out``, then rename them all into place; return them."""
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        for name, write in files.items():
            write(staging / name)
        written = []
        for name in files:
            os.replace(staging / name, out / name)
            written.append(out / name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _cached(fingerprint: str, texts: list[str]) -> dict:
    """The vectors of ``texts`` found in the embedding cache of ``fingerprint``."""
    cache = EmbeddingCache(fingerprint)
    try:
        return cache.get(texts)
    finally:
        cache.close()
