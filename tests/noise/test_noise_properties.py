"""Property tests over random strings mixing scripts, emoji ZWJ sequences and stray combining marks."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.noise import NOISE_TYPES, apply_noise, cer, graphemes, replay
from core.noise.text import NEUTRAL_SCRIPTS, cluster_script, has_orphan_mark

PIECES = [
    *"abcdeéñçß",
    "e\u0301",
    "A",
    "Z",  # Latin, precomposed and decomposed
    *"ሰላምለዓገጉ",  # Ethiopic
    "क",
    "्",
    "ष",
    "ि",
    "ं",
    "क्ष",
    "त्रि",
    "हाँ",  # Devanagari, loose virama and matra included
    "நா",
    "ன்",
    "வீ",
    "டு",
    "க்",
    "கொ",  # Tamil
    "తె",
    "లు",
    "గు",
    "క్క",  # Telugu
    *"أناحب",
    "\u064e",
    "بَ",  # Arabic with harakat
    *"приветЁ",  # Cyrillic
    "ฉั",
    "น",
    "ไม่",
    "รู้",  # Thai
    "שָׁ",
    *"לום",  # Hebrew with niqqud
    *"我们北京",  # Han
    "👨\u200d👩\u200d👧",
    "👍🏽",
    "🇫🇷",
    "❤\ufe0f",  # emoji sequences
    "\u0301",
    "\u093f",
    "\u0bcd",  # stray combining marks
    " ",
    " ",
    "  ",
    ",",
    ".",
    "5",
    "\t",
]
LANGS = ["eng", "fra", "amh", "hin", "tam", "tel", "ara", "rus", "tha", "heb", "cmn", "xyz"]

texts = st.lists(st.sampled_from(PIECES), max_size=24).map("".join)
levels = st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.7, 1.0]) | st.floats(0, 1)
noises = st.sampled_from(sorted(NOISE_TYPES))
common = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(
    text=texts | st.text(max_size=30),
    noise=noises,
    level=levels,
    lang=st.sampled_from(LANGS),
    qid=st.integers(0, 10**6),
)
def test_never_raises_replays_and_is_deterministic(text, noise, level, lang, qid):
    res = apply_noise(text, noise, level, seed=0, qid=qid, lang=lang)
    assert res.text == text
    assert replay(text, res.edits) == res.noisy
    assert res == apply_noise(text, noise, level, seed=0, qid=qid, lang=lang)
    assert abs(res.cer - cer(text, res.noisy)) < 1e-12
    units = graphemes(text)
    for e in res.edits:
        assert text[e.start : e.end] == e.old == "".join(units[e.g_start : e.g_end])
    if level == 0.0:
        assert res.noisy == text and res.edits == ()


@common
@given(text=texts, noise=noises, level=levels, lang=st.sampled_from(LANGS), qid=st.integers(0, 10**6))
def test_no_orphan_mark_and_form_preserved(text, noise, level, lang, qid):
    res = apply_noise(text, noise, level, seed=0, qid=qid, lang=lang)
    if not has_orphan_mark(graphemes(text)):
        assert not has_orphan_mark(graphemes(res.noisy)), res.edits
    # NFC in, NFC out; a text in NFD only (decomposed accents) stays NFD. ASCII is both: NFC wins.
    form = "NFC" if unicodedata.is_normalized("NFC", text) else "NFD"
    if unicodedata.is_normalized(form, text):
        assert unicodedata.is_normalized(form, res.noisy), (form, res.edits)


def _real(units: list[str], idx: list[int]) -> set[str]:
    return {cluster_script(units[j]) for j in idx if 0 <= j < len(units)} - NEUTRAL_SCRIPTS


@common
@given(
    text=texts,
    noise=st.sampled_from(["insert", "substitute"]),
    level=levels,
    lang=st.sampled_from(LANGS),
    qid=st.integers(0, 10**6),
)
def test_new_clusters_share_a_neighbour_script(text, noise, level, lang, qid):
    res = apply_noise(text, noise, level, seed=0, qid=qid, lang=lang)
    units = graphemes(text)
    everywhere = _real(units, list(range(len(units))))
    for e in res.edits:
        if e.op == "insert":
            near = _real(units, [e.g_start - 1, e.g_start])
        else:
            near = _real(units, [e.g_start - 1, e.g_start, e.g_start + 1])
        allowed = near or everywhere
        for g in graphemes(e.new):
            sc = cluster_script(g)
            assert sc in NEUTRAL_SCRIPTS or sc in allowed, (e, sc, allowed)


@settings(max_examples=80, deadline=None)
@given(
    text=texts,
    noise=st.sampled_from(["insert", "delete", "substitute", "keyboard", "homoglyph", "diacritics"]),
    lang=st.sampled_from(LANGS),
    qid=st.integers(0, 1000),
)
def test_levels_nest(text, noise, lang, qid):
    # One-cluster families: the edits at a level are a subset of those at a higher level (same query).
    lo = apply_noise(text, noise, 0.1, seed=0, qid=qid, lang=lang)
    hi = apply_noise(text, noise, 0.4, seed=0, qid=qid, lang=lang)
    assert set(lo.edits) <= set(hi.edits)
