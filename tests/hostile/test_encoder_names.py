"""Issue 25, item 5: look-alike encoder names.

``--name $'muse3\\u200b'`` used to be accepted, and summaries then showed two "muse3" rows. Every encoder name
(trainer ``--name``, a card's name, a grid's encoder) is NFKC-normalised, must consist of visible characters,
and is compared with every registered name ignoring case.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from core.encoders.registry import MODEL_CARD, registry
from core.errors import ConfigError
from core.names import encoder_name, name_key
from core.pipeline import parse_grid

pytestmark = pytest.mark.hostile

# Each renders as (or next to) a plain name: zero-width space, zero-width joiner, BOM, soft hyphen, bidi
# override and isolate, a tab, a no-break space (NFKC: a space), an ideographic space, a variation selector,
# a combining grapheme joiner, a Hangul filler, a Braille blank, a control character, a tag character.
INVISIBLE = ["\u200b", "\u200d", "\ufeff", "\u00ad", "\u202e", "\u2066", "\t", "\u00a0", "\u3000", "\ufe0f",
             "\u034f", "\u3164", "\u2800", "\x07", "\U000e0041"]  # fmt: skip
TRAIN = ["--objective", "unsup", "--train-langs", "fra", "--eval-langs", "deu", "--dev-langs", "--steps", "1",
         "--batch-size", "2", "--max-pairs", "4", "--quiet"]  # fmt: skip


def card(models: Path, folder: str, name: str | None) -> None:
    (models / folder).mkdir(parents=True)
    (models / folder / MODEL_CARD).write_text(json.dumps({"name": name} if name is not None else {}),
                                              encoding="utf-8")  # fmt: skip


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("ch", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_the_name_rule_refuses_every_invisible_character(ch):
    for name in (f"muse3{ch}", f"{ch}muse3", f"mu{ch}se3"):
        with pytest.raises(ConfigError, match="characters a reader cannot see"):
            encoder_name(name)


def test_the_name_rule_normalises_and_compares_ignoring_case():
    assert encoder_name("ｍｕｓｅ３") == "muse3"  # fullwidth: NFKC
    assert encoder_name("simcse-bitext-minilm-s2") == "simcse-bitext-minilm-s2"
    assert encoder_name("sentence-transformers/LaBSE@cls") == "sentence-transformers/LaBSE@cls"
    assert encoder_name("модель-ü") == "модель-ü"  # any script is fine, visibly
    assert name_key("MUSE3") == name_key("muse3") == name_key("ｍｕｓｅ３")
    for bad in ("", None, 3):
        with pytest.raises(ConfigError):
            encoder_name(bad)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("muse3\u200b", "U+200B"),  # the red team's attack: a zero-width space after a built-in name
        ("mine\u200b", "U+200B"),
        ("mine\u202e", "U+202E"),
        ("new model", "U+0020"),
        ("MUSE3", "built-in encoder in encoders.toml ('muse3', ignoring case)"),
        ("MiniLM", "built-in encoder"),
        ("ｍｉｎｅ2", "not in Unicode NFKC form; use 'mine2'"),
        ("MINE", "the same name ignoring case"),
    ],
)
def test_trainer_refuses_look_alike_names(name, message, tmp_path, monkeypatch, capsys):
    from precompute.train_simcse import main as train

    models = tmp_path / "models"
    monkeypatch.setenv("CLIR_MODELS_DIR", str(models))
    card(models, "mine", "mine")
    assert train([*TRAIN, "--name", name]) == 2
    line = error_line(capsys.readouterr().err)
    assert message in line, line
    assert sorted(p.name for p in models.iterdir()) == ["mine"]  # nothing trained, nothing created


def test_registry_ignores_cards_with_look_alike_names(tmp_path, monkeypatch, caplog):
    models = tmp_path / "models"
    monkeypatch.setenv("CLIR_MODELS_DIR", str(models))
    card(models, "a", "muse3\u200b")  # invisible character
    card(models, "b", "MUSE3")  # a built-in name in capitals
    card(models, "c", "twin")
    card(models, "d", "TWIN")  # two cards whose names differ only in case: ambiguous, neither listed
    card(models, "e", "ｆｕｌｌ")  # fullwidth: registered under its NFKC form
    card(models, "f\u200b", None)  # no name in the card: its folder's name, which is invisible-tainted
    card(models, "good", "good")
    with caplog.at_level(logging.WARNING, logger="core.encoders.registry"):
        specs = registry()
    cards = {n for n, s in specs.items() if "card" in s}
    assert cards == {"full", "good"}, cards
    assert specs["muse3"]["kind"] == "muse3"
    assert all(encoder_name(n) == n for n in specs)
    warned = " ".join(r.getMessage() for r in caplog.records)
    for why in ("U+200B", "'MUSE3' is a built-in encoder", "both are named 'twin'"):
        assert why in warned, warned


def test_grid_encoder_names_follow_the_rule(tmp_path, capsys, data_dir):
    from precompute.cli import main

    text = '[dataset]\nlanguages = ["xho"]\n[grid]\nencoders = {}\nnoise = ["delete"]\nlevels = [0.1]\n'
    assert parse_grid(text.format('["ｍｕｓｅ３", "muse3"]')).encoders == ("muse3",)
    with pytest.raises(ConfigError, match="U\\+200B"):
        parse_grid(text.format(json.dumps(["muse3", "muse3\u200b"])))
    grid = tmp_path / "g.toml"
    grid.write_text(text.format(json.dumps(["muse3\u200b"])), encoding="utf-8")
    assert main(["run", "--grid", str(grid), "--db", str(tmp_path / "r.duckdb"), "--quiet"]) == 2
    line = error_line(capsys.readouterr().err)
    assert "grid.encoders entry 'muse3\\u200b'" in line and "U+200B" in line, line
    assert not (tmp_path / "r.duckdb").exists()  # refused before anything was stored
