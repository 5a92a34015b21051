"""Calibration on real data: realised CER within ±25% (relative) of the level, every Tatoeba language."""

from __future__ import annotations

import numpy as np
import pytest

from core.datasets.tatoeba import load_tatoeba, tatoeba_languages
from core.noise import apply_noise

LEVELS = (0.05, 0.1, 0.2, 0.3)
FAMILIES = ("insert", "delete", "substitute")
TOLERANCE = 0.25


def realised(path, lang: str, noise: str, level: float, limit: int | None) -> float:
    """Mean per-sentence CER (each result's own `cer`) over the language's first `limit` sentences."""
    queries = [q for q in load_tatoeba(path, lang).queries if q.strip()][:limit]
    return float(np.mean([apply_noise(q, noise, level, seed=0, qid=i, lang=lang).cer for i, q in enumerate(queries)]))


def _check(path, limit):
    worst, failures = [], []
    for lang in tatoeba_languages(path):
        for noise in FAMILIES:
            for level in LEVELS:
                got = realised(path, lang, noise, level, limit)
                rel = got / level - 1
                worst.append((abs(rel), lang, noise, level, got))
                if abs(rel) > TOLERANCE:
                    failures.append(f"{lang} {noise}@{level}: CER {got:.4f} ({rel:+.1%})")
    assert not failures, "\n".join(failures)
    return sorted(worst, reverse=True)[:5]


def test_cer_calibrated_every_language(tatoeba_dir):
    """First 200 sentences per language (all of them where fewer): ~15 s for 106 languages."""
    _check(tatoeba_dir, 200)


@pytest.mark.slow
def test_cer_calibrated_every_language_all_sentences(tatoeba_dir):
    _check(tatoeba_dir, None)
