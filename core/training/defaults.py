"""The default models of a base encoder, the recipe (steps, learning rate...) each trains with, and training
whichever of them is missing.

The recipes are sized for the background job of ``make demo`` on a 2-core machine: the three MiniLM models in
about 10 minutes, the five e5 models in under 30 minutes together (measured by
``benchmarks/train_simcse_time.py``). Every value actually used is written into the model's card.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from core.encoders.registry import MODEL_CARD, registry, resolve_spec
from core.paths import models_dir
from core.training.simcse import TrainConfig, train_simcse
from core.training.splits import make_split

log = logging.getLogger(__name__)

# Objective -> model-name pattern ({slug} is the base's short name).
_NAMES = {
    "unsup": "simcse-unsup-{slug}",
    "bitext": "simcse-bitext-{slug}",
    "noisy-bitext": "simcse-noisy-{slug}",
    "typo-contrastive": "typo-{slug}",
    "ot-distill": "optical-{slug}",
}
_SLUGS = {"e5-small-torch": "e5"}  # registry names with a shorter slug than their own name

# Which objectives ``make demo`` trains for a base of each kind. The MiniLM family keeps the three SimCSE
# models; the multilingual base adds the two robustness recipes compared by the research question.
DEFAULT_OBJECTIVES = {
    "sentence-transformers": ("unsup", "bitext", "noisy-bitext"),
    "e5-torch": ("unsup", "bitext", "noisy-bitext", "typo-contrastive", "ot-distill"),
}

# Recipe per base kind (TrainConfig fields), then per objective. e5-small has 118M parameters, 96M of them in
# the word-embedding matrix: it is frozen, sequences are cut at 40 tokens (Tatoeba sentences average 16 XLM-R
# tokens with the prompt), and the learning rate is that of e5 fine-tuning, because the base is already a
# strong retriever that a few hundred steps must not undo. Steps are what fits the 30-minute budget: a
# typo-contrastive step encodes three columns and an ot-distill step runs the teacher too.
RECIPES: dict[str, dict] = {
    "sentence-transformers": {},
    "e5-torch": {"learning_rate": 2e-5, "max_seq_length": 40, "freeze_embeddings": True, "steps": 120},
}
# ot-distill keeps the default ot_sentence_weight 1.0 (OT plus sentence InfoNCE): chosen on the dev languages
# (afr, tgl, ukr) by benchmarks/dev_choices.py, where OT alone lost clean MRR (0.873 vs the base's 0.888)
# and robustness did not move (mean drop at 0.2: 52.8% vs 53.3%), while OT + InfoNCE gave 0.912 and 46.2%.
# Measured on this machine with one thread: a bitext step takes ~2 s, a noisy one ~2.6 s (noise splits
# subwords, so sequences are longer), a typo-contrastive step ~3.5 s (three columns), an ot-distill step ~2 s.
OBJECTIVE_RECIPES: dict[tuple[str, str], dict] = {
    ("e5-torch", "bitext"): {"steps": 160},  # the reference model of the research answer gets the most steps
    ("e5-torch", "typo-contrastive"): {"steps": 90},
}


def base_slug(base: str) -> str:
    """A folder-safe short name for ``base``: the registry name, or a model folder's / hub id's last part.

    Example:
        >>> base_slug("minilm"), base_slug("sentence-transformers/LaBSE"), base_slug("/tmp/My Model/")
        ('minilm', 'labse', 'my-model')
        >>> base_slug("e5-small-torch")
        'e5'
    """
    if base in _SLUGS:
        return _SLUGS[base]
    last = base.rstrip("/").rsplit("/", 1)[-1].partition("@")[0]
    return re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-") or "model"


def base_kind(base: str) -> str:
    """The registry kind of ``base`` (the query side's kind for an asymmetric model).

    Raises:
        UnknownNameError: unknown name.
    """
    spec = resolve_spec(base)
    return spec.get("query_kind", spec["kind"])


def default_model_names(base: str = "minilm", objectives: tuple[str, ...] | None = None) -> dict[str, str]:
    """Objective -> default model name, e.g. ``{"unsup": "simcse-unsup-minilm", ...}``, for ``objectives``
    (default: those :data:`DEFAULT_OBJECTIVES` lists for the base's kind).

    Example:
        >>> default_model_names("minilm")["noisy-bitext"]
        'simcse-noisy-minilm'
        >>> default_model_names("e5-small-torch")["ot-distill"]
        'optical-e5'
    """
    if objectives is None:
        objectives = DEFAULT_OBJECTIVES.get(base_kind(base), DEFAULT_OBJECTIVES["sentence-transformers"])
    slug = base_slug(base)
    return {objective: _NAMES[objective].format(slug=slug) for objective in objectives}


def recipe(base: str, objective: str) -> dict:
    """The :class:`TrainConfig` fields that differ from its defaults for ``base`` and ``objective``.

    Example:
        >>> recipe("e5-small-torch", "ot-distill")["steps"], recipe("minilm", "bitext")
        (120, {})
    """
    kind = base_kind(base)
    return {**RECIPES.get(kind, {}), **OBJECTIVE_RECIPES.get((kind, objective), {})}


def recipe_config(base: str, objective: str, name: str, split, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from the base's recipe, with ``overrides`` (``None`` values ignored) on top."""
    fields = {**recipe(base, objective), **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig(base=base, objective=objective, name=name, split=split, **fields)


def train_all_missing(base: str = "minilm", progress: bool = True, **overrides) -> list[Path]:
    """Train, with the base's recipe, each default model of ``base`` that has no card under ``models_dir()``.

    A folder without a published card (left by a killed run) counts as missing and is replaced.
    Models train one after the other, so at most one training uses the CPU at a time.

    Args:
        base: base encoder (registry name, folder or hub id).  progress: show progress bars.
        overrides: :class:`TrainConfig` fields to change (e.g. ``steps`` in tests); ``objectives`` limits
            which default models are considered.

    Returns:
        The folders trained by this call (empty when none was missing).

    Raises:
        Whatever :func:`train_simcse` raises; models trained before the failure stay.
    """
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    split = overrides.pop("split", None) or make_split()
    objectives = overrides.pop("objectives", None)
    trained = []
    for objective, name in default_model_names(base, objectives).items():
        out = root / name
        if (out / MODEL_CARD).is_file():
            continue
        if name in registry() and not out.exists():
            log.info("%s is registered elsewhere; not training it", name)
            continue
        log.info("training %s (%s on %s)", name, objective, base)
        config = recipe_config(base, objective, name, split, **overrides)
        trained.append(train_simcse(config, out, progress=progress, overwrite=out.exists()))
    return trained
