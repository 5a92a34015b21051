"""Tiny real trainings: the saved folder registers, loads, encodes, carries its card, and is reproducible."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.encoders import load_encoder, registry, seen_languages
from core.errors import ConfigError, EncoderUnavailable
from core.training import Split, TrainConfig, default_model_names, train_all_missing, train_simcse
from core.training.simcse import PARTIAL_CARD

pytestmark = pytest.mark.slow

SPLIT = Split(train_langs=("fra", "spa", "pol"), eval_langs=("deu",), dev_langs=("afr",))
TINY = {"steps": 4, "batch_size": 16, "max_pairs": 300, "max_seq_length": 32}
CARD_KEYS = {
    "name", "description", "base", "objective", "train_langs", "eval_langs", "seed", "steps", "batch_size",
    "temperature", "max_pairs", "n_train_pairs", "dropped_leaking_pairs", "versions", "created_at",
    "train_seconds",
}  # fmt: skip
PROBE = ["Das Haus ist rot.", "The house is red.", "Ninapenda chai."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> folder of tiny models trained into a private models dir (the real models/ is untouched)."""
    root = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIR_MODELS_DIR", str(root))
        out = {}
        for objective in ("unsup", "bitext", "noisy-bitext"):
            name = f"tiny-{objective}"
            cfg = TrainConfig("minilm", objective, name, SPLIT, seed=0, **TINY)
            out[name] = train_simcse(cfg, root / name, progress=False)
        for name, seed in (("tiny-bitext-again", 0), ("tiny-bitext-seed1", 1)):
            cfg = TrainConfig("minilm", "bitext", name, SPLIT, seed=seed, **TINY)
            out[name] = train_simcse(cfg, root / name, progress=False)
        yield root, out


@pytest.mark.parametrize("objective", ["unsup", "bitext", "noisy-bitext"])
def test_trained_model_registers_loads_encodes_and_carries_its_card(models, monkeypatch, objective):
    root, paths = models
    monkeypatch.setenv("CLIR_MODELS_DIR", str(root))
    name = f"tiny-{objective}"
    assert name in registry()
    card = json.loads((paths[name] / "clir_encoder.json").read_text(encoding="utf-8"))
    assert set(card) >= CARD_KEYS
    assert card["objective"] == objective and card["train_langs"] == ["fra", "spa", "pol"]
    assert card["eval_langs"] == ["deu"] and card["temperature"] == 0.05
    assert card["n_train_pairs"] <= 300 and card["dropped_leaking_pairs"] > 0
    assert set(card["versions"]) >= {"torch", "sentence-transformers", "transformers", "numpy", "python"}
    assert seen_languages(name) == {"fra", "spa", "pol", "eng"}
    emb = load_encoder(name).encode(PROBE)
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert not (root / f"{name}.tmp").exists() and not (paths[name] / PARTIAL_CARD).exists()


def test_training_changes_the_model(models, monkeypatch):
    root, _ = models
    monkeypatch.setenv("CLIR_MODELS_DIR", str(root))
    base, trained = load_encoder("minilm").encode(PROBE), load_encoder("tiny-bitext").encode(PROBE)
    assert np.abs(base - trained).max() > 1e-4


def test_same_seed_same_model_other_seed_differs(models, monkeypatch):
    root, _ = models
    monkeypatch.setenv("CLIR_MODELS_DIR", str(root))
    a, b, c = (
        load_encoder(n).encode(PROBE) for n in ("tiny-bitext", "tiny-bitext-again", "tiny-bitext-seed1")
    )
    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    assert np.abs(a - c).max() > 1e-4


def test_existing_folder_is_not_overwritten(models):
    root, paths = models
    cfg = TrainConfig("minilm", "bitext", "tiny-bitext", SPLIT, **TINY)
    with pytest.raises(ConfigError, match="already exists"):
        train_simcse(cfg, paths["tiny-bitext"], progress=False)


def test_unloadable_base_fails_cleanly(tmp_path):
    cfg = TrainConfig("no-such-org/no-such-model", "bitext", "x", SPLIT, **TINY)
    with pytest.raises(EncoderUnavailable):
        train_simcse(cfg, tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.tmp").exists()


def test_train_all_missing_replaces_only_the_unpublished_model(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    names = default_model_names("minilm")
    for objective, name in names.items():
        (tmp_path / name).mkdir()
        card = PARTIAL_CARD if objective == "unsup" else "clir_encoder.json"
        (tmp_path / name / card).write_text(
            json.dumps({"name": name, "objective": objective}), encoding="utf-8"
        )
    # Killed between the two renames: not an encoder yet, so the registry must not list it.
    assert names["unsup"] not in registry() and names["bitext"] in registry()
    trained = train_all_missing("minilm", progress=False, split=SPLIT, **TINY)
    assert trained == [tmp_path / names["unsup"]]
    card = json.loads((trained[0] / "clir_encoder.json").read_text(encoding="utf-8"))
    assert card["objective"] == "unsup" and card["steps"] == TINY["steps"]
    assert train_all_missing("minilm", progress=False, split=SPLIT, **TINY) == []
