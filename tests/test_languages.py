"""Tests of the language registry (data/languages.csv, data/make_languages.py, core/languages.py).

The tests that read the data folders run when $CLIR_DATA_DIR (Tatoeba), $CLIR_FLORES200_DIR and
$CLIR_NTREX128_DIR point at them; the rest check the committed file alone."""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.datasets import codes
from core.errors import DataError, UnknownNameError
from core.languages import (
    COLUMNS,
    LANGUAGES_CSV,
    Language,
    get_language,
    load_languages,
    published_reference,
    resource_class_label,
    tatoeba_codes,
)

REPO = Path(__file__).resolve().parent.parent
MAKER = REPO / "data" / "make_languages.py"

# ISO 15924 codes the registry may legitimately use.
KNOWN_SCRIPTS = {
    "Latn", "Cyrl", "Grek", "Armn", "Geor", "Hebr", "Arab", "Syrc", "Thaa", "Ethi", "Tfng", "Nkoo",
    "Deva", "Beng", "Guru", "Gujr", "Orya", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Tibt", "Olck",
    "Thai", "Laoo", "Khmr", "Mymr", "Java", "Bali", "Sund", "Bugi", "Tglg", "Hani", "Hans", "Hant",
    "Jpan", "Kore", "Hang", "Mong", "Yiii", "Cher", "Cans", "Runr", "Goth", "Glag",
}  # fmt: skip


N_CODES = 348  # 106 Tatoeba + 185 FLORES-200 folders + 56 NTREX-128 codes Tatoeba lacks + eng


def _folder(variable: str) -> Path | None:
    raw = os.environ.get(variable)
    return Path(raw) if raw and Path(raw).is_dir() else None


def _data_dir() -> Path | None:
    return _folder("CLIR_DATA_DIR")


needs_data = pytest.mark.skipif(_data_dir() is None, reason="CLIR_DATA_DIR unset or missing")
needs_all_data = pytest.mark.skipif(
    None in (_folder("CLIR_DATA_DIR"), _folder("CLIR_FLORES200_DIR"), _folder("CLIR_NTREX128_DIR")),
    reason="CLIR_DATA_DIR, CLIR_FLORES200_DIR or CLIR_NTREX128_DIR unset or missing",
)


def _maker():
    """data/make_languages.py as a module (it needs pycountry and regex)."""
    pytest.importorskip("pycountry")
    pytest.importorskip("regex")
    spec = importlib.util.spec_from_file_location("make_languages", MAKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raw_rows() -> list[dict[str, str]]:
    with LANGUAGES_CSV.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_header_is_exact():
    first = LANGUAGES_CSV.read_text(encoding="utf-8").splitlines()[0]
    assert first == "code,iso639_3,name,script,resource_class,family_note,source"


def test_codes_unique_and_well_formed():
    rows = _raw_rows()
    found = [row["code"] for row in rows]
    assert len(found) == N_CODES
    assert found == sorted(found)
    assert len({c.lower() for c in found}) == len(found)  # unique even case-insensitively
    for code in found:
        assert re.fullmatch(r"[a-z]{3}(?:[_-][A-Za-z0-9]+)?", code), code


def test_iso639_3_is_the_codes_iso_part():
    for row in _raw_rows():
        assert row["iso639_3"] == codes.iso639_3(row["code"]), row
    assert get_language("amh_Ethi").iso639_3 == "amh"
    assert get_language("aze-Latn").iso639_3 == "aze"
    assert get_language("zho-CN").iso639_3 == "zho"


def test_script_subtags_are_the_rows_script():
    """FLORES-200 codes (and NTREX-128's with a script or a script-deciding region) carry their script."""
    tagged = 0
    for row in _raw_rows():
        declared = codes.split_code(row["code"])[1]
        if declared is not None:
            tagged += 1
            assert row["script"] == declared, row
        if "_" in row["code"]:
            assert row["script"] == row["code"].split("_")[1], row
    assert tagged >= 185 + 7  # every FLORES-200 folder, NTREX-128's aze-Latn ... zho-TW


def test_names_unique_and_tagged():
    rows = _raw_rows()
    names = [row["name"] for row in rows]
    assert len(names) == len(set(names))
    by_code = {row["code"]: row["name"] for row in rows}
    assert by_code["ace_Arab"] == "Achinese (Arabic script)"
    assert by_code["ace_Latn"] == "Achinese (Latin script)"
    assert by_code["zho-CN"] == "Chinese (CN)"
    assert by_code["eng-GB"] == "English (GB)"
    assert by_code["srp-Cyrl"] == "Serbian (Cyrillic)" and by_code["srp_Cyrl"] == "Serbian (Cyrillic script)"
    assert by_code["amh"] == "Amharic" and by_code["eng"] == "English"


def test_a_languages_codes_share_its_class():
    """The JOSHI table is keyed by ISO 639-3, so amh, amh_Ethi (and arb_Arab, ...) cannot disagree."""
    seen: dict[str, tuple[str, str]] = {}
    for row in _raw_rows():
        key = (row["resource_class"], row["source"])
        assert seen.setdefault(row["iso639_3"], key) == key, row


def test_tatoeba_codes():
    found = tatoeba_codes()
    assert len(found) == 106 and found == sorted(found)
    assert "amh" in found and "ber" in found
    assert "bak" not in found and "eng" not in found and "amh_Ethi" not in found  # NTREX, English, FLORES
    assert set(found) <= set(load_languages())
    found.clear()
    assert tatoeba_codes()


def test_tatoeba_codes_rejects_bad_manifests(tmp_path):
    with pytest.raises(DataError):
        tatoeba_codes(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,lines\ntatoeba.amh-eng.amh,3\n", encoding="utf-8")
    with pytest.raises(DataError):
        tatoeba_codes(wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text("file,lines\ntatoeba.amh-eng.eng,3\n", encoding="utf-8")
    with pytest.raises(DataError):
        tatoeba_codes(empty)
    ok = tmp_path / "ok.csv"
    ok.write_text(
        "file,lines\ntatoeba.xho-eng.xho,3\ntatoeba.xho-eng.eng,3\ntatoeba.amh-eng.amh,1\n", encoding="utf-8"
    )
    assert tatoeba_codes(ok) == ["amh", "xho"]


@needs_data
def test_every_tatoeba_language_with_data_has_a_row():
    data = _data_dir()
    with_data = set()
    for eng in data.glob("tatoeba.*-eng.eng"):
        code = eng.name.split(".")[1].split("-")[0]
        if (data / f"tatoeba.{code}-eng.{code}").is_file():
            with_data.add(code)
    assert with_data, "no data files found"
    assert with_data == set(tatoeba_codes())
    assert with_data <= set(load_languages())


@needs_all_data
def test_every_code_of_the_three_folders_has_a_row():
    flores = {d.name for d in _folder("CLIR_FLORES200_DIR").iterdir() if (d / "test.tsv").is_file()}
    ntrex = {
        f.name[len("newstest2019-ref.") : -len(".txt")]
        for f in _folder("CLIR_NTREX128_DIR").glob("newstest2019-ref.*.txt")
    }
    assert {"amh_Ethi", "eng_Latn", "zho_Hant"} <= flores
    assert {"aze-Latn", "zho-CN", "eng-GB", "amh"} <= ntrex
    expected = set(tatoeba_codes()) | flores | ntrex | {"eng"}
    assert expected == set(load_languages())
    assert len(expected) == N_CODES


def test_scripts_are_iso15924_codes():
    for row in _raw_rows():
        assert re.fullmatch(r"[A-Z][a-z]{3}", row["script"]), row
        assert row["script"] in KNOWN_SCRIPTS, row


def test_classes_in_range_or_empty_and_sourced():
    for row in _raw_rows():
        assert row["resource_class"] in {"", "0", "1", "2", "3", "4", "5"}, row
        assert row["source"].strip(), row
        assert row["name"].strip(), row
        if row["resource_class"] == "":
            assert row["source"].startswith("not found"), row


@pytest.mark.parametrize(
    ("code", "script"),
    [
        ("amh", "Ethi"),
        ("tel", "Telu"),
        ("tam", "Taml"),
        ("tat", "Cyrl"),
        ("kab", "Latn"),
        ("xho", "Latn"),
        ("swh", "Latn"),
        ("ber", "Latn"),
        ("cmn", "Hani"),
        ("jpn", "Jpan"),
        ("kor", "Kore"),
        ("amh_Ethi", "Ethi"),
        ("kor_Hang", "Hang"),
        ("zho_Hans", "Hans"),
        ("yue_Hant", "Hant"),
        ("zho-CN", "Hans"),
        ("zho-TW", "Hant"),
        ("srp-Latn", "Latn"),
        ("bak", "Cyrl"),  # NTREX-128 without a script subtag: measured
        ("eng", "Latn"),
    ],
)
def test_known_scripts(code, script):
    assert get_language(code).script == script


def test_some_known_classes():
    expected = {
        **{"eng": 5, "deu": 5, "cmn": 5, "rus": 4, "ukr": 3, "amh": 2, "xho": 2, "tat": 1, "ber": 0},
        **{"eng_Latn": 5, "arb_Arab": 5, "zho_Hans": 5, "zho-CN": 5, "pes_Arab": 4, "fas": 4, "amh_Ethi": 2},
        **{"swh_Latn": 2, "swa": 2, "hau": 2, "npi_Deva": 1, "khk_Cyrl": 1, "aze-Latn": 1, "mos_Latn": 0},
        **{"acm_Arab": None, "bem": None, "arq": None, "kea_Latn": None},
    }
    langs = load_languages()
    for code, cls in expected.items():
        assert langs[code].resource_class == cls, code
        if cls is None:
            assert langs[code].source.startswith("not found"), code


def test_get_language_unknown_lists_valid_codes():
    with pytest.raises(UnknownNameError) as info:
        get_language("zzz")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.kind == "language" and err.name == "zzz"
    assert "amh" in err.valid and "amh_Ethi" in err.valid and len(err.valid) == N_CODES
    assert "valid:" in str(err) and "ace_Arab" in str(err)
    with pytest.raises(UnknownNameError):
        get_language("amh_Latn")  # a script the registry does not list for amh
    with pytest.raises(UnknownNameError):
        get_language(None)  # type: ignore[arg-type]


def test_get_language_is_case_insensitive():
    assert get_language(" AMH ").code == "amh"


def test_get_language_takes_dataset_codes():
    amh = get_language("amh_Ethi")
    assert amh.code == "amh_Ethi" and amh.script == "Ethi" and amh.resource_class == 2
    assert amh.label == "Amharic (Ethiopic script) (amh_Ethi)"
    assert get_language("aze-Latn").code == "aze-Latn"
    assert get_language("zho-CN").script == "Hans"
    assert get_language(" amh_ethi ").code == "amh_Ethi"  # case-insensitive when not written exactly
    assert get_language("ZHO-tw").code == "zho-TW"


def test_load_languages_types_and_fresh_copies():
    langs = load_languages()
    amh = langs["amh"]
    assert isinstance(amh, Language)
    assert amh.name == "Amharic" and amh.resource_class == 2
    assert isinstance(amh.resource_class, int)
    with pytest.raises(AttributeError):
        amh.code = "xxx"  # type: ignore[misc]
    langs.pop("amh")
    assert "amh" in load_languages()


def test_load_languages_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\namh,Amharic\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_languages(bad)
    old = tmp_path / "old.csv"  # the header before iso639_3
    old.write_text("code,name,script,resource_class,family_note,source\namh,A,Ethi,2,,s\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_languages(old)
    dup = tmp_path / "dup.csv"
    dup.write_text(",".join(COLUMNS) + "\namh,amh,A,Ethi,2,,s\namh,amh,A,Ethi,2,,s\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_languages(dup)
    case = tmp_path / "case.csv"
    case.write_text(
        ",".join(COLUMNS) + "\naze-Latn,aze,A,Latn,1,,s\naze-latn,aze,A,Latn,1,,s\n", encoding="utf-8"
    )
    with pytest.raises(DataError):
        load_languages(case)
    no_iso = tmp_path / "no_iso.csv"
    no_iso.write_text(",".join(COLUMNS) + "\namh_Ethi,,A,Ethi,2,,s\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_languages(no_iso)
    out_of_range = tmp_path / "range.csv"
    out_of_range.write_text(",".join(COLUMNS) + "\namh,amh,A,Ethi,7,,s\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_languages(out_of_range)
    good = tmp_path / "good.csv"
    good.write_text(",".join(COLUMNS) + "\namh_Ethi,amh,A,Ethi,2,,s\n", encoding="utf-8")
    assert load_languages(good)["amh_Ethi"].iso639_3 == "amh"
    with pytest.raises(DataError):
        load_languages(tmp_path / "missing.csv")


def test_resource_class_label():
    assert resource_class_label(0) == "0 The Left-Behinds"
    assert resource_class_label(1) == "1 The Scraping-Bys"
    assert resource_class_label(2) == "2 The Hopefuls"
    assert resource_class_label(3) == "3 The Rising Stars"
    assert resource_class_label(4) == "4 The Underdogs"
    assert resource_class_label(5) == "5 The Winners"
    assert resource_class_label(None) == "unclassified"
    for bad in (-1, 6, True):
        with pytest.raises(ValueError):
            resource_class_label(bad)


def test_published_reference_covers_every_language():
    ref = published_reference()
    assert set(tatoeba_codes()) <= set(ref)
    assert all(0.0 <= v <= 1.0 for v in ref.values())
    assert ref["ber"] == pytest.approx(0.107)
    ref.clear()
    assert published_reference()


def test_make_row_notes_a_script_the_code_does_not_have():
    maker = _maker()
    row = maker.make_row("srp_Cyrl", "Ovo je rečenica latinicom.", declared="Cyrl")
    assert row["script"] == "Cyrl" and row["iso639_3"] == "srp" and row["resource_class"] == "4"
    assert "script of file (Latn) differs from the code's Cyrl" in row["family_note"]
    agree = maker.make_row("zho_Hant", "這是一個句子。", declared="Hant")  # Hani measured: the same
    assert agree["script"] == "Hant" and "differs" not in agree["family_note"]
    measured = maker.make_row("bak", "Был һөйләм кириллица менән яҙылған.")
    assert measured["script"] == "Cyrl" and measured["name"] == "Bashkir"


def test_code_names():
    maker = _maker()
    assert maker.code_name("ace_Arab") == "Achinese (Arabic script)"
    assert maker.code_name("ckb-Arab") == "Central Kurdish (Arabic)"
    assert maker.code_name("zho-CN") == "Chinese (CN)"
    assert maker.code_name("fra-CA") == "French (CA)"
    assert maker.code_name("ajp_Arab") == "South Levantine Arabic (Arabic script)"  # retired ISO code
    assert maker.code_name("swh") == "Swahili (individual language)"


def test_script_shares_matches_one_regex_per_script():
    """The per-letter count equals the original one-findall-per-script count (the Tatoeba rows rely on it)."""
    maker = _maker()
    import regex

    def reference(text: str) -> dict[str, float]:
        total = len(regex.findall(r"\p{L}", text))
        counts = {}
        for sc in maker.SCRIPTS:
            n = len(regex.findall(rf"[\p{{L}}&&\p{{Script={sc}}}]", text, flags=regex.V1))
            if n:
                counts[sc] = n
        if total - sum(counts.values()):
            counts["Zzzz"] = total - sum(counts.values())
        return {sc: n / total for sc, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}

    for text in (
        "Ovo je ћирилица and Latin 123",
        "日本語のテキスト、カタカナ",
        "한국어 文章 ok",
        "Faka-Tonga ʻoku",
        "ሰላም",
    ):
        assert maker.script_shares(text) == reference(text), text
    assert maker.script_shares("123 !?") == {}


@pytest.mark.slow  # reads every file of the three data folders, twice: ~35 s
@needs_all_data
def test_csv_equals_regenerated(tmp_path):
    """``make_languages.py --check`` passes on the committed file and fails (exit 1) on a stale copy."""
    pytest.importorskip("pycountry")
    pytest.importorskip("regex")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the script finds core/ itself
    proc = subprocess.run(
        [sys.executable, str(MAKER), "--check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, "data/languages.csv is stale: rerun data/make_languages.py\n" + proc.stderr
    stale = tmp_path / "languages.csv"
    stale.write_text(LANGUAGES_CSV.read_text(encoding="utf-8").replace("amh_Ethi,amh,", "amh_Ethi,xxx,"))
    maker = _maker()
    assert maker.main(["--check", "--out", str(stale)]) == 1
