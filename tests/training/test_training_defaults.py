"""The default models: LaBSE's objective among them, every objective of a base on one budget, seed names."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.training.defaults import (
    DEFAULT_OBJECTIVES,
    check_seeds,
    default_model_names,
    recipe,
    seed_model_name,
)
from core.training.simcse import DEFAULT_BATCH_SIZE, DEFAULT_STEPS


@pytest.mark.parametrize("base", ["minilm", "e5-small-torch"])
def test_every_objective_of_a_base_sees_the_same_number_of_pairs(base):
    seen = {
        objective: recipe(base, objective).get("steps", DEFAULT_STEPS)
        * recipe(base, objective).get("batch_size", DEFAULT_BATCH_SIZE)
        for objective in default_model_names(base)
    }
    assert len(set(seen.values())) == 1, seen


def test_the_e5_base_trains_six_objectives_labse_among_them():
    names = default_model_names("e5-small-torch")
    assert len(DEFAULT_OBJECTIVES["e5-torch"]) == 6 and names["labse-ams"] == "labse-e5"
    assert set(names.values()) == {"simcse-unsup-e5", "simcse-bitext-e5", "simcse-noisy-e5", "typo-e5",
                                   "optical-e5", "labse-e5"}  # fmt: skip


def test_seed_names():
    assert [seed_model_name("labse-e5", s) for s in (0, 1, 2)] == ["labse-e5", "labse-e5-s1", "labse-e5-s2"]


@pytest.mark.parametrize(
    ("seeds", "message"),
    [((), "at least one"), ((0, 1, 0), "seed 0 is given more"), ((-1,), "whole number"),
     ((2**40,), "whole number"), ((1.5,), "whole number"), ((True,), "whole number")],
)  # fmt: skip
def test_bad_seeds_are_refused(seeds, message):
    with pytest.raises(ConfigError, match=message):
        check_seeds(seeds)


def test_train_all_missing_checks_seeds_before_training(tmp_path, monkeypatch):
    from core.training.defaults import train_all_missing

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    with pytest.raises(ConfigError):
        train_all_missing("minilm", progress=False, seeds=(1, 1))
    assert not list(tmp_path.iterdir())
