"""Keyboard layouts: the vendored xkeyboard-config table, hand-checked neighbours, Ethiopic, fallbacks."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest

from core.noise import apply_noise, ethiopic, layouts
from core.noise import keyboard as kb
from core.noise.text import char_script


@pytest.mark.parametrize("name", layouts.layout_names())
def test_every_layout_loads_with_source(name):
    lay = layouts.layout(name)
    assert lay.source.startswith("xkeyboard-config symbols/") and len(lay.neighbours) > 10
    for ch, nbs in lay.neighbours.items():
        assert unicodedata.category(ch)[0] in "LMNPS" and all(
            unicodedata.category(n)[0] in "LMNPS" for n in nbs
        )


def test_language_and_script_maps_point_to_layouts():
    t = layouts.table()
    names = set(layouts.layout_names())
    assert set(t["languages"].values()) <= names and set(t["scripts"].values()) <= names
    assert {"source", "xkb_data_version", "licence"} <= set(t["about"])
    for lang, o in t["overrides"].items():
        assert t["languages"][lang] == o["layout"] and o["why"]


def test_vendored_table_matches_installed_xkb_data():
    build = pytest.importorskip("core.noise.build.keyboards")
    if not (build.XKB / "rules" / "evdev.xml").is_file() or not build.KEYSYMDEF.is_file():
        pytest.skip("xkb-data or keysymdef.h (x11proto-dev) not installed: nothing to compare with")
    if shutil.which("dpkg-query") is None:
        pytest.skip("no dpkg-query to read the xkb-data version")
    fresh = build.dumps(build.build())
    vendored = Path(build.OUT).read_text(encoding="utf-8")
    assert fresh == vendored, "keyboards_xkb.json is stale: run `python -m core.noise.build.keyboards`"


def test_keysyms_resolve_names_unicode_and_hex():
    build = pytest.importorskip("core.noise.build.keyboards")
    if not build.KEYSYMDEF.is_file():
        pytest.skip("keysymdef.h (x11proto-dev) not installed")
    table = build.keysym_table(build.KEYSYMDEF)
    assert build.keysym_char("Armenian_fe", table, {}) == "ֆ"
    assert build.keysym_char("Cyrillic_a", table, {}) == "а"
    assert build.keysym_char("U0589", table, {}) == "։"
    assert build.keysym_char("0x01001240", table, {}) == "ቀ"
    assert (
        build.keysym_char("dead_acute", table, {}) is None
        and build.keysym_char("NoSymbol", table, {}) is None
    )


def test_us_neighbours_hand_computed():
    nb = layouts.layout("us").neighbours
    assert set(nb["g"]) == {"t", "y", "f", "h", "v", "b"}
    assert set(nb["q"]) == {"1", "2", "w", "a"}
    assert set(nb["G"]) == {"T", "Y", "F", "H", "V", "B"}  # Shift level kept


def test_de_ru_am_from_xkb():
    assert set(layouts.layout("de").neighbours["z"]) >= {"t", "u", "g", "h"}  # QWERTZ: z where US has y
    # в sits on the d key: its neighbours are the keys around d (e r s f x c).
    assert set(layouts.layout("ru").neighbours["в"]) == {"у", "к", "ы", "а", "ч", "с"}
    assert "ә" in layouts.layout("ru(tt)").neighbours
    am = layouts.layout("am")
    assert am.script == "Armn" and "ա" in am.neighbours


def test_inscript_mark_classes():
    deva = layouts.layout("in").neighbours
    # k (क) sits between j (र) and l (त); i (ग) and o (द) above.
    assert {"र", "त", "ग", "द"} <= set(deva["क"])
    # A consonant never gets a matra as neighbour (it would orphan it), and vice versa.
    assert all(unicodedata.category(n[0])[0] != "M" for n in deva["क"])
    assert all(unicodedata.category(n[0])[0] == "M" for n in deva["ि"])


def test_ethiopic_slips_keep_consonant_or_order():
    g = "ገ"
    row, order = ethiopic.row_and_order(g)
    seen = set()
    for q in range(300):
        res = apply_noise(g, "keyboard", 1.0, seed=0, qid=q, lang="amh")
        assert res.layout == "et"
        (e,) = res.edits
        r2, o2 = ethiopic.row_and_order(e.new)
        assert r2 == row or o2 == order  # same consonant, other vowel; or neighbour key, same vowel
        seen.add(e.new)
    assert "ጉ" in seen and "ግ" in seen  # another order, and the bare consonant (vowel key missed)
    # Keys next to g on xkeyboard-config's et: t y f h v b -> ተ የ ፈ ሀ ሸ በ in the 1st order.
    assert seen & {"ተ", "የ", "ፈ", "ሀ", "ሸ", "በ"}


def test_layout_reported_and_fallback():
    assert apply_noise("hello", "keyboard", 0.5, seed=0, qid=0, lang="eng").layout == "us"
    assert apply_noise("hallo", "keyboard", 0.5, seed=0, qid=0, lang="deu").layout == "de"
    assert apply_noise("привет", "keyboard", 0.5, seed=0, qid=0, lang="kaz").layout == "kz"
    # Unknown language: the layout of the text's script, never a Latin one.
    assert apply_noise("Բարեւ, ինչպե՞ս ես:", "keyboard", 0.5, seed=0, qid=0, lang="xyz").layout == "am"
    res = apply_noise("我们明天去北京", "keyboard", 0.5, seed=0, qid=0, lang="cmn")
    assert res.layout == kb.FALLBACK and res.edits
    assert all(char_script(e.new) == "Hani" for e in res.edits)


def test_keyboard_keeps_script_of_words():
    # Latin words inside Russian text are typed on the Latin layout, Cyrillic ones on ЙЦУКЕН.
    res = apply_noise("Я люблю Python и Java", "keyboard", 1.0, seed=0, qid=0, lang="rus")
    for e in res.edits:
        assert {char_script(c) for c in e.new} - {"Zyyy"} <= {char_script(c) for c in e.old} - {"Zyyy"}


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Բարեւ, ինչպե՞ս ես: Ես լավ եմ:", "hye"),  # the Armenian: `,` and `:` became Latin
        ("אני לא יודע, איפה הוא גר.", "heb"),
        ("Я не знаю, где он живёт.", "chv"),
        ("هل تحب القراءة؟ نعم!", "ara"),
    ],
)
def test_punctuation_never_becomes_a_foreign_letter(text, lang):
    scripts = {char_script(c) for c in text} - {"Zyyy", "Zinh"}
    for q in range(60):
        res = apply_noise(text, "keyboard", 1.0, seed=0, qid=q, lang=lang)
        for e in res.edits:
            assert {char_script(c) for c in e.new if c.isalpha()} <= scripts, e
