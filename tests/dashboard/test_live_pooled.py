"""Live search over the pooled corpus of every English side (no grid stored it), and the label of
approximate (HNSW) results, in Streamlit AppTest on the small real DB."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import search_index
from core.datasets.all_english import ALL_ENGLISH, build_all_english
from core.encoders import EmbeddingCache, document_side, query_side
from dashboard.views import live_search

TIMEOUT = 120
LANGS = ("amh", "deu", "fra")


@pytest.fixture
def pooled_data(data_dir, tmp_path, monkeypatch):
    """CLIR_DATA_DIR: the first 60 lines of three real languages (the DB's 40 amh/deu queries among them),
    so the pooled corpus is small enough to encode in the test."""
    folder = tmp_path / "data"
    folder.mkdir()
    for lang in LANGS:
        for side in (lang, "eng"):
            name = f"tatoeba.{lang}-eng.{side}"
            lines = (data_dir / name).read_text(encoding="utf-8").splitlines(keepends=True)[:60]
            (folder / name).write_text("".join(lines), encoding="utf-8")
    monkeypatch.setenv("CLIR_DATA_DIR", str(folder))
    return folder


def page() -> AppTest:
    return AppTest.from_string("from dashboard.views import live_search\nlive_search.main()",
                               default_timeout=TIMEOUT)  # fmt: skip


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [live_search.TITLE]


def only(at: AppTest, encoder: str) -> AppTest:
    at.run()
    ok(at)
    at.multiselect(key="live_encoders").set_value([encoder]).run()
    return at


@pytest.mark.slow  # muse3 encodes the pooled English side of every language, twice: ~7 s
def test_live_search_over_all_english_sides_marks_the_gold(small_db, pooled_data, muse3):
    at = only(page(), "muse3")
    assert at.selectbox(key="live_corpus").value == live_search.STORED
    pooled = build_all_english(pooled_data)
    cache = EmbeddingCache(document_side(muse3).fingerprint)
    try:
        missing = len(pooled.documents) - len(cache.get(list(pooled.documents)))
    finally:
        cache.close()
    at.selectbox(key="live_corpus").set_value(ALL_ENGLISH).run()
    ok(at)
    # In a fresh test cache the third language's English side was never encoded: live search encodes it.
    encoded = [i.value for i in at.info if "were not in the embedding cache" in i.value]
    assert encoded == (
        [f"{missing:,} documents were not in the embedding cache; encoded once now."] if missing else []
    )
    assert any("all English sides (3 languages)" in c.value for c in at.caption)
    assert any(f"{len(pooled.documents):,} English documents" in c.value for c in at.caption)
    text = at.text_input(key="live_q").value
    qid, gold = pooled.gold_of("amh", text)
    body = "".join(h.proto.body for h in at.get("html"))
    assert f"doc {gold} of the pooled corpus" in body
    # The gold rank shown equals one computed here from the encoder, independently of the dashboard.
    scores = document_side(muse3).encode(list(pooled.documents)) @ query_side(muse3).encode([text])[0]
    rank = 1 + int((scores > scores[gold]).sum())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["gold rank, clean"] == f"{rank:,}"
    clean_top = at.dataframe[0].value
    marked = clean_top[clean_top["gold"] == "✓"]
    if rank <= len(clean_top):
        assert marked["document"].tolist() == [pooled.documents[gold]]
        assert marked["#"].tolist() == [rank]
    else:
        assert marked.empty
    assert clean_top["document"].iloc[0] == pooled.documents[int(np.argmax(scores))]
    latency = next(m for m in at.metric if m.label == "latency (encode both + search)")
    assert "exact (FAISS IndexFlatIP)" in latency.proto.help
    assert not at.warning  # exact search: nothing labelled approximate


def test_hnsw_results_are_labelled_approximate(small_db, pooled_data, monkeypatch):
    monkeypatch.setenv("CLIR_SEARCH_INDEX", "hnsw")
    at = only(page(), "muse3")
    # Under the threshold, HNSW is refused with the reason, and the search is exact.
    assert any("only allowed for corpora over 1,000,000" in i.value for i in at.info)
    assert not any("Approximate" in w.value for w in at.warning)
    # A threshold this corpus passes (the real FAISS HNSW): the results say they are approximate.
    monkeypatch.setattr(search_index, "HNSW_MIN_DOCS", 10)
    at.selectbox(key="live_corpus").set_value(ALL_ENGLISH).run()
    ok(at)
    assert any(w.value.startswith("Approximate results: approximate (FAISS HNSW") for w in at.warning)
    assert "approximate (FAISS HNSW" in at.metric[0].proto.help
    assert at.dataframe[0].value["cosine"].is_monotonic_decreasing
