"""Issue 25, item 9: one damaged model card used to break every run (a JSON list -> ``AttributeError``, deep
nesting -> ``RecursionError``), even for grids that do not use it. A damaged card now makes that one model
unavailable, said in one warning line; every other encoder runs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.encoders.registry import MODEL_CARD, registry, seen_languages
from core.errors import ConfigError

pytestmark = pytest.mark.hostile

REPO = Path(__file__).resolve().parents[2]
DEEP = 100_000
# Folder -> card bytes. Sorted names: the list comes first, so the code before the fix fails on it at once
# (and never reaches the FIFO, which it would have waited on forever).
DAMAGED: dict[str, bytes] = {
    "a-list": b"[1, 2, 3]",
    "deep-array": b"[" * DEEP + b"]" * DEEP,
    "deep-object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "string": b'"a card"',
    "number": b"3",
    "null": b"null",
    "empty": b"",
    "invalid-json": b"{name: x",
    "invalid-utf8": b'{"name": "caf\xe9"}',
    "huge": json.dumps({"name": "huge", "description": "x" * (2 << 20)}).encode(),
    "t-langs": json.dumps({"name": "t-langs", "train_langs": "fra"}).encode(),
    "t-langs2": json.dumps({"name": "t-langs2", "train_langs": [1, 2]}).encode(),
    "t-seed": json.dumps({"name": "t-seed", "seed": "0"}).encode(),
    "t-steps": json.dumps({"name": "t-steps", "steps": True}).encode(),
    "t-loss": json.dumps({"name": "t-loss", "loss": [0.3]}).encode(),
    "t-kind": json.dumps({"name": "t-kind", "encoder_kind": "bogus"}).encode(),
    "t-kind2": json.dumps({"name": "t-kind2", "encoder_kind": {"a": 1}}).encode(),
    "t-name": json.dumps({"name": 5}).encode(),
    "t-self": json.dumps({"name": "t-self", "document_encoder": "t-self"}).encode(),
}
SPECIAL = ("y-dir", "zz-fifo")  # a folder named clir_encoder.json; a FIFO (reading it would block forever)
GOOD = {"name": "good", "base": "minilm", "objective": "bitext", "train_langs": ["fra"], "seed": 0,
        "steps": 2, "batch_size": 8, "loss": {"formula": "InfoNCE"}, "learning_rate": 1e-4}  # fmt: skip


def damaged_models(models: Path) -> Path:
    for folder, raw in DAMAGED.items():
        (models / folder).mkdir(parents=True)
        (models / folder / MODEL_CARD).write_bytes(raw)
    (models / "y-dir" / MODEL_CARD).mkdir(parents=True)
    (models / "zz-fifo").mkdir()
    os.mkfifo(models / "zz-fifo" / MODEL_CARD)
    (models / "good").mkdir()
    (models / "good" / MODEL_CARD).write_text(json.dumps(GOOD), encoding="utf-8")
    return models


@pytest.mark.parametrize("folder", [*DAMAGED, *SPECIAL])
def test_read_card_refuses_each_damaged_card_with_one_line(folder, tmp_path):
    from core.encoders.registry import read_card

    models = damaged_models(tmp_path / "models")
    with pytest.raises(ConfigError) as exc:
        read_card(models / folder / MODEL_CARD)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 300, str(exc.value)


def test_damaged_cards_cost_only_their_own_model(tmp_path, monkeypatch, caplog):
    from core.training.cards import read_cards
    from core.training.simcse import check_target

    models = damaged_models(tmp_path / "models")
    monkeypatch.setenv("CLIR_MODELS_DIR", str(models))
    with caplog.at_level(logging.WARNING, logger="core.encoders.registry"):
        for _ in range(3):  # every command reads the registry many times: each card is said once
            specs = registry()
    assert {n for n, s in specs.items() if "card" in s} == {"good"}
    assert {"muse3", "minilm"} <= set(specs)
    assert seen_languages("good") == {"fra", "eng"}
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == len(DAMAGED) + len(SPECIAL), warned
    for folder in [*DAMAGED, *SPECIAL]:
        assert sum(f"{os.sep}{folder}{os.sep}" in m for m in warned) == 1, (folder, warned)
    # The trainer's name check and the recipe table read the same cards without failing.
    check_target("brand-new", models / "brand-new", overwrite=False)
    with pytest.raises(ConfigError, match="is taken by"):
        check_target("good", models / "other", overwrite=False)
    assert [c["name"] for c in read_cards(models)] == ["good"]


@pytest.mark.slow
def test_a_run_goes_on_beside_damaged_cards(tmp_path, data_dir):
    """The CLI, as a user runs it: the grid's encoders run, each damaged card is one warning line."""
    models = damaged_models(tmp_path / "models")
    grid = tmp_path / "g.toml"
    grid.write_text('[dataset]\nlanguages = ["xho"]\nmax_queries = 10\n[grid]\nencoders = ["muse3"]\n'
                    'noise = ["delete"]\nlevels = [0.1]\n', encoding="utf-8")  # fmt: skip
    env = {**os.environ, "CLIR_MODELS_DIR": str(models), "PYTHONPATH": str(REPO)}
    argv = [
        sys.executable,
        "-m",
        "precompute",
        "run",
        "--grid",
        str(grid),
        "--db",
        str(tmp_path / "r.duckdb"),
    ]
    done = subprocess.run([*argv, "--quiet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 cells computed" in done.stdout, done.stdout
    lines = done.stderr.splitlines()
    warnings = [line for line in lines if line.startswith("WARNING core.encoders.registry: ignoring ")]
    assert len(warnings) == len(DAMAGED) + len(SPECIAL), done.stderr
    assert "Traceback" not in done.stderr
    # A grid naming a model whose card is damaged: one line, as for any unknown encoder.
    grid.write_text(grid.read_text().replace('["muse3"]', '["t-seed"]'), encoding="utf-8")
    done = subprocess.run([*argv, "--quiet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "error: unknown encoder 't-seed'" in done.stderr, done.stderr
