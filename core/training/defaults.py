"""The default models of a base encoder, the recipe (steps, learning rate...) each trains with, and training
whichever of them is missing.

The recipes are sized for the background job of ``make demo`` on a 2-core machine: the three MiniLM models in
about 10 minutes, the six e5 models in under 45 minutes together (measured by
``benchmarks/train_simcse_time.py``). Every value actually used is written into the model's card.

**Equal budget.** Every objective trained from a base sees the same number of training pairs (the same
steps x batch), whatever its per-step cost, so "which objective is most robust" is not confounded with "which
one trained longest"; :data:`OBJECTIVE_RECIPES` may change anything but the budget (a test holds it to that).

**Training seeds.** The model of seed 0 is ``NAME``; seed ``k`` gives ``NAME-s{k}`` (:func:`seed_model_name`).
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
    "labse-ams": "labse-{slug}",
}
_SLUGS = {"e5-small-torch": "e5"}  # registry names with a shorter slug than their own name

# Which objectives ``make demo`` trains for a base of each kind. The MiniLM family keeps the three SimCSE
# models; the multilingual base adds the two robustness recipes and LaBSE's objective, the comparator the
# research question names, trained on the same pairs.
DEFAULT_OBJECTIVES = {
    "sentence-transformers": ("unsup", "bitext", "noisy-bitext"),
    "e5-torch": ("unsup", "bitext", "noisy-bitext", "typo-contrastive", "ot-distill", "labse-ams"),
}
# The training seeds ``make study`` trains of every default model (seed 0 is the one ``make demo`` trains).
STUDY_SEEDS = (0, 1, 2)

# Recipe per base kind (TrainConfig fields), then per objective. e5-small has 118M parameters, 96M of them in
# the word-embedding matrix: it is frozen, sequences are cut at 40 tokens (Tatoeba sentences average 16 XLM-R
# tokens with the prompt), and the learning rate is that of e5 fine-tuning, because the base is already a
# strong retriever that a few hundred steps must not undo. 140 steps x 32 = 4,480 pairs seen by every
# objective is what fits the 45-minute budget for the six models on 2 cores (per-step costs below).
RECIPES: dict[str, dict] = {
    "sentence-transformers": {},
    "e5-torch": {"learning_rate": 2e-5, "max_seq_length": 40, "freeze_embeddings": True, "steps": 140},
}
# ot-distill keeps the default ot_sentence_weight 1.0 (OT plus sentence InfoNCE): chosen on the dev languages
# (afr, tgl, ukr) by benchmarks/dev_choices.py, where OT alone lost clean MRR (0.873 vs the base's 0.888)
# and robustness did not move (mean drop at 0.2: 52.8% vs 53.3%), while OT + InfoNCE gave 0.912 and 46.2%.
# Measured on this machine with one thread: a bitext or labse-ams step takes ~2.4 s, a noisy one ~2.6 s (noise
# splits subwords, so sequences are longer), a typo-contrastive step ~4 s (three columns), an ot-distill step
# ~1.7 s. Per-objective settings other than the budget (steps, batch_size) would go here.
OBJECTIVE_RECIPES: dict[tuple[str, str], dict] = {}


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
        >>> default_model_names("e5-small-torch")["labse-ams"]
        'labse-e5'
    """
    if objectives is None:
        objectives = DEFAULT_OBJECTIVES.get(base_kind(base), DEFAULT_OBJECTIVES["sentence-transformers"])
    slug = base_slug(base)
    return {objective: _NAMES[objective].format(slug=slug) for objective in objectives}


def seed_model_name(name: str, seed: int) -> str:
    """The registry name of ``name`` trained with training seed ``seed``: ``name`` itself for seed 0, else
    ``name-s{seed}`` (the rule the research answer groups training seeds by).

    Example:
        >>> seed_model_name("labse-e5", 0), seed_model_name("labse-e5", 2)
        ('labse-e5', 'labse-e5-s2')
    """
    return name if seed == 0 else f"{name}-s{seed}"


def check_seeds(seeds) -> tuple[int, ...]:
    """``seeds`` as a tuple of distinct whole numbers in ``[0, MAX_SEED]``, in the order given.

    Raises:
        ConfigError: no seed, a repeated seed, or one that is not a whole number in range (one line each).
    """
    from core.errors import ConfigError
    from core.training.simcse import MAX_SEED

    seeds = tuple(seeds)
    if not seeds:
        raise ConfigError("--seeds needs at least one training seed (e.g. --seeds 0 1 2)")
    for x in seeds:
        if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= MAX_SEED:
            raise ConfigError(f"training seed {x!r} is not a whole number in [0, {MAX_SEED}]")
    repeated = sorted({x for x in seeds if seeds.count(x) > 1})
    if repeated:
        raise ConfigError(f"training seed {repeated[0]} is given more than once in --seeds")
    return seeds


def recipe(base: str, objective: str) -> dict:
    """The :class:`TrainConfig` fields that differ from its defaults for ``base`` and ``objective``.

    Example:
        >>> recipe("e5-small-torch", "ot-distill")["steps"], recipe("minilm", "bitext")
        (140, {})
    """
    kind = base_kind(base)
    return {**RECIPES.get(kind, {}), **OBJECTIVE_RECIPES.get((kind, objective), {})}


def recipe_config(base: str, objective: str, name: str, split, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from the base's recipe, with ``overrides`` (``None`` values ignored) on top."""
    fields = {**recipe(base, objective), **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig(base=base, objective=objective, name=name, split=split, **fields)


def train_all_missing(base: str = "minilm", progress: bool = True, seeds=(0,), **overrides) -> list[Path]:
    """Train, with the base's recipe, each default model of ``base`` and each training seed in ``seeds`` that
    has no card under ``models_dir()`` (seed k of model ``NAME`` is ``NAME-s{k}``, :func:`seed_model_name`).

    A folder without a published card (left by a killed run) counts as missing and is replaced.
    Models train one after the other (seed by seed, so every objective's seed 0 comes first), so at most one
    training uses the CPU at a time.

    Args:
        base: base encoder (registry name, folder or hub id).  progress: show progress bars.
        seeds: training seeds (checked by :func:`check_seeds` before anything trains).
        overrides: :class:`TrainConfig` fields to change (e.g. ``steps`` in tests); ``objectives`` limits
            which default models are considered.

    Returns:
        The folders trained by this call (empty when none was missing).

    Raises:
        Whatever :func:`train_simcse` raises; models trained before the failure stay.
    """
    seeds = check_seeds(seeds)
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    split = overrides.pop("split", None) or make_split()
    objectives = overrides.pop("objectives", None)
    trained = []
    for seed in seeds:
        for objective, family in default_model_names(base, objectives).items():
            name = seed_model_name(family, seed)
            out = root / name
            if (out / MODEL_CARD).is_file():
                continue
            if name in registry() and not out.exists():
                log.info("%s is registered elsewhere; not training it", name)
                continue
            log.info("training %s (%s on %s, training seed %d)", name, objective, base, seed)
            config = recipe_config(base, objective, name, split, **{**overrides, "seed": seed})
            trained.append(train_simcse(config, out, progress=progress, overwrite=out.exists()))
    return trained


def missing_models(base: str, seeds=(0,), objectives: tuple[str, ...] | None = None) -> list[str]:
    """The names :func:`train_all_missing` would train now (no published card under ``models_dir()``)."""
    root = models_dir()
    names = default_model_names(base, objectives).values()
    return [seed_model_name(n, s) for s in check_seeds(seeds) for n in names
            if not (root / seed_model_name(n, s) / MODEL_CARD).is_file()]  # fmt: skip
