"""Export stored ranks as Parquet, or as TREC run + qrels files that ranx and trec_eval read.

A TREC run must list every document above the gold for MRR to come out right, and the DB keeps only the
top-k; so the run is rebuilt from the embedding cache (the same vectors the precompute ranked with) down
to each query's gold. Cells whose vectors are no longer cached are refused with a clear message.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from core.encoders import EmbeddingCache
from core.errors import DataError
from core.store import connect
from core.store import queries as q


def _slug(*parts) -> str:
    return ".".join(re.sub(r"[^A-Za-z0-9_-]+", "_", str(p)) for p in parts)


def export(db: str | Path, out: str | Path, *, fmt: str = "parquet", **filters) -> list[Path]:
    """Write the ranks matching ``filters`` (lists of values, None = all) to ``out``; return the files.

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
            path = out / "ranks.parquet"
            rows.to_parquet(path, index=False)
            return [path]
        cells = q.cells(conn, **filters)
        docs = {c: q.documents(conn, c) for c in rows.corpus.unique()}
        gold = {c: q.gold_documents(conn, c) for c in rows.corpus.unique()}
    written: list[Path] = []
    for cell in cells.itertuples(index=False):
        sel = rows[(rows.corpus == cell.corpus) & (rows.lang == cell.lang) & (rows.encoder == cell.encoder)
                   & (rows.noise == cell.noise) & (rows.level == cell.level) & (rows.seed == cell.seed)]  # fmt: skip
        if sel.empty:
            continue
        cache = EmbeddingCache(cell.fingerprint)
        try:
            doc_texts = docs[cell.corpus].text.tolist()
            vecs = cache.get(doc_texts + sel.query_noisy.tolist())
        finally:
            cache.close()
        missing = [t for t in doc_texts + sel.query_noisy.tolist() if t not in vecs]
        if missing:
            raise DataError(f"{len(missing)} vectors of encoder {cell.encoder} are not in the embedding cache; "
                            "re-run the precompute (it re-encodes only what is missing) or export parquet")  # fmt: skip
        d = np.stack([vecs[t] for t in doc_texts])
        qv = np.stack([vecs[t] for t in sel.query_noisy])
        scores = qv @ d.T
        name = _slug(cell.mode, cell.lang, cell.encoder, cell.noise, f"{cell.level:g}", cell.seed)
        run_path = out / f"{name}.run"
        with open(run_path, "w", encoding="utf-8") as fh:
            for qid, rank, s in zip(sel.qid, sel["rank"], scores):
                depth = max(int(rank), len(sel.top_ids.iloc[0]))
                top = np.argsort(-s, kind="stable")[:depth]
                for pos, doc in enumerate(top, 1):
                    fh.write(f"{cell.lang}-{qid} Q0 d{doc} {pos} {s[doc]:.7f} {name}\n")
        written.append(run_path)
        qrels_path = out / f"{_slug(cell.mode, cell.lang)}.qrels"
        if not qrels_path.exists():
            g = gold[cell.corpus]
            g = g[g.lang == cell.lang]
            qrels_path.write_text("".join(f"{cell.lang}-{r.qid} 0 d{r.doc_id} 1\n" for r in g.itertuples()))
            written.append(qrels_path)
    return written
