"""Keyboard layouts: data file integrity, hand-checked neighbours, Ethiopic and fallback behaviour."""

from __future__ import annotations

import unicodedata

import pytest

from core.noise import apply_noise, ethiopic
from core.noise import keyboard as kb
from core.noise.text import char_script


@pytest.mark.parametrize("name", kb.layout_names())
def test_every_layout_loads_with_source(name):
    lay = kb.layout(name)
    assert lay.source and len(lay.neighbours) > 10
    for ch, nbs in lay.neighbours.items():
        assert unicodedata.category(ch) != "Cn" and all(unicodedata.category(n[0]) != "Cn" for n in nbs)


def test_language_and_script_maps_point_to_layouts():
    raw = kb._raw()
    names = set(kb.layout_names())
    assert set(raw["languages"].values()) <= names and set(raw["scripts"].values()) <= names


def test_qwerty_neighbours_hand_computed():
    nb = kb.layout("qwerty-us").neighbours
    assert set(nb["g"]) == {"t", "y", "f", "h", "v", "b"}
    assert set(nb["q"]) == {"1", "2", "w", "a"}
    assert set(nb["G"]) == {"T", "Y", "F", "H", "V", "B"}  # Shift level kept


def test_azerty_and_jcuken():
    assert set(kb.layout("azerty-fr").neighbours["a"]) >= {"z", "q"}
    # в sits on the d key: its neighbours are the keys around d (e r s f x c).
    assert set(kb.layout("jcuken-ru").neighbours["в"]) == {"у", "к", "ы", "а", "ч", "с"}
    assert "ә" in kb.layout("jcuken-tt").neighbours


def test_inscript_derivation_and_mark_classes():
    deva = kb.layout("inscript-deva").neighbours
    # k (क) sits between j (र) and l (त); i (ग) and o (द) above; m (स) and , below.
    assert {"र", "त", "ग", "द"} <= set(deva["क"])
    # A consonant never gets a matra as neighbour (it would orphan it), and vice versa.
    assert all(unicodedata.category(n[0])[0] != "M" for n in deva["क"])
    assert all(unicodedata.category(n[0])[0] == "M" for n in deva["ि"])
    tamil = kb.layout("inscript-taml").neighbours
    assert "க" in tamil and all(char_script(n[0]) in {"Taml", "Zyyy", "Zinh"} for n in tamil["க"])


def test_ethiopic_slips_keep_consonant_or_order():
    g = "ገ"
    row, order = ethiopic.row_and_order(g)
    seen = set()
    for q in range(300):
        res = apply_noise(g, "keyboard", 1.0, seed=0, qid=q, lang="amh")
        assert res.layout == "ethiopic-sera"
        (e,) = res.edits
        r2, o2 = ethiopic.row_and_order(e.new)
        assert r2 == row or o2 == order  # same consonant, other vowel; or neighbour key, same vowel
        seen.add(e.new)
    assert "ጉ" in seen and "ግ" in seen  # another order, and the bare consonant (vowel key missed)
    # SERA keys next to g on QWERTY: t y f h v b -> ተ የ ፈ ሀ ቨ በ in the 1st order.
    assert seen & {"ተ", "የ", "ፈ", "ሀ", "ቨ", "በ"}


def test_layout_reported_and_fallback():
    assert apply_noise("hello", "keyboard", 0.5, seed=0, qid=0, lang="eng").layout == "qwerty-us"
    assert apply_noise("hallo", "keyboard", 0.5, seed=0, qid=0, lang="deu").layout == "qwertz-de"
    assert apply_noise("привет", "keyboard", 0.5, seed=0, qid=0, lang="kaz").layout == "jcuken-ru"
    res = apply_noise("我们明天去北京", "keyboard", 0.5, seed=0, qid=0, lang="cmn")
    assert res.layout == kb.FALLBACK and res.edits
    assert all(char_script(e.new) == "Hani" for e in res.edits)


def test_keyboard_keeps_script_of_words():
    # Latin words inside Russian text are typed on the Latin layout, Cyrillic ones on ЙЦУКЕН.
    res = apply_noise("Я люблю Python и Java", "keyboard", 1.0, seed=0, qid=0, lang="rus")
    for e in res.edits:
        assert {char_script(c) for c in e.old} - {"Zyyy"} == {char_script(c) for c in e.new} - {
            "Zyyy"
        } or not e.new.isalpha()
