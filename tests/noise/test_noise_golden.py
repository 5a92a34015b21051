"""The determinism contract: every type, 12 scripts, 3 levels give what they gave before the one-engine
change (fixture ``data/golden_outputs.json``, made by ``tests/noise/golden.py`` from the old code)."""

from __future__ import annotations

import json

import pytest

from core.noise import NOISE_VERSION, apply_noise, apply_noise_batch, list_noise_types
from tests.noise.golden import FIXTURE, LEVELS, SEED, cases, digest, output_row

GOLDEN = json.loads(FIXTURE.read_text(encoding="utf-8"))
TYPES = list_noise_types(include_none=False)


def test_fixture_is_of_this_noise_version():
    assert GOLDEN["noise_version"] == NOISE_VERSION, "NOISE_VERSION changed: rewrite the fixture with it"
    assert len(GOLDEN["digests"]) == len(TYPES) * len(LEVELS) * 15


@pytest.fixture(scope="module")
def all_cases(tatoeba_dir):
    return cases(tatoeba_dir)


@pytest.mark.parametrize("noise", TYPES)
def test_batch_matches_fixture(noise, all_cases):
    """apply_noise_batch: one call per (level, case) and one call mixing every case, levels per text."""
    for level in LEVELS:
        for name, texts, langs, qids in all_cases:
            res = apply_noise_batch(texts, noise, level, seed=SEED, qids=qids, langs=langs)
            rows = [
                [n, e, repr(c), lay] for n, e, c, lay in zip(res.noisy, res.edits_json, res.cer, res.layouts)
            ]
            key = f"{noise}|{level}|{name}"
            if name == "tricky-eng":
                assert rows == GOLDEN["tricky"][key], key
            assert digest(rows) == GOLDEN["digests"][key], key
    # Every case and level in one batch: texts do not influence each other.
    texts, langs, qids, levels, keys, sizes = [], [], [], [], [], []
    for level in LEVELS:
        for name, t, g, q in all_cases:
            texts += t
            langs += g
            qids += q
            levels += [level] * len(t)
            keys.append(f"{noise}|{level}|{name}")
            sizes.append(len(t))
    res = apply_noise_batch(texts, noise, levels, seed=SEED, qids=qids, langs=langs)
    rows = [[n, e, repr(c), lay] for n, e, c, lay in zip(res.noisy, res.edits_json, res.cer, res.layouts)]
    at = 0
    for key, size in zip(keys, sizes, strict=True):
        assert digest(rows[at : at + size]) == GOLDEN["digests"][key], key
        at += size


@pytest.mark.slow  # apply_noise text by text over every case: ~25 s
@pytest.mark.parametrize("noise", TYPES)
def test_one_by_one_matches_fixture(noise, all_cases):
    for level in LEVELS:
        for name, texts, langs, qids in all_cases:
            rows = [
                output_row(apply_noise(t, noise, level, seed=SEED, qid=q, lang=g))
                for t, g, q in zip(texts, langs, qids, strict=True)
            ]
            assert digest(rows) == GOLDEN["digests"][f"{noise}|{level}|{name}"], f"{noise}|{level}|{name}"
