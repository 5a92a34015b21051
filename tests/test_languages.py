"""Tests of the language registry (data/languages.csv, data/make_languages.py, core/languages.py)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import DataError, UnknownNameError
from core.languages import (
    COLUMNS,
    LANGUAGES_CSV,
    Language,
    get_language,
    load_languages,
    published_reference,
    resource_class_label,
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


def _data_dir() -> Path | None:
    raw = os.environ.get("CLIR_DATA_DIR")
    return Path(raw) if raw and Path(raw).is_dir() else None


needs_data = pytest.mark.skipif(_data_dir() is None, reason="CLIR_DATA_DIR unset or missing")


def _raw_rows() -> list[dict[str, str]]:
    with LANGUAGES_CSV.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_header_is_exact():
    first = LANGUAGES_CSV.read_text(encoding="utf-8").splitlines()[0]
    assert first == "code,name,script,resource_class,family_note,source"


def test_codes_unique_and_well_formed():
    codes = [row["code"] for row in _raw_rows()]
    assert len(codes) == len(set(codes))
    assert len(codes) == 106
    assert all(re.fullmatch(r"[a-z]{3}", c) for c in codes)


@needs_data
def test_every_language_with_data_has_a_row():
    data = _data_dir()
    with_data = set()
    for eng in data.glob("tatoeba.*-eng.eng"):
        code = eng.name.split(".")[1].split("-")[0]
        if (data / f"tatoeba.{code}-eng.{code}").is_file():
            with_data.add(code)
    assert with_data, "no data files found"
    assert with_data == set(load_languages())


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
    ],
)
def test_known_scripts(code, script):
    assert get_language(code).script == script


def test_some_known_classes():
    expected = {"eng": None, "deu": 5, "cmn": 5, "rus": 4, "ukr": 3, "amh": 2, "xho": 2, "tat": 1, "ber": 0}
    langs = load_languages()
    for code, cls in expected.items():
        if cls is None:
            assert code not in langs  # English is the target side, not a query language
        else:
            assert langs[code].resource_class == cls, code


def test_get_language_unknown_lists_valid_codes():
    with pytest.raises(UnknownNameError) as info:
        get_language("zzz")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.kind == "language" and err.name == "zzz"
    assert "amh" in err.valid and len(err.valid) == 106
    assert "valid:" in str(err) and "afr" in str(err)


def test_get_language_is_case_insensitive():
    assert get_language(" AMH ").code == "amh"


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
    dup = tmp_path / "dup.csv"
    dup.write_text(",".join(COLUMNS) + "\namh,A,Ethi,2,,s\namh,A,Ethi,2,,s\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_languages(dup)
    out_of_range = tmp_path / "range.csv"
    out_of_range.write_text(",".join(COLUMNS) + "\namh,A,Ethi,7,,s\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_languages(out_of_range)
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
    assert set(load_languages()) <= set(ref)
    assert all(0.0 <= v <= 1.0 for v in ref.values())
    assert ref["ber"] == pytest.approx(0.107)
    ref.clear()
    assert published_reference()


@needs_data
def test_csv_equals_regenerated(tmp_path):
    pytest.importorskip("pycountry")
    pytest.importorskip("regex")
    out = tmp_path / "languages.csv"
    proc = subprocess.run(
        [sys.executable, str(MAKER), "--data-dir", str(_data_dir()), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8") == LANGUAGES_CSV.read_text(encoding="utf-8"), (
        "data/languages.csv is stale: rerun data/make_languages.py"
    )
