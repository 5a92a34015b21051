"""Language split and leakage filter of the SimCSE trainer, on hand-made data."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.datasets import Bitext
from core.errors import ConfigError
from core.training import (
    DEFAULT_TRAIN_LANGS,
    Split,
    demo_eval_languages,
    drop_leaking_pairs,
    forbidden_texts,
    load_training_pairs,
    make_split,
)


def _write_tatoeba(root: Path, lang: str, pairs: list[tuple[str, str]]) -> None:
    (root / f"tatoeba.{lang}-eng.{lang}").write_text("".join(f"{q}\n" for q, _ in pairs), encoding="utf-8")
    (root / f"tatoeba.{lang}-eng.eng").write_text("".join(f"{d}\n" for _, d in pairs), encoding="utf-8")


def test_drop_leaking_pairs_checks_both_sides_after_strip():
    forbidden = forbidden_texts({"deu": Bitext("tatoeba", "deu", ("Hallo Welt.",), ("Hello world. ",))})
    assert forbidden == {"Hallo Welt.", "Hello world."}
    pairs = [
        ("Bonjour le monde.", "Hello world."),  # English side repeated in an eval language
        ("  Hallo Welt. ", "Hi world."),  # non-English side appears there (whitespace differs)
        ("Salut.", "Hi."),
    ]
    kept, dropped = drop_leaking_pairs(pairs, forbidden)
    assert kept == [("Salut.", "Hi.")]
    assert dropped == 2


def test_load_training_pairs_drops_leaks_empties_and_duplicates(tmp_path):
    _write_tatoeba(tmp_path, "deu", [("Ich bin hier.", "I am here."), ("Ja.", "Yes.")])
    _write_tatoeba(tmp_path, "afr", [("Ek is moeg.", "I am tired.")])
    _write_tatoeba(
        tmp_path,
        "fra",
        [
            ("Je suis ici.", "I am here."),  # English shared with eval language deu
            ("Je suis fatigué.", "I am tired."),  # English shared with dev language afr
            ("Bonjour.", "Hello."),
            ("Bonjour.", "Hello."),  # exact duplicate
            ("", "Empty."),
            ("Oui.", "Yes. "),  # eval English with a trailing space
        ],
    )
    data = load_training_pairs(Split(("fra",), ("deu",), ("afr",)), tmp_path)
    assert data.pairs == {"fra": [("Bonjour.", "Hello.")]}
    assert data.dropped_leaking == {"fra": 3}
    assert data.dropped_other == {"fra": 2}


def test_default_split_is_disjoint_and_skips_eval_languages():
    split = make_split(eval_langs=["fra", "amh"], available=None)
    assert "fra" not in split.train_langs and "fra" in DEFAULT_TRAIN_LANGS
    assert not set(split.train_langs) & (set(split.eval_langs) | set(split.dev_langs))
    assert split.to_dict()["eval_langs"] == ["fra", "amh"]


def test_explicit_overlap_is_refused_unless_allowed():
    with pytest.raises(ConfigError, match="overlap: deu"):
        make_split(["fra", "deu"], ["deu"], [])
    with pytest.raises(ConfigError, match="dev languages overlap"):
        make_split(["fra"], ["deu"], ["fra"])
    assert make_split(["fra", "deu"], ["deu"], [], allow_overlap=True).train_langs == ("fra", "deu")


def test_unknown_language_is_refused_with_the_valid_list():
    with pytest.raises(ConfigError, match="unknown training language.*xxx.*valid: deu, fra"):
        make_split(["xxx"], ["deu"], [], available=["deu", "fra"])


def test_demo_eval_languages_reads_the_grid_or_falls_back(tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text('[dataset]\nlanguages = ["swh", "deu"]\n', encoding="utf-8")
    assert demo_eval_languages(grid) == ("swh", "deu")
    assert demo_eval_languages(tmp_path / "missing.toml") == ("amh", "swh", "xho", "tel", "deu")
    grid.write_text("[dataset]\nname = 'tatoeba'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="languages"):
        demo_eval_languages(grid)
