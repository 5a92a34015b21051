"""The one noise engine (core.noise.engine, core.noise.segment): a batch gives, text for text, what apply_noise gives."""

from __future__ import annotations

import json
import random
import unicodedata

import numpy as np
import pytest

from core.datasets.tatoeba import load_tatoeba, tatoeba_languages
from core.noise import apply_noise, apply_noise_batch, graphemes, list_noise_types
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


def _check_identical(texts, langs, level, seed=5, noise="substitute"):
    qids = [f"q{j}" if j % 7 == 0 else j for j in range(len(texts))]
    batch = apply_noise_batch(texts, noise, level, seed=seed, qids=qids, langs=langs)
    levels = level if isinstance(level, list) else [level] * len(texts)
    for t, q, g, lv, got in zip(texts, qids, langs, levels, batch, strict=True):
        want = apply_noise(t, noise, lv, seed=seed, qid=q, lang=g)
        # Full NoiseResult equality: noisy text, every edit, CER (and its type), layout.
        assert got == want and type(got.cer) is type(want.cer), (t, g, q, lv)


@pytest.mark.slow  # thousands of apply_noise calls
@pytest.mark.parametrize("level", [0.1, 0.5, 1.0])
def test_batch_equals_one_by_one_on_tatoeba(tatoeba_dir, level):
    # A few thousand real sentences: every Tatoeba language, hence every script it holds.
    texts, langs = _real(tatoeba_dir, 40)
    assert len(texts) >= 2000 and len(set(langs)) >= 30
    _check_identical(texts, langs, level)


@pytest.mark.parametrize("noise", list_noise_types(include_none=False))
def test_batch_per_text_levels_and_tricky_texts(tatoeba_dir, noise):
    texts, langs = _real(tatoeba_dir, 10)
    texts += TRICKY + _fuzz(300)
    langs += ["hin"] * (len(texts) - len(langs))
    levels = [(j % 11) / 10 for j in range(len(texts))]
    _check_identical(texts, langs, levels, seed=0, noise=noise)


@pytest.mark.parametrize("noise", list_noise_types())
def test_batch_columns_equal_the_items(tatoeba_dir, noise):
    # What the precompute stores (noisy, CER, layout, edits JSON) read by column is what the items hold.
    texts, langs = _real(tatoeba_dir, 5)
    texts += TRICKY
    langs += ["hin"] * len(TRICKY)
    batch = apply_noise_batch(texts, noise, 0.3, seed=3, qids=range(len(texts)), langs=langs)
    items = list(batch)
    assert batch.noisy == [r.noisy for r in items] and batch.layouts == [r.layout for r in items]
    assert batch.cer == [r.cer for r in items] and all(type(c) is float for c in batch.cer)
    assert batch.edits_json == [json.dumps([e.to_dict() for e in r.edits], ensure_ascii=False) for r in items]
    assert batch[-1] == items[-1] and batch[1:3] == items[1:3] and batch == items


def test_substitute_cer_made_on_first_use_from_what_the_call_saw(tatoeba_dir):
    # The CER is computed lazily (the trainer reads only the noisy texts); changing the input list and the
    # returned noisy column before reading it must not change it.
    texts, langs = _real(tatoeba_dir, 6)
    qids = list(range(len(texts)))
    want = [
        apply_noise(t, "substitute", 0.2, seed=2, qid=q, lang=lang).cer
        for q, t, lang in zip(qids, texts, langs)
    ]
    batch = apply_noise_batch(texts, "substitute", 0.2, seed=2, qids=qids, langs=langs)
    assert callable(batch._cer)  # not computed by the call itself
    texts[:] = ["x"] * len(texts)
    batch.noisy[:] = ["y"] * len(batch.noisy)
    assert batch.cer == want and any(want)


@pytest.mark.parametrize("noise", list_noise_types(include_none=False))
def test_batch_independent_of_its_composition(tatoeba_dir, noise):
    # A query's noise depends on nothing else in the batch, nor on what earlier batches left in caches.
    texts, langs = _real(tatoeba_dir, 8)
    qids = list(range(len(texts)))
    whole = apply_noise_batch(texts, noise, 0.2, seed=4, qids=qids, langs=langs)
    picked = random.Random(1).sample(qids, len(qids) // 3) * 2
    part = apply_noise_batch(
        [texts[q] for q in picked], noise, 0.2, seed=4, qids=picked, langs=[langs[q] for q in picked]
    )
    assert list(part) == [whole[q] for q in picked]
    assert part.edits_json == [whole.edits_json[q] for q in picked]


def test_spare_code_points_in_a_text_still_give_the_cer():
    # Clusters are compared through spare code points (planes 4-16); a text holding one is compared
    # cluster list by cluster list instead.
    texts = ["क्षत्रिय \U000f0001 है", "नमस्ते \U00040000 दुनिया", "क्षत्रिय है"] * 3
    qids = list(range(len(texts)))
    batch = apply_noise_batch(texts, "substitute", 0.6, seed=2, qids=qids, langs="hin")
    assert list(batch) == [
        apply_noise(t, "substitute", 0.6, seed=2, qid=q, lang="hin") for t, q in zip(texts, qids)
    ]


def test_nfc_quick_check_never_clears_a_text_that_is_not_nfc(tatoeba_dir):
    rnd = random.Random(2)
    cps = [0x301, 0x323, 0x93C, 0x94D, 0x915, 0x928, 0x1161, 0x11A8, 0x1100, 0xAC00, 0xBBE, 0xBC6, 0xBD7]
    cps += [0xE48, 0xE01, 0x5B4, 0x64B, 0x651, 0x41, 0x65, 0x212B, 0x958, 0x344, 0xF900, 0x0, 0x20]
    fuzz = ["".join(chr(rnd.choice(cps)) for _ in range(rnd.randint(0, 6))) for _ in range(20000)]
    texts, _ = _real(tatoeba_dir, 20)
    for group in (fuzz, texts):
        cleared = Batch(group).nfc().tolist()
        assert all(unicodedata.is_normalized("NFC", t) for t, ok in zip(group, cleared) if ok)
        assert sum(cleared) > len(group) // 5  # and it clears many


@pytest.mark.slow  # thousands of apply_noise calls
@pytest.mark.parametrize("noise", ["substitute", "insert", "keyboard", "diacritics", "mixed"])
def test_batch_on_composing_text(noise):
    # Jamo, nuktas, Tamil two-part vowels, stacked accents, NFC and NFD: edits that would break the
    # normal form are dropped exactly as one by one (the batch checks only edits not at NFC boundaries).
    rnd = random.Random(3)
    pools = {
        "kor": [*range(0x1100, 0x1113), *range(0x1161, 0x1176), *range(0x11A8, 0x11C3), 0xAC00, 0xB098, 0x20],
        "hin": [*range(0x915, 0x93A), 0x93C, 0x94D, 0x93E, 0x93F, 0x958, 0x20],
        "tam": [*range(0xB95, 0xBBA), 0xBBE, 0xBC6, 0xBC7, 0xBD7, 0xBCD, 0x20],
        "vie": [0x61, 0x65, 0x6F, 0x75, 0x300, 0x301, 0x303, 0x309, 0x323, 0x302, 0x31B, 0xE2, 0x20],
    }
    texts, langs = [], []
    for _ in range(1500):
        lang = rnd.choice(sorted(pools))
        text = "".join(chr(rnd.choice(pools[lang])) for _ in range(rnd.randint(1, 12)))
        texts.append(unicodedata.normalize(rnd.choice(["NFC", "NFD"]), text) if rnd.random() < 0.5 else text)
        langs.append(lang)
    _check_identical(texts, langs, 1.0, noise=noise)
    _check_identical(texts, langs, 0.4, noise=noise)


def test_segment_tables_cache_equals_a_fresh_computation_and_survives_damage(tmp_path, monkeypatch):
    from core.noise import segment

    monkeypatch.setenv("CLIR_CACHE_DIR", str(tmp_path))
    fresh = segment.compute_tables()
    segment._tables.cache_clear()
    try:
        stored = segment._tables()  # computed and stored
        (path,) = (tmp_path / "noise").glob("segment-tables-*.npz")
        assert all(np.array_equal(a, b) for a, b in zip(stored, fresh))

        def must_not_compute():
            raise AssertionError("recomputed although a good cache file exists")

        with monkeypatch.context() as m:
            m.setattr(segment, "compute_tables", must_not_compute)
            segment._tables.cache_clear()
            loaded = segment._tables()
        assert all(np.array_equal(a, b) for a, b in zip(loaded, fresh))

        good = path.read_bytes()
        for damage in (b"not a zip file", good[: len(good) // 2]):
            path.write_bytes(damage)
            segment._tables.cache_clear()
            assert all(np.array_equal(a, b) for a, b in zip(segment._tables(), fresh))
            with np.load(path) as z:  # rewritten whole
                assert np.array_equal(z["flags"], fresh[0])
        assert not list((tmp_path / "noise").glob("*.tmp.npz"))

        # A cache folder that is a file: the tables are computed, nothing fails.
        blocked = tmp_path / "blocked"
        blocked.write_text("")
        monkeypatch.setenv("CLIR_CACHE_DIR", str(blocked))
        segment._tables.cache_clear()
        assert all(np.array_equal(a, b) for a, b in zip(segment._tables(), fresh))
    finally:
        segment._tables.cache_clear()
