"""The pooled corpus of every English side: deduplicated, with provenance, deterministic, and the same
documents as the precompute's pooled mode over all languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.datasets import build_tasks, load_bitexts
from core.datasets.all_english import build_all_english
from core.errors import DataError

FILES = {
    "deu": (["Ich bin müde.", "Hallo.", "Danke."], ["I'm tired.", "Hello.", "Thanks."]),
    "fra": (["Bonjour.", "Je suis fatigué.", "Merci !"], ["Hello.", "I'm tired.", "Thank you!"]),
    "amh": (["ሰላም።", "አመሰግናለሁ።"], ["Hello.", "Thanks."]),
}


def write(folder: Path, files=FILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for lang, (src, eng) in files.items():
        (folder / f"tatoeba.{lang}-eng.{lang}").write_text("\n".join(src) + "\n", encoding="utf-8")
        (folder / f"tatoeba.{lang}-eng.eng").write_text("\n".join(eng) + "\n", encoding="utf-8")
    return folder


def test_dedup_provenance_and_gold(tmp_path):
    pooled = build_all_english(write(tmp_path / "d"))
    # Sorted languages (amh, deu, fra), first occurrence numbers the documents.
    assert pooled.langs == ("amh", "deu", "fra")
    assert pooled.documents == ("Hello.", "Thanks.", "I'm tired.", "Thank you!")
    assert pooled.provenance == (("amh", "deu", "fra"), ("amh", "deu"), ("deu", "fra"), ("fra",))
    assert pooled.gold["fra"].tolist() == [0, 2, 3] and pooled.gold["deu"].tolist() == [2, 0, 1]
    assert pooled.gold_of("fra", "Je suis fatigué.") == (1, 2)
    assert pooled.gold_of("fra", "Ich bin müde.") is None and pooled.gold_of("xxx", "Hallo.") is None
    assert pooled.label == "all English sides (3 languages)"


def test_deterministic_and_equal_to_pooled_tasks(tmp_path):
    a = build_all_english(write(tmp_path / "a"))
    # Same files written in another order: same corpus, ids and provenance.
    b = build_all_english(write(tmp_path / "b", dict(reversed(list(FILES.items())))))
    assert (a.documents, a.provenance, a.corpus_id) == (b.documents, b.provenance, b.corpus_id)
    tasks = build_tasks(load_bitexts("tatoeba", list(FILES), tmp_path / "a"), "pooled")
    assert a.documents == tasks[0].corpus.documents and a.corpus_id == tasks[0].corpus.corpus_id
    for task in tasks:
        assert a.gold[task.lang].tolist() == task.gold.tolist()


def test_missing_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError):
        build_all_english(tmp_path / "nowhere")


def test_real_data_pools_every_language(data_dir):
    pooled = build_all_english(data_dir)
    n_lines = sum(len(g) for g in pooled.gold.values())
    assert len(pooled.langs) == len(list(data_dir.glob("tatoeba.*-eng.eng")))
    assert len(set(pooled.documents)) == len(pooled.documents) < n_lines
    # Every line of every English side is its gold document, and the document lists that language.
    for lang in pooled.langs[:: max(1, len(pooled.langs) // 10)]:
        eng = (data_dir / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()
        assert [pooled.documents[i] for i in pooled.gold[lang]] == eng
        assert all(lang in pooled.provenance[i] for i in pooled.gold[lang])
