"""Example builders of the three SimCSE objectives: content, balance and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from core.training import NOISE_LEVEL_RANGE, NOISE_TYPES, build_examples, sample_pairs

PAIRS = {
    "fra": [(f"Phrase numéro {i}.", f"Sentence number {i}.") for i in range(50)],
    "swe": [(f"Mening nummer {i}.", f"Sentence {i} in Swedish.") for i in range(5)],
}


def test_sample_pairs_is_balanced_capped_and_seeded():
    picked = sample_pairs(PAIRS, 10, np.random.default_rng(0))
    assert len(picked) == 10
    assert sum(t[0] == "swe" for t in picked) == 5  # the small language is kept whole
    assert picked == sample_pairs(PAIRS, 10, np.random.default_rng(0))
    assert picked != sample_pairs(PAIRS, 10, np.random.default_rng(1))
    assert len(sample_pairs(PAIRS, None, np.random.default_rng(0))) == 55
    with pytest.raises(ValueError, match="max_pairs"):
        sample_pairs(PAIRS, 0, np.random.default_rng(0))


def test_unsup_pairs_each_distinct_sentence_with_itself():
    triples = [("fra", "Oui.", "Yes."), ("fra", "Oui.", "Yeah."), ("swe", "Ja.", "Yes.")]
    ex = build_examples("unsup", triples, np.random.default_rng(0), 0)
    assert ex.anchors == ex.positives == ["Oui.", "Ja."]
    assert ex.langs == ["fra", "swe"]


def test_bitext_keeps_non_english_as_anchor():
    triples = sample_pairs(PAIRS, 20, np.random.default_rng(0))
    ex = build_examples("bitext", triples, np.random.default_rng(0), 0)
    assert ex.anchors == [t[1] for t in triples] and ex.positives == [t[2] for t in triples]


def test_noisy_bitext_is_seeded_and_draws_documented_types_and_levels():
    triples = sample_pairs(PAIRS, 55, np.random.default_rng(0))
    a = build_examples("noisy-bitext", triples, np.random.default_rng(3), 3)
    b = build_examples("noisy-bitext", triples, np.random.default_rng(3), 3)
    c = build_examples("noisy-bitext", triples, np.random.default_rng(4), 4)
    assert a == b and a.anchors != c.anchors
    assert a.positives == [t[2] for t in triples]  # English side stays clean
    assert {t for t, _ in a.noise} <= set(NOISE_TYPES) and len({t for t, _ in a.noise}) > 3
    lo, hi = NOISE_LEVEL_RANGE
    assert all(lo <= lvl <= hi for _, lvl in a.noise)
    assert sum(x != t[1] for x, t in zip(a.anchors, triples)) > len(triples) // 2


def test_noisy_bitext_example_i_is_apply_noise_with_qid_i():
    # The batch call behind the examples keeps the documented contract, example by example.
    from core.noise import apply_noise

    triples = sample_pairs(PAIRS, 55, np.random.default_rng(0))
    ex = build_examples("noisy-bitext", triples, np.random.default_rng(3), 3)
    for i, ((lang, src, _), (noise, level), got) in enumerate(
        zip(triples, ex.noise, ex.anchors, strict=True)
    ):
        noisy = apply_noise(src, noise, level, seed=3, qid=i, lang=lang).noisy
        assert got == (noisy if noisy.strip() else src)


def test_unknown_objective():
    with pytest.raises(ConfigError, match="unknown objective"):
        build_examples("supervised", [], np.random.default_rng(0), 0)
