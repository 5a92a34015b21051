"""SimCSE training of dual encoders: objectives, leak-free language splits, and the default models."""

from core.training.data import (
    NOISE_LEVEL_RANGE,
    NOISE_TYPES,
    OBJECTIVES,
    build_examples,
    load_training_pairs,
    sample_pairs,
)
from core.training.defaults import base_slug, default_model_names, train_all_missing
from core.training.simcse import TrainConfig, load_base, train_simcse
from core.training.splits import (
    DEFAULT_DEV_LANGS,
    DEFAULT_TRAIN_LANGS,
    Split,
    demo_eval_languages,
    drop_leaking_pairs,
    forbidden_texts,
    make_split,
)

__all__ = [
    "NOISE_LEVEL_RANGE", "NOISE_TYPES", "OBJECTIVES", "DEFAULT_DEV_LANGS", "DEFAULT_TRAIN_LANGS", "Split", "TrainConfig",
    "base_slug", "build_examples", "default_model_names", "demo_eval_languages", "drop_leaking_pairs",
    "forbidden_texts", "load_base", "load_training_pairs", "make_split", "sample_pairs", "train_all_missing",
    "train_simcse",
]  # fmt: skip
