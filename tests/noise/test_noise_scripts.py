"""Edits stay in the text's own writing system, on every script of the data and on scripts absent from it.

For every noise type but ``homoglyph`` (whose point is cross-script look-alikes), over sample sentences
of every Tatoeba language and synthetic text of scripts Tatoeba lacks, under known and unknown language
codes: no edit brings a letter (L*/M*) whose Script_Extensions miss every script of the edited word,
no punctuation foreign to the text, and no blank cluster (space, ZWSP, ZWNJ, ZWJ...) is replaced,
deleted or produced, except the spaces of ``whitespace`` noise.
"""

from __future__ import annotations

import random
import unicodedata

import pytest

from core.datasets.tatoeba import load_tatoeba, tatoeba_languages
from core.noise import NOISE_TYPES, apply_noise, apply_noise_batch, graphemes
from core.noise.tables import unicode_letters
from core.noise.text import NEUTRAL_SCRIPTS, char_script, fits_scripts, is_blank

TYPES = sorted(set(NOISE_TYPES) - {"homoglyph"})
#: Scripts absent from the Tatoeba folder: (script, language code a user would pass, digits' zero).
ABSENT = [
    ("Armn", "hye", None),
    ("Khmr", "khm", 0x17E0),
    ("Tibt", "bod", 0x0F20),
    ("Sinh", "sin", 0x0DE6),
    ("Mymr", "mya", 0x1040),
    ("Laoo", "lao", 0x0ED0),
    ("Gujr", "guj", 0x0AE6),
    ("Knda", "kan", 0x0CE6),
    ("Orya", "ori", 0x0B66),
    ("Guru", "pan", 0x0A66),
    ("Thaa", "div", None),
    ("Syrc", "syr", None),
    ("Nkoo", "nqo", 0x07C0),
    ("Tfng", "tzm", None),
    ("Cher", "chr", None),
    ("Olck", "sat", 0x1C50),
]
JOINERS = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad"]
PUNCT = [",", ".", ":", "!", "?", "«", "»", "-", "(", ")", "\u0589", "\u0964", "\u060c", "\u061f"]


def synthetic(script: str, zero: int | None, n: int, seed: int) -> list[str]:
    """Sentences of random letters of ``script`` with spaces, punctuation, digits and invisibles."""
    rnd = random.Random(seed)
    letters = unicode_letters(script)
    punct = [p for p in PUNCT if fits_scripts(p, frozenset({script}))]
    out = []
    for _ in range(n):
        words = []
        for _ in range(rnd.randint(2, 7)):
            w = "".join(rnd.choice(letters) for _ in range(rnd.randint(1, 6)))
            if rnd.random() < 0.3:
                w += rnd.choice(JOINERS) + "".join(rnd.choice(letters) for _ in range(2))
            if rnd.random() < 0.3:
                w += rnd.choice(punct)
            if zero is not None and rnd.random() < 0.2:
                w += chr(zero + rnd.randint(0, 9))
            words.append(w)
        sep = "\u200b" if script in ("Khmr", "Mymr", "Laoo", "Tibt") else " "
        out.append(unicodedata.normalize("NFC", sep.join(words)))
    return out


def _word_scripts(units: list[str], lo: int, hi: int) -> frozenset[str]:
    """Scripts of the non-blank run around clusters [lo, hi) (the edited word)."""
    while lo > 0 and not is_blank(units[lo - 1]):
        lo -= 1
    while hi < len(units) and not is_blank(units[hi]):
        hi += 1
    return frozenset(char_script(c) for u in units[lo:hi] for c in u) - NEUTRAL_SCRIPTS


def check(text: str, noise: str, res) -> None:
    units = graphemes(text)
    everywhere = frozenset(char_script(c) for c in text) - NEUTRAL_SCRIPTS
    for e in res.edits:
        word = _word_scripts(units, max(e.g_start - 1, 0) if e.op == "insert" else e.g_start, e.g_end)
        if e.op == "insert" and e.g_start < len(units) and not is_blank(units[e.g_start]):
            word |= _word_scripts(units, e.g_start, e.g_start + 1)
        for ch in e.new:
            if unicodedata.category(ch)[0] in "LM":
                assert fits_scripts(ch, word), (noise, text, e, ch, sorted(word))
            else:
                assert fits_scripts(ch, word | everywhere), (noise, text, e, ch)
        # No blank cluster is produced (a joiner inside a letter cluster the language writes, such as a
        # Malayalam chillu ര്‍, is part of that letter), nor edited.
        # whitespace (and mixed, which includes it) inserts and drops U+0020 spaces, nothing else blank.
        spacing = noise in ("whitespace", "mixed") and " " in (e.new, e.old) and "" in (e.new, e.old)
        if not spacing:
            assert not any(is_blank(g) for g in graphemes(e.new)), (noise, e)
            assert not any(is_blank(u) for u in units[e.g_start : e.g_end]), (noise, e)


def _samples(tatoeba_dir, per_lang: int) -> list[tuple[str, str]]:
    out = []
    for lang in tatoeba_languages(tatoeba_dir):
        queries = [q for q in load_tatoeba(tatoeba_dir, lang).queries if q.strip()]
        out += [(lang, q) for q in queries[:per_lang]]
    return out


@pytest.mark.parametrize("noise", TYPES)
def test_every_tatoeba_script_stays_itself(tatoeba_dir, noise):
    samples = _samples(tatoeba_dir, 12)
    texts, langs = [t for _, t in samples], [g for g, _ in samples]
    for level in (0.3, 1.0):
        # Under the text's own language code, and under a code no table knows.
        for code in (langs, ["zzz"] * len(langs)):
            results = apply_noise_batch(texts, noise, level, seed=1, qids=range(len(texts)), langs=code)
            for text, res in zip(texts, results, strict=True):
                check(text, noise, res)


@pytest.mark.parametrize("noise", TYPES)
@pytest.mark.parametrize(("script", "lang", "zero"), ABSENT)
def test_scripts_absent_from_the_data_stay_themselves(noise, script, lang, zero):
    texts = synthetic(script, zero, 15, seed=sum(map(ord, script)))
    for code in (lang, "xyz"):
        for level in (0.3, 1.0):
            results = apply_noise_batch(texts, noise, level, seed=0, qids=range(len(texts)), langs=code)
            for q, (text, res) in enumerate(zip(texts, results, strict=True)):
                check(text, noise, res)
                if noise in ("substitute", "keyboard", "insert") and level == 1.0:
                    # Letters are drawn from the script itself: never a Latin fallback.
                    assert all(char_script(c) != "Latn" for e in res.edits for c in e.new)
                assert res == apply_noise(text, noise, level, seed=0, qid=q, lang=code)


@pytest.mark.parametrize("noise", ["substitute", "keyboard", "insert"])
def test_issue_examples(noise):
    cases = [
        ("Ինչպե՞ս ես: Ես լավ եմ, շնորհակալություն:", "hye"),  # Armenian `:` is the full stop
        ("هل تحب القراءة؟ نعم! أنا أحب الكتب.", "ara"),
        ("ខ្ញុំ\u200bមិន\u200bដឹង\u200bទេ។", "khm"),  # ZWSP separates words
        ("אני לא יודע, איפה הוא גר.", "heb"),
        ("Я не знаю, где он живёт.", "chv"),
    ]
    for text, lang in cases:
        for q in range(40):
            res = apply_noise(text, noise, 1.0, seed=0, qid=q, lang=lang)
            check(text, noise, res)
            if lang == "khm":
                assert res.noisy.count("\u200b") == text.count("\u200b")


def test_punctuation_becomes_punctuation_under_substitute():
    text = ": , . ! ?"
    for q in range(30):
        res = apply_noise(text, "substitute", 1.0, seed=0, qid=q, lang="hye")
        assert res.edits and all(unicodedata.category(e.new[0])[0] == "P" for e in res.edits)


def test_digits_stay_in_their_numeral_system():
    res = apply_noise("٣ ٤ ٥ ١٢٣", "substitute", 1.0, seed=0, qid=0, lang="ara")
    assert res.edits and all("\u0660" <= e.new <= "\u0669" for e in res.edits)


def test_level_counts_visible_clusters_only():
    # 4 visible clusters and 3 ZWSPs: deleting everything deletes 4 clusters, CER 4/4; the ZWSPs stay.
    res = apply_noise("ក\u200bខ\u200bគ\u200bឃ", "delete", 1.0, seed=0, qid=0, lang="khm")
    assert res.noisy == "\u200b\u200b\u200b" and res.cer == 1.0
