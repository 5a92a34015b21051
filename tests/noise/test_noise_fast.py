"""The batch fast path (core.noise.fast, core.noise.segment) gives exactly what apply_noise gives."""

from __future__ import annotations

import random

import pytest

from core.datasets.tatoeba import load_tatoeba, tatoeba_languages
from core.noise import apply_noise, apply_noise_batch, graphemes
from core.noise.segment import Batch
from core.noise.text import blank_flags, is_simple

TRICKY = [
    "",
    "\x00",
    "a\x00b",
    "\r\n",
    "a\rb\r\n",
    "क्षत्रिय है।",
    "a्ण",  # regex joins a linker run to the next consonant even without a consonant before it
    "्ण",
    "क्\u200cण",
    "क\u200d्ण",
    "한국어 ᄀᄀ각",
    "🇫🇷🇩 ok 👍🏽 👨\u200d👩\u200d👧",
    "ខ្ញុំ\u200bមិន\u200bដឹង\u200bទេ។",
    "\u0661\u0662 سلام\u200c\u064bها",
    "e\u0301 \u0301x",
    "ـ\u0651 ©2023 ™",
]


def _fuzz(n: int) -> list[str]:
    rnd = random.Random(0)
    cps = [*range(0x900, 0x980), *range(0xB80, 0xC80), *range(0x1100, 0x1200), *range(0xAC00, 0xAC10)]
    cps += [0x200D, 0x200C, 0x200B, 0x1F600, 0x1F1E6, 0x1F1EB, 0xD, 0xA, 0x0, 0x300, 0x20, 0x600, 0x1F3FD]
    cps += [0x2764, 0xFE0F, 0xE33, 0xE40, 0xE01, 0x61, 0x2E]
    return ["".join(chr(rnd.choice(cps)) for _ in range(rnd.randint(0, 12))) for _ in range(n)]


def _real(tatoeba_dir, per_language: int) -> tuple[list[str], list[str]]:
    texts, langs = [], []
    for lang in tatoeba_languages(tatoeba_dir):
        qs = load_tatoeba(tatoeba_dir, lang).queries
        step = max(1, len(qs) // per_language)
        picked = qs[::step][:per_language]
        texts += picked
        langs += [lang] * len(picked)
    return texts, langs


def _check_segmentation(texts: list[str]) -> None:
    b = Batch(texts)
    start, end, first, count = b.start.tolist(), b.end.tolist(), b.first.tolist(), b.count.tolist()
    visible, simple = b.visible().tolist(), b.simple().tolist()
    for q, text in enumerate(texts):
        span = range(first[q], first[q] + count[q])
        units = [b.joined[start[j] : end[j]] for j in span]
        assert units == graphemes(text), text
        assert [not visible[j] for j in span] == blank_flags(units, text), text
        assert simple[q] == is_simple(text), text


def test_batch_segmentation_matches_regex():
    _check_segmentation(TRICKY + _fuzz(3000))


def test_batch_segmentation_matches_regex_on_tatoeba(tatoeba_dir):
    texts, _ = _real(tatoeba_dir, 200)
    _check_segmentation(texts)


def _check_identical(texts, langs, level, seed=5):
    qids = [f"q{j}" if j % 7 == 0 else j for j in range(len(texts))]
    batch = apply_noise_batch(texts, "substitute", level, seed=seed, qids=qids, langs=langs)
    levels = level if isinstance(level, list) else [level] * len(texts)
    for t, q, g, lv, got in zip(texts, qids, langs, levels, batch, strict=True):
        want = apply_noise(t, "substitute", lv, seed=seed, qid=q, lang=g)
        # Full NoiseResult equality: noisy text, every edit, CER (and its type), layout.
        assert got == want and type(got.cer) is type(want.cer), (t, g, q, lv)


@pytest.mark.parametrize("level", [0.1, 0.5, 1.0])
def test_substitute_fast_path_equals_one_by_one_on_tatoeba(tatoeba_dir, level):
    # A few thousand real sentences: every Tatoeba language, hence every script it holds.
    texts, langs = _real(tatoeba_dir, 40)
    assert len(texts) >= 2000 and len(set(langs)) >= 30
    _check_identical(texts, langs, level)


def test_substitute_fast_path_per_text_levels_and_tricky_texts(tatoeba_dir):
    texts, langs = _real(tatoeba_dir, 10)
    texts += TRICKY + _fuzz(300)
    langs += ["hin"] * (len(texts) - len(langs))
    levels = [(j % 11) / 10 for j in range(len(texts))]
    _check_identical(texts, langs, levels, seed=0)
