"""Live search over NTREX-128's English news documents: a document's vector is minilm's windowing rule's (from
the precompute's cache, or computed from the data folder when the cache lacks it), never the text truncated,
so the page's gold rank equals the stored one."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.encoders import EmbeddingCache
from core.encoders.windows import document_key
from core.pipeline import parse_grid, run_grid
from core.store import connect
from dashboard.views import live_search

pytestmark = pytest.mark.slow

GRID = """
[dataset]
name = "ntrex128"
path = "{path}"
mode = ["document"]
languages = ["amh"]
[grid]
encoders = ["minilm"]
noise = ["delete"]
levels = [0.1]
"""
# d1 is a long story (over minilm's 126-token window); d2 and d3 are short.
LONG = [
    f"The council met on day {i} and discussed the new bridge over the river near the old mill."
    for i in range(20)
]
ENGLISH = [*LONG, "Markets fell sharply.", "Stocks recovered later.", "It rained all week."]
DOCS = ["d1"] * len(LONG) + ["d2", "d2", "d3"]
AMH = [f"ምክር ቤቱ በቀን {i} ተሰብስቦ ስለ አዲሱ ድልድይ ተወያየ።" for i in range(20)] + [
    "ገበያዎች በጣም ወደቁ።", "አክሲዮኖች በኋላ ተመለሱ።", "ሳምንቱን ሙሉ ዘነበ።"]  # fmt: skip


def _vectors(cache_dir, fingerprint: str, keys: list[str], monkeypatch) -> dict:
    monkeypatch.setenv("CLIR_CACHE_DIR", str(cache_dir))
    cache = EmbeddingCache(fingerprint)
    try:
        return cache.get(keys)
    finally:
        cache.close()


def test_live_document_rank_and_vectors_equal_the_precompute(tmp_path, monkeypatch, minilm):
    root = tmp_path / "ntrex"
    root.mkdir()
    (root / "newstest2019-src.eng.txt").write_text("\n".join(ENGLISH) + "\n", encoding="utf-8")
    (root / "newstest2019-ref.amh.txt").write_text("\n".join(AMH) + "\n", encoding="utf-8")
    (root / "DOCUMENT_IDS.tsv").write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    monkeypatch.setenv("CLIR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CLIR_NTREX128_DIR", str(root))
    db = tmp_path / "n.duckdb"
    run_grid(parse_grid(GRID.format(path=root)), db, progress=False, say=lambda _m: None)
    monkeypatch.setenv("CLIR_DB", str(db))
    monkeypatch.setenv("CLIR_CACHE_DIR", str(tmp_path / "fresh"))  # the page must window the data itself
    with connect(db) as conn:
        stored = dict(conn.execute("SELECT qid, rank FROM ranks WHERE noise = 'none'").fetchall())
        docs = [r[0] for r in conn.execute("SELECT text FROM documents ORDER BY doc_id").fetchall()]
    at = AppTest.from_string(
        "from dashboard.views import live_search\nlive_search.main()", default_timeout=120
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="live_encoders").set_value(["minilm"]).run()
    for qid in (0, 19, 20, 22):
        at.text_input(key="live_q").set_value(AMH[qid]).run()
        assert not at.exception, [e.value for e in at.exception]
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["gold rank, clean"] == f"{stored[qid]:,}", (qid, metrics)
    assert [t.value for t in at.title] == [live_search.TITLE]
    keys = [document_key(d) for d in docs]
    page = _vectors(tmp_path / "fresh", minilm.fingerprint, keys, monkeypatch)
    run = _vectors(tmp_path / "cache", minilm.fingerprint, keys, monkeypatch)
    assert len(page) == len(run) == 3
    for k in keys:
        np.testing.assert_allclose(page[k], run[k], atol=1e-5)
    # The long story's vector is not its text encoded whole (which minilm would truncate at 126 tokens).
    assert float(minilm.encode([docs[0]])[0] @ page[keys[0]]) < 0.999
