"""``python -m precompute index``: the pooled English corpus lands in the embedding cache once; bad input
gives one line and exit 2."""

from __future__ import annotations

import numpy as np
import pytest

from core.datasets.all_english import build_all_english
from core.encoders import EmbeddingCache, document_side
from precompute.cli import main


def small_data(data_dir, folder, langs=("amh", "deu", "fra"), lines=12):
    """The first ``lines`` lines of a few real languages: a small folder of the real layout."""
    folder.mkdir()
    for lang in langs:
        for side in (lang, "eng"):
            name = f"tatoeba.{lang}-eng.{side}"
            text = (data_dir / name).read_text(encoding="utf-8").splitlines(keepends=True)[:lines]
            (folder / name).write_text("".join(text), encoding="utf-8")
    return folder


def test_index_encodes_the_pooled_corpus_once(data_dir, tmp_path, monkeypatch, capsys, muse3):
    folder = small_data(data_dir, tmp_path / "data")
    monkeypatch.setenv("CLIR_DATA_DIR", str(folder))
    monkeypatch.setenv("CLIR_CACHE_DIR", str(tmp_path / "cache"))
    pooled = build_all_english(folder)
    assert main(["index", "--encoder", "muse3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"{len(pooled.documents):,} documents ({len(pooled.documents):,} encoded now)" in out
    assert "exact (FAISS IndexFlatIP)" in out
    cache = EmbeddingCache(document_side(muse3).fingerprint)
    try:
        found = cache.get(list(pooled.documents))
    finally:
        cache.close()
    assert set(found) == set(pooled.documents)
    want = document_side(muse3).encode(list(pooled.documents[:3]))
    np.testing.assert_allclose(np.stack([found[t] for t in pooled.documents[:3]]), want, atol=1e-5)
    assert main(["index", "--encoder", "muse3", "--quiet"]) == 0
    assert "(0 encoded now)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["index", "--encoder", "nope"], "unknown encoder 'nope'"),
        (["index", "--encoder", "muse3", "--kind", "hnsw"], "only allowed for corpora over 1,000,000"),
    ],
)
def test_index_bad_input_is_one_line(data_dir, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("CLIR_DATA_DIR", str(small_data(data_dir, tmp_path / "data")))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
