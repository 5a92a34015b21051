#!/usr/bin/env python
"""Generate ``data/languages.csv``: one row per Tatoeba language found in the data directory.

Usage::

    .venv/bin/python data/make_languages.py --data-dir $CLIR_DATA_DIR            # (re)write data/languages.csv
    .venv/bin/python data/make_languages.py --data-dir $CLIR_DATA_DIR --check    # exit 1 if it is stale

Columns (exactly): ``code,name,script,resource_class,family_note,source``.

- ``code``: the ISO 639-3 code used in the file names ``tatoeba.XXX-eng.XXX``.
- ``name``: the ISO 639-3 reference name from ``pycountry`` (Debian iso-codes); ``ber`` is not an
  ISO 639-3 code, so its ISO 639-5 collective name is used.
- ``script``: the ISO 15924 code of the script the file *actually* uses: the script (Unicode ``Script``
  property, via the ``regex`` module) of the largest share of the letters in the non-English side.
  Han is reported as ``Hani`` (no Hans/Hant split), Han+kana as ``Jpan``, Hangul(+Han) as ``Kore``.
- ``resource_class``: Joshi et al. (2020) class 0-5, from the hand table ``JOSHI`` below; empty when
  the language was not found in the taxonomy.
- ``family_note``: constructed / historical, minority scripts of 3 % of the letters or more, a
  disagreement with MTEB's script tag, and caveats about the class.
- ``source``: where the class came from, and how sure it is.

Resource classes — citation
---------------------------
Pratik Joshi, Sebastin Santy, Amar Budhiraja, Kalika Bali, Monojit Choudhury. 2020. "The State and Fate of
Linguistic Diversity and Inclusion in the NLP World". ACL 2020, pp. 6282-6293.
https://aclanthology.org/2020.acl-main.560/ . Per-language classes: the paper's companion file
https://microsoft.github.io/linguisticdiversity/assets/lang2tax.txt (lines ``language name,class``).

How the table was made: there was no internet access when this table was written, so the classes were
transcribed by hand from the copy of lang2tax kept in MaLA-LM/LangResourceAtlas,
``language-source-classification/language-source-classification-by-Joshi.json`` (commit 50ec59a). That
file keeps lang2tax's own language *names* with their class (its ISO codes were added by LLMs and are
often wrong, so only the names were used here). Its class 2-5 lists have exactly 19 / 28 / 18 / 7
languages, the counts of the paper's Table 1, so those classes are complete; its class 0-1 lists are a
few entries short of the paper's 2191 / 222, so "not found" below means "not in that transcription",
not proven absent. Nothing here has been checked against the original lang2tax.txt: do so when online.

lang2tax sometimes lists one language under two names with different classes (e.g. "west frisian" 1
and "frisian" 0); the entry under the language's usual English name is used and the other is noted.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "languages.csv"
DEFAULT_PUBLISHED = REPO_ROOT / "data" / "published" / "labse_tatoeba_mteb.csv"
COLUMNS = ["code", "name", "script", "resource_class", "family_note", "source"]

# A minority script is mentioned in family_note when it covers at least this share of the letters.
MINOR_SCRIPT_SHARE = 0.03

# ISO 15924 codes tried when attributing letters to scripts (Unicode Script property aliases).
SCRIPTS = [
    "Latn", "Cyrl", "Grek", "Armn", "Geor", "Hebr", "Arab", "Syrc", "Thaa", "Ethi", "Tfng", "Nkoo",
    "Deva", "Beng", "Guru", "Gujr", "Orya", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Tibt", "Olck",
    "Thai", "Laoo", "Khmr", "Mymr", "Java", "Bali", "Sund", "Bugi", "Tglg",
    "Hani", "Hira", "Kana", "Bopo", "Hang", "Mong", "Yiii", "Cher", "Cans", "Runr", "Goth", "Glag",
]  # fmt: skip

# code -> (class or None, lang2tax name used or None, extra note). See the module docstring.
JOSHI: dict[str, tuple[int | None, str | None, str]] = {
    # class 5 (The Winners)
    "ara": (5, "arabic", ""),
    "cmn": (5, "mandarin", ""),
    "deu": (5, "german", ""),
    "fra": (5, "french", ""),
    "jpn": (5, "japanese", ""),
    "spa": (5, "spanish", ""),
    # class 4 (The Underdogs)
    "cat": (4, "catalan", ""),
    "ces": (4, "czech", ""),
    "eus": (4, "basque", ""),
    "fin": (4, "finnish", ""),
    "hin": (4, "hindi", ""),
    "hrv": (4, "croatian", ""),
    "hun": (4, "hungarian", ""),
    "ita": (4, "italian", ""),
    "kor": (4, "korean", ""),
    "nld": (4, "dutch", ""),
    "pes": (4, "persian", "lang2tax 'persian' taken as Iranian Persian"),
    "pol": (4, "polish", ""),
    "por": (4, "portuguese", ""),
    "rus": (4, "russian", ""),
    "srp": (4, "serbian", ""),
    "swe": (4, "swedish", ""),
    "tur": (4, "turkish", ""),
    "vie": (4, "vietnamese", ""),
    # class 3 (The Rising Stars)
    "afr": (3, "afrikaans", ""),
    "arz": (3, "egyptian arabic", ""),
    "bel": (3, "belarusian", ""),
    "ben": (3, "bengali", ""),
    "bos": (3, "bosnian", ""),
    "bul": (3, "bulgarian", ""),
    "ceb": (3, "cebuano", ""),
    "dan": (3, "danish", ""),
    "ell": (3, "greek", ""),
    "est": (3, "estonian", ""),
    "glg": (3, "galician", ""),
    "heb": (3, "hebrew", ""),
    "ind": (3, "indonesian", ""),
    "kat": (3, "georgian", ""),
    "kaz": (3, "kazakh", ""),
    "lat": (3, "latin", ""),
    "lit": (3, "lithuanian", ""),
    "lvs": (3, "latvian", "lang2tax 'latvian' taken as Standard Latvian"),
    "ron": (3, "romanian", ""),
    "slk": (3, "slovak", ""),
    "slv": (3, "slovenian", "lang2tax also lists 'slovene' as 0"),
    "tam": (3, "tamil", ""),
    "tgl": (3, "tagalog", ""),
    "tha": (3, "thai", ""),
    "ukr": (3, "ukrainian", ""),
    "urd": (3, "urdu", ""),
    "uzb": (3, "uzbek", ""),
    "zsm": (3, "malay", "lang2tax 'malay' taken as Standard Malay"),
    # class 2 (The Hopefuls)
    "amh": (2, "amharic", ""),
    "gle": (2, "irish", ""),
    "isl": (2, "icelandic", ""),
    "mar": (2, "marathi", ""),
    "swh": (2, "swahili", "lang2tax 'swahili' taken as swh"),
    "xho": (2, "xhosa", ""),
    # class 1 (The Scraping-Bys)
    "ang": (1, "anglo-saxon", ""),
    "ast": (1, "asturian", ""),
    "aze": (1, "azerbaijani", ""),
    "bre": (1, "breton", ""),
    "cbk": (1, "chavacano", ""),
    "cha": (1, "chamorro", ""),
    "cor": (1, "cornish", ""),
    "csb": (1, "kashubian", ""),
    "cym": (1, "welsh", ""),
    "dsb": (1, "lower sorbian", "lang2tax also lists 'sorbian' as 0"),
    "epo": (1, "esperanto", ""),
    "fao": (1, "faroese", ""),
    "fry": (1, "west frisian", "lang2tax also lists 'frisian' as 0"),
    "gla": (1, "scottish gaelic", "lang2tax also lists 'gaelic' as 0"),
    "gsw": (1, "alemannic", "lang2tax also lists 'alsatian' as 0"),
    "hsb": (1, "upper sorbian", "lang2tax also lists 'sorbian' as 0"),
    "ido": (1, "ido", ""),
    "ile": (1, "interlingue", ""),
    "ina": (1, "interlingua", ""),
    "jav": (1, "javanese", ""),
    "kab": (1, "kabyle", ""),
    "kur": (1, "kurdish (kurmanji)", "file is Kurmanji; lang2tax lists generic 'kurdish' as 0"),
    "mal": (1, "malayalam", ""),
    "mkd": (1, "macedonian", ""),
    "mon": (1, "mongolian", "lang2tax also lists 'mongol' as 0"),
    "nno": (1, "norwegian (nynorsk)", ""),
    "nob": (1, "norwegian (bokmål)", ""),
    "oci": (1, "occitan", ""),
    "pam": (1, "kapampangan", ""),
    "pms": (1, "piedmontese", ""),
    "sqi": (1, "albanian", ""),
    "tat": (1, "tatar", ""),
    "tel": (1, "telugu", ""),
    "tuk": (1, "turkmen", ""),
    "war": (1, "waray", "lang2tax also lists 'waray-waray' as 0"),
    "wuu": (1, "wu", ""),
    "yue": (1, "cantonese", ""),
    # class 0 (The Left-Behinds)
    "awa": (0, "awadhi", ""),
    "ber": (0, "berber", ""),
    "nds": (0, "low german", ""),
    # not found in the transcription (see the module docstring)
    "arq": (None, None, "not in Joshi taxonomy: class left empty"),
    "dtp": (None, None, "not in Joshi taxonomy: class left empty"),
    "lfn": (None, None, "not in Joshi taxonomy: class left empty"),
    "max": (None, None, "not in Joshi taxonomy: class left empty"),
    "nov": (None, None, "not in Joshi taxonomy: class left empty"),
    "orv": (None, None, "not in Joshi taxonomy: class left empty"),
    "swg": (None, None, "not in Joshi taxonomy: class left empty"),
    "tzl": (None, None, "not in Joshi taxonomy: class left empty"),
}

JOSHI_VIA = "via LangResourceAtlas copy; unverified against the original"

# Names that pycountry's ISO 639-3 table cannot give.
NAME_OVERRIDES = {"ber": "Berber languages"}  # ISO 639-5 collective code, not ISO 639-3

# Script tags MTEB uses that mean the same as ours.
SCRIPT_EQUIVALENTS = {"Hani": {"Hani", "Hans", "Hant"}, "Kore": {"Kore", "Hang"}, "Jpan": {"Jpan"}}


def data_languages(data_dir: Path) -> list[str]:
    """Return the sorted codes XXX that have both ``tatoeba.XXX-eng.XXX`` and ``tatoeba.XXX-eng.eng``."""
    codes = []
    for path in data_dir.glob("tatoeba.*-eng.eng"):
        code = path.name.split(".")[1].split("-")[0]
        if (data_dir / f"tatoeba.{code}-eng.{code}").is_file():
            codes.append(code)
    return sorted(codes)


def script_shares(text: str) -> dict[str, float]:
    """Return each script's share of the letters (``\\p{L}``) in ``text``; ``Zzzz`` for unattributed ones."""
    import regex

    total = len(regex.findall(r"\p{L}", text))
    if total == 0:
        return {}
    counts = {}
    for sc in SCRIPTS:
        n = len(regex.findall(rf"[\p{{L}}&&\p{{Script={sc}}}]", text, flags=regex.V1))
        if n:
            counts[sc] = n
    rest = total - sum(counts.values())
    if rest:
        counts["Zzzz"] = rest
    return {sc: n / total for sc, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def dominant_script(shares: dict[str, float]) -> str:
    """Collapse Han/kana/Hangul into Hani/Jpan/Kore, then return the script with the largest share."""
    merged = dict(shares)
    kana = merged.pop("Hira", 0.0) + merged.pop("Kana", 0.0)
    han = merged.pop("Hani", 0.0)
    hangul = merged.pop("Hang", 0.0)
    if kana >= 0.05:
        merged["Jpan"] = merged.get("Jpan", 0.0) + kana + han
    elif hangul > 0:
        merged["Kore"] = hangul + han
        if kana:
            merged["Jpan"] = kana
    else:
        if han:
            merged["Hani"] = han
        if kana:
            merged["Jpan"] = kana
    best = max(merged.items(), key=lambda kv: (kv[1], kv[0]))[0]
    if best == "Zzzz":
        raise SystemExit("most letters belong to no known script: extend SCRIPTS")
    return best


def read_published_scripts(path: Path) -> dict[str, str]:
    """Return MTEB's script tag per language from the published-scores CSV ({} when absent)."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["lang"]: row["script"] for row in csv.DictReader(fh)}


def iso_name(code: str) -> str:
    """Return the ISO 639-3 reference name of ``code`` (overrides first)."""
    if code in NAME_OVERRIDES:
        return NAME_OVERRIDES[code]
    try:
        import pycountry
    except ImportError as exc:  # pragma: no cover - environment problem
        raise SystemExit("pycountry is needed: .venv/bin/pip install pycountry") from exc
    lang = pycountry.languages.get(alpha_3=code)
    if lang is None:
        raise SystemExit(f"{code!r} is not an ISO 639-3 code known to pycountry: add it to NAME_OVERRIDES")
    return lang.name


def iso_type(code: str) -> str:
    """Return the ISO 639-3 language type letter (L living, C constructed, H historical...) or ''."""
    import pycountry

    lang = pycountry.languages.get(alpha_3=code)
    return getattr(lang, "type", "") if lang is not None else ""


def build_rows(data_dir: Path, published: Path) -> list[dict[str, str]]:
    """Return the CSV rows, sorted by code, for every language with data files in ``data_dir``."""
    codes = data_languages(data_dir)
    if not codes:
        raise SystemExit(f"no tatoeba.XXX-eng.* files in {data_dir}")
    missing = sorted(set(codes) - set(JOSHI))
    if missing:
        raise SystemExit(f"no entry in the JOSHI hand table for: {', '.join(missing)}")
    mteb = read_published_scripts(published)
    rows = []
    for code in codes:
        text = (data_dir / f"tatoeba.{code}-eng.{code}").read_text(encoding="utf-8")
        shares = script_shares(text)
        script = dominant_script(shares)
        notes = []
        kind = iso_type(code)
        if kind == "C":
            notes.append("constructed")
        elif kind == "H":
            notes.append("historical")
        minor = [
            f"{sc} {round(100 * share)}%"
            for sc, share in shares.items()
            if share >= MINOR_SCRIPT_SHARE and sc not in {"Hani", "Hira", "Kana", "Hang", script}
        ]
        if minor:
            notes.append(f"mixed script: {script} {round(100 * shares.get(script, 0))}%, " + ", ".join(minor))
        tag = mteb.get(code)
        if tag and tag not in SCRIPT_EQUIVALENTS.get(script, {script}):
            notes.append(f"script of file differs from MTEB tag {tag}")
        cls, l2t_name, extra = JOSHI[code]
        if extra:
            notes.append(extra)
        if cls is None:
            source = f"not found in Joshi et al. 2020 lang2tax ({JOSHI_VIA})"
        else:
            source = f"Joshi et al. 2020 lang2tax '{l2t_name}' ({JOSHI_VIA})"
        rows.append(
            {
                "code": code,
                "name": iso_name(code),
                "script": script,
                "resource_class": "" if cls is None else str(cls),
                "family_note": "; ".join(notes),
                "source": source,
            }
        )
    return rows


def render(rows: list[dict[str, str]]) -> str:
    """Return the CSV text (header + rows, ``\\n`` line ends) for ``rows``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("CLIR_DATA_DIR"), help="Tatoeba v1 folder")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="CSV to write (default: data/languages.csv)")
    parser.add_argument("--published", default=str(DEFAULT_PUBLISHED), help="MTEB scores CSV (script tags)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if --out is out of date")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("give --data-dir or set CLIR_DATA_DIR")
    data_dir = Path(args.data_dir).expanduser()
    if not data_dir.is_dir():
        parser.error(f"data directory {str(data_dir)!r} does not exist")
    text = render(build_rows(data_dir, Path(args.published)))
    out = Path(args.out)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.is_file() else ""
        if current != text:
            print(f"{out} is out of date: rerun data/make_languages.py", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({text.count(chr(10)) - 1} languages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
