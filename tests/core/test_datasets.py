"""Loaders and retrieval tasks on the real Tatoeba files and on hand-made bitext."""

import json

import pytest

from core.datasets import available_languages, build_tasks, load_bitexts, pooled_corpus_id
from core.datasets.tatoeba import tatoeba_file
from core.errors import DataError, UnknownNameError


def test_tatoeba_qid_is_line_number(data_dir):
    bt = load_bitexts("tatoeba", ["amh"], data_dir)["amh"]
    lines = tatoeba_file(data_dir, "amh", "amh").read_text(encoding="utf-8").splitlines()
    assert len(bt) == 168 and bt.queries[5] == lines[5]
    assert "amh" in available_languages("tatoeba", data_dir)


def test_pair_and_pooled_gold_point_at_the_translation(data_dir):
    bts = load_bitexts("tatoeba", ["amh", "deu", "swh"], data_dir)
    for mode in ("pair", "pooled"):
        for t in build_tasks(bts, mode):
            docs = t.corpus.documents
            assert len(set(docs)) == len(docs), "documents are deduplicated"
            assert all(docs[g] == bts[t.lang].documents[q] for q, g in zip(t.qids, t.gold))
    pooled = build_tasks(bts, "pooled")
    assert len({t.corpus.corpus_id for t in pooled}) == 1
    assert pooled[0].n_docs > max(len(set(b.documents)) for b in bts.values())
    assert pooled[0].corpus.corpus_id == pooled_corpus_id("tatoeba", ["swh", "amh", "deu"])


def test_duplicate_documents_share_one_gold(tmp_path):
    (tmp_path / "xx.tsv").write_text("query\tdocument\na\tsame\nb\tsame\nc\tother\n", encoding="utf-8")
    t = build_tasks(load_bitexts("generic", ["xx"], tmp_path), "pair")[0]
    assert t.corpus.documents == ("same", "other") and t.gold.tolist() == [0, 0, 1]
    assert build_tasks(load_bitexts("generic", ["xx"], tmp_path), "pair", max_queries=2)[0].qids.tolist() == [
        0,
        1,
    ]


def test_generic_jsonl(tmp_path):
    rows = [{"query": "ሰላም", "document": "hello"}, {"query": "x", "document": "y"}]
    (tmp_path / "amh.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    bt = load_bitexts("generic", ["amh"], tmp_path)["amh"]
    assert bt.queries == ("ሰላም", "x")
    (tmp_path / "bad.jsonl").write_text('{"query": "a"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="document"):
        load_bitexts("generic", ["bad"], tmp_path)


def test_errors_are_clear(tmp_path, data_dir, monkeypatch):
    with pytest.raises(UnknownNameError, match="unknown language 'xyz'.*amh"):
        load_bitexts("tatoeba", ["xyz"], data_dir)
    with pytest.raises(DataError, match="does not exist"):
        load_bitexts("tatoeba", ["amh"], tmp_path / "nope")
    with pytest.raises(DataError, match="no Tatoeba files"):
        load_bitexts("tatoeba", ["amh"], tmp_path)
    monkeypatch.delenv("CLIR_DATA_DIR")
    with pytest.raises(DataError, match="CLIR_DATA_DIR"):
        load_bitexts("tatoeba", ["amh"])
    with pytest.raises(UnknownNameError, match="mode"):
        build_tasks(load_bitexts("tatoeba", ["amh"], data_dir), "mixed")
    tatoeba_file(tmp_path, "zzz", "zzz").write_text("a\nb\n")
    tatoeba_file(tmp_path, "zzz", "eng").write_text("a\n")
    with pytest.raises(DataError, match="line-aligned"):
        load_bitexts("tatoeba", ["zzz"], tmp_path)
