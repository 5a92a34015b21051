"""Calibration on real data: realised CER within ±25% (relative) of the level, every Tatoeba language."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.datasets.tatoeba import load_tatoeba, tatoeba_languages
from core.noise import apply_noise_batch

LEVELS = (0.05, 0.1, 0.2, 0.3)
FAMILIES = ("insert", "delete", "substitute")
TOLERANCE = 0.25


def realised(path, lang: str, noise: str, level: float, limit: int | None, min_draws: int = 0) -> float:
    """Mean per-sentence CER (each result's own ``cer``) over the language's first ``limit`` sentences.

    Small languages (amh has 168 short sentences) are noised under several seeds until ``min_draws``
    sentence draws are reached: at level 0.05 a single pass over them gives only ~95 edits, whose
    sampling error alone is ~10% relative, and the claim under test is convergence, not one draw.
    """
    queries = [q for q in load_tatoeba(path, lang).queries if q.strip()][:limit]
    seeds = max(1, math.ceil(min_draws / len(queries)))
    # The batch call gives, text for text, what apply_noise gives (tests/noise/test_noise_engine.py checks it)
    # and noises a whole language in one vectorised pass of the engine: the same CERs, several times faster.
    qids = range(len(queries))
    cers = [
        apply_noise_batch(queries, noise, level, seed=seed, qids=qids, langs=lang).cer
        for seed in range(seeds)
    ]
    return float(np.mean(np.concatenate(cers)))


def _check(path, limit, min_draws):
    worst, failures = [], []
    for lang in tatoeba_languages(path):
        for noise in FAMILIES:
            for level in LEVELS:
                got = realised(path, lang, noise, level, limit, min_draws)
                rel = got / level - 1
                worst.append((abs(rel), lang, noise, level, got))
                if abs(rel) > TOLERANCE:
                    failures.append(f"{lang} {noise}@{level}: CER {got:.4f} ({rel:+.1%})")
    assert not failures, "\n".join(failures)
    return sorted(worst, reverse=True)[:5]


@pytest.mark.slow  # every language, 12 conditions: ~15 s
def test_cer_calibrated_every_language(tatoeba_dir):
    """First 120 sentences per language, at least 240 sentence draws (extra seeds): ~5 s on one core.

    Not fewer: with 240 draws at level 0.05 a cell's mean CER has a standard error of ~6% of the level, and
    the largest of the 1272 cells' deviations is ~3.5 standard errors by chance alone, so the 25% tolerance
    is just wide enough. (A random sample sized per cell from its spread needs as many draws in all.)"""
    _check(tatoeba_dir, 120, 240)


@pytest.mark.slow
def test_cer_calibrated_every_language_all_sentences(tatoeba_dir):
    """Every sentence of every language, at least 1000 draws per language (extra seeds for small ones)."""
    _check(tatoeba_dir, None, 1000)
