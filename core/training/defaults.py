"""The three default SimCSE models of a base encoder, and training whichever of them is missing."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from core.encoders.registry import MODEL_CARD, registry
from core.paths import models_dir
from core.training.simcse import TrainConfig, train_simcse
from core.training.splits import make_split

log = logging.getLogger(__name__)

_SHORT = {"unsup": "unsup", "bitext": "bitext", "noisy-bitext": "noisy"}


def base_slug(base: str) -> str:
    """A folder-safe short name for ``base``: the registry name, or a model folder's / hub id's last part.

    Example:
        >>> base_slug("minilm"), base_slug("sentence-transformers/LaBSE"), base_slug("/tmp/My Model/")
        ('minilm', 'labse', 'my-model')
    """
    last = base.rstrip("/").rsplit("/", 1)[-1].partition("@")[0]
    return re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-") or "model"


def default_model_names(base: str = "minilm") -> dict[str, str]:
    """Objective -> default model name, e.g. ``{"unsup": "simcse-unsup-minilm", ...}``.

    Example:
        >>> default_model_names("minilm")["noisy-bitext"]
        'simcse-noisy-minilm'
    """
    slug = base_slug(base)
    return {objective: f"simcse-{short}-{slug}" for objective, short in _SHORT.items()}


def train_all_missing(base: str = "minilm", progress: bool = True, **overrides) -> list[Path]:
    """Train, with the default settings, each default model of ``base`` that has no card under ``models_dir()``.

    A folder without a published card (left by a killed run) counts as missing and is replaced.
    Models train one after the other, so at most one training uses the CPU at a time.

    Args:
        base: base encoder (registry name, folder or hub id).  progress: show progress bars.
        overrides: :class:`TrainConfig` fields to change (e.g. ``steps`` in tests).

    Returns:
        The folders trained by this call (empty when none was missing).

    Raises:
        Whatever :func:`train_simcse` raises; models trained before the failure stay.
    """
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    split = overrides.pop("split", None) or make_split()
    trained = []
    for objective, name in default_model_names(base).items():
        out = root / name
        if (out / MODEL_CARD).is_file():
            continue
        if name in registry() and not out.exists():
            log.info("%s is registered elsewhere; not training it", name)
            continue
        log.info("training %s (%s on %s)", name, objective, base)
        config = TrainConfig(base=base, objective=objective, name=name, split=split, **overrides)
        trained.append(train_simcse(config, out, progress=progress, overwrite=out.exists()))
    return trained
