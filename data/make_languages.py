#!/usr/bin/env python
"""Generate ``data/languages.csv``: one row per language code of Tatoeba, FLORES-200, NTREX-128.

Usage::

    .venv/bin/python data/make_languages.py            # (re)write data/languages.csv from the three folders
    .venv/bin/python data/make_languages.py --check    # exit 1 if it is stale

The folders are ``--data-dir`` (Tatoeba v1, default ``$CLIR_DATA_DIR``), ``--flores-dir`` (SIB-200's
FLORES-200 sentences, default ``$CLIR_FLORES200_DIR``) and ``--ntrex-dir`` (NTREX-128, default
``$CLIR_NTREX128_DIR``); all three are needed, since the file covers all three datasets.

Rows: every Tatoeba code (``tatoeba.XXX-eng.XXX``), every FLORES-200 folder (``amh_Ethi/``, ``eng_Latn``
included), every NTREX-128 reference file (``newstest2019-ref.<code>.txt``: ``amh``, ``aze-Latn``, ``zho-CN``,
``eng-GB``; not ``newstest2019-ref-2.spa.txt``, a second Spanish reference) and ``eng``, keyed by the dataset's
own code and sorted by it. A plain code that Tatoeba and NTREX-128 share (``amh``) is one row, made from the
Tatoeba file as before the other datasets came; ``eng`` is measured on NTREX-128's English source.

Columns (exactly): ``code,iso639_3,name,script,resource_class,family_note,source``.

- ``code``: the dataset's own code: ISO 639-3 in Tatoeba's file names, ISO 639-3 + ``_`` + ISO 15924 in
  FLORES-200's folder names, ISO 639-3 optionally + ``-`` + script or region in NTREX-128's file names.
- ``iso639_3``: the ISO 639-3 part of the code (``core.datasets.codes.iso639_3``): ``amh_Ethi`` -> ``amh``.
- ``name``: the ISO 639-3 reference name of ``iso639_3`` from ``pycountry`` (Debian iso-codes); ``ber`` is not
  an ISO 639-3 code, so its ISO 639-5 collective name is used, and ``ajp`` (retired from ISO 639-3 in 2023,
  merged into ``apc``) gets its former name. A FLORES-200 code gets its script appended (``"Achinese (Arabic
  script)"``), an NTREX-128 code its script as NTREX-128's own language list writes it (``"Serbian
  (Cyrillic)"``, so ``ckb_Arab`` and ``ckb-Arab`` differ) or its region (``"Chinese (CN)"``, ``"English
  (GB)"``): one name per code.
- ``script``: an ISO 15924 code. Tatoeba codes and NTREX-128 codes without a script: the script the file
  *actually* uses: the script (Unicode ``Script`` property, via the ``regex`` module) of the largest share of
  the letters in the non-English side. Han is reported as ``Hani`` (no Hans/Hant split), Han+kana as
  ``Jpan``, Hangul(+Han) as ``Kore``. FLORES-200 codes and NTREX-128 codes with a script subtag: that
  subtag, and the region ``zho-CN``/``zho-TW`` gives ``Hans``/``Hant`` (``core.datasets.codes.split_code``);
  their file is measured as well, and a disagreement is noted (``Hans``/``Hant`` agree with ``Hani``,
  ``Hang`` with ``Kore``).
- ``resource_class``: Joshi et al. (2020) class 0-5, from the hand table ``JOSHI`` below, keyed by
  ``iso639_3`` (a language's Tatoeba, FLORES-200 and NTREX-128 codes share its class); empty when the
  language was not found in the taxonomy.
- ``family_note``: constructed / historical, minority scripts of 3 % of the letters or more, a
  disagreement with MTEB's script tag (Tatoeba) or with the code's script (FLORES-200, NTREX-128), and
  caveats about the class.
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

The FLORES-200 and NTREX-128 languages were added the same way, from the same file (commit 50ec59a, read
from GitHub this time; its later copy ``Joshi-et-al/Joshi-et-al-6-classes.json`` holds the same names and
classes), by name, with the ISO 639-3 reference names (pycountry) as the guide:

- An individual language of a macrolanguage takes the macrolanguage's usual entry, as Tatoeba's ``pes``,
  ``lvs``, ``zsm`` and ``swh`` did: ``arb`` "arabic", ``azj`` "azerbaijani", ``als`` "albanian", ``khk``
  "mongolian", ``npi`` "nepali", ``uzn`` "uzbek", ``gaz`` "oromo", ``plt`` "malagasy", ``pbt`` "pashto",
  ``ayr`` "aymara", ``quy`` "quechua", ``dik`` "dinka"; the note says so. Where lang2tax has an entry of
  the individual language itself, that one is used (``azb`` "southern azerbaijani", ``prs`` "dari",
  ``ckb`` "kurdish (sorani)", ``kmr`` "kurdish (kurmanji)").
- Regional Arabic varieties without their own entry (``acm``, ``acq``, ``aeb``, ``ajp``, ``apc``, ``ars``,
  ``ary``) stay unclassified, as Tatoeba's ``arq`` did: "arabic" is not theirs.
- lang2tax has no "chinese": ``zho`` (written Chinese, FLORES-200's and NTREX-128's ``zho_Hans``, ``zho-CN``
  ...) takes "mandarin", and ``fil`` (Filipino) takes "tagalog", its standardized form.
- Less certain matches say so in the note (``hmn`` "hmong daw", ``lua`` "bena-lulua", ``taq`` "tamashek").
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import os
import re
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: core/ is found from the repository, wherever the cwd

from core.datasets.codes import iso639_3, split_code  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "data" / "languages.csv"
DEFAULT_PUBLISHED = REPO_ROOT / "data" / "published" / "labse_tatoeba_mteb.csv"
COLUMNS = ["code", "iso639_3", "name", "script", "resource_class", "family_note", "source"]

# A minority script is mentioned in family_note when it covers at least this share of the letters.
MINOR_SCRIPT_SHARE = 0.03

# ISO 15924 codes tried when attributing letters to scripts (Unicode Script property aliases).
SCRIPTS = [
    "Latn", "Cyrl", "Grek", "Armn", "Geor", "Hebr", "Arab", "Syrc", "Thaa", "Ethi", "Tfng", "Nkoo",
    "Deva", "Beng", "Guru", "Gujr", "Orya", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Tibt", "Olck",
    "Thai", "Laoo", "Khmr", "Mymr", "Java", "Bali", "Sund", "Bugi", "Tglg",
    "Hani", "Hira", "Kana", "Bopo", "Hang", "Mong", "Yiii", "Cher", "Cans", "Runr", "Goth", "Glag",
]  # fmt: skip

# The note of a language not in the taxonomy, and of a regional Arabic variety (see the module docstring).
NOT_FOUND = "not in Joshi taxonomy: class left empty"
ARABIC_VARIETY = NOT_FOUND + " (a regional Arabic variety: 'arabic' is not applied, as for arq)"

# ISO 639-3 code -> (class or None, lang2tax name used or None, extra note). See the module docstring.
JOSHI: dict[str, tuple[int | None, str | None, str]] = {
    # class 5 (The Winners)
    "ara": (5, "arabic", ""),
    "arb": (5, "arabic", "lang2tax 'arabic' taken as Standard Arabic"),
    "cmn": (5, "mandarin", ""),
    "deu": (5, "german", ""),
    "eng": (5, "english", ""),
    "fra": (5, "french", ""),
    "jpn": (5, "japanese", ""),
    "spa": (5, "spanish", ""),
    "zho": (5, "mandarin", "lang2tax has no 'chinese': 'mandarin' taken as written Chinese"),
    # class 4 (The Underdogs)
    "cat": (4, "catalan", ""),
    "ces": (4, "czech", ""),
    "eus": (4, "basque", ""),
    "fas": (4, "persian", ""),
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
    "fil": (3, "tagalog", "lang2tax has no 'filipino': 'tagalog' taken as Filipino, its standardized form"),
    "glg": (3, "galician", ""),
    "heb": (3, "hebrew", ""),
    "ind": (3, "indonesian", ""),
    "kat": (3, "georgian", ""),
    "kaz": (3, "kazakh", ""),
    "lat": (3, "latin", ""),
    "lav": (3, "latvian", ""),
    "lit": (3, "lithuanian", ""),
    "lvs": (3, "latvian", "lang2tax 'latvian' taken as Standard Latvian"),
    "msa": (3, "malay", ""),
    "ron": (3, "romanian", ""),
    "slk": (3, "slovak", ""),
    "slv": (3, "slovenian", "lang2tax also lists 'slovene' as 0"),
    "tam": (3, "tamil", ""),
    "tgl": (3, "tagalog", ""),
    "tha": (3, "thai", ""),
    "ukr": (3, "ukrainian", ""),
    "urd": (3, "urdu", ""),
    "uzb": (3, "uzbek", ""),
    "uzn": (3, "uzbek", "lang2tax 'uzbek' taken as Northern Uzbek"),
    "zsm": (3, "malay", "lang2tax 'malay' taken as Standard Malay"),
    # class 2 (The Hopefuls)
    "amh": (2, "amharic", ""),
    "gle": (2, "irish", ""),
    "hat": (2, "haitian", "lang2tax also lists 'haitian creole' as 0"),
    "hau": (2, "hausa", ""),
    "isl": (2, "icelandic", ""),
    "mar": (2, "marathi", ""),
    "mlt": (2, "maltese", ""),
    "pan": (2, "eastern punjabi", ""),
    "san": (2, "sanskrit", ""),
    "swa": (2, "swahili", ""),
    "swh": (2, "swahili", "lang2tax 'swahili' taken as swh"),
    "tsn": (2, "tswana", ""),
    "xho": (2, "xhosa", ""),
    "yor": (2, "yoruba", ""),
    "zul": (2, "zulu", ""),
    # class 1 (The Scraping-Bys)
    "ace": (1, "acehnese", ""),
    "aka": (1, "akan", ""),
    "als": (1, "albanian", "lang2tax 'albanian' taken as Tosk Albanian"),
    "ang": (1, "anglo-saxon", ""),
    "asm": (1, "assamese", ""),
    "ast": (1, "asturian", ""),
    "ayr": (1, "aymara", "lang2tax 'aymara' taken as Central Aymara"),
    "azb": (1, "southern azerbaijani", ""),
    "aze": (1, "azerbaijani", ""),
    "azj": (1, "azerbaijani", "lang2tax 'azerbaijani' taken as North Azerbaijani"),
    "bak": (1, "bashkir", ""),
    "bam": (1, "bambara", ""),
    "bho": (1, "bhojpuri", ""),
    "bjn": (1, "banjar", ""),
    "bre": (1, "breton", ""),
    "bug": (1, "buginese", "lang2tax also lists 'bugis' as 0"),
    "cbk": (1, "chavacano", ""),
    "cha": (1, "chamorro", ""),
    "ckb": (1, "kurdish (sorani)", "lang2tax lists generic 'kurdish' as 0"),
    "cor": (1, "cornish", ""),
    "crh": (1, "crimean tatar", ""),
    "csb": (1, "kashubian", ""),
    "cym": (1, "welsh", ""),
    "dik": (1, "dinka", "lang2tax 'dinka' taken as Southwestern Dinka"),
    "dsb": (1, "lower sorbian", "lang2tax also lists 'sorbian' as 0"),
    "epo": (1, "esperanto", ""),
    "fao": (1, "faroese", ""),
    "fij": (1, "fijian", ""),
    "fry": (1, "west frisian", "lang2tax also lists 'frisian' as 0"),
    "fur": (1, "friulian", ""),
    "gaz": (1, "oromo", "lang2tax 'oromo' taken as West Central Oromo"),
    "gla": (1, "scottish gaelic", "lang2tax also lists 'gaelic' as 0"),
    "grn": (1, "guarani", "lang2tax also lists 'guaraní' as 0"),
    "gsw": (1, "alemannic", "lang2tax also lists 'alsatian' as 0"),
    "guj": (1, "gujarati", ""),
    "hsb": (1, "upper sorbian", "lang2tax also lists 'sorbian' as 0"),
    "ibo": (1, "igbo", ""),
    "ido": (1, "ido", ""),
    "ile": (1, "interlingue", ""),
    "ilo": (1, "ilocano", ""),
    "ina": (1, "interlingua", ""),
    "jav": (1, "javanese", ""),
    "kab": (1, "kabyle", ""),
    "kan": (1, "kannada", ""),
    "kas": (1, "kashmiri", ""),
    "khk": (
        1,
        "mongolian",
        "lang2tax 'mongolian' taken as Halh Mongolian; it also lists 'khalkha' and 'mongol' as 0",
    ),
    "kik": (1, "kikuyu", ""),
    "kin": (1, "kinyarwanda", ""),
    "kir": (1, "kirghiz", ""),
    "kmr": (1, "kurdish (kurmanji)", "lang2tax also lists 'kurmanji' and generic 'kurdish' as 0"),
    "kon": (1, "kongo", ""),
    "kur": (1, "kurdish (kurmanji)", "file is Kurmanji; lang2tax lists generic 'kurdish' as 0"),
    "lij": (1, "ligurian", ""),
    "lim": (1, "limburgish", ""),
    "lin": (1, "lingala", ""),
    "lmo": (1, "lombard", ""),
    "ltg": (1, "latgalian", ""),
    "ltz": (1, "luxembourgish", "lang2tax also lists 'luxemburgeois' as 0"),
    "lug": (1, "luganda", ""),
    "mai": (1, "maithili", ""),
    "mal": (1, "malayalam", ""),
    "min": (1, "minangkabau", ""),
    "mkd": (1, "macedonian", ""),
    "mlg": (1, "malagasy", ""),
    "mon": (1, "mongolian", "lang2tax also lists 'mongol' as 0"),
    "mri": (1, "maori", ""),
    "nep": (1, "nepali", ""),
    "nno": (1, "norwegian (nynorsk)", ""),
    "nob": (1, "norwegian (bokmål)", ""),
    "npi": (1, "nepali", "lang2tax 'nepali' taken as Nepali (individual language)"),
    "nso": (1, "northern sotho", ""),
    "nya": (1, "chichewa", ""),
    "oci": (1, "occitan", ""),
    "orm": (1, "oromo", ""),
    "ory": (1, "odia", ""),
    "pag": (1, "pangasinan", ""),
    "pam": (1, "kapampangan", ""),
    "pap": (1, "papiamentu", ""),
    "pbt": (1, "pashto", "lang2tax 'pashto' taken as Southern Pashto"),
    "plt": (1, "malagasy", "lang2tax 'malagasy' taken as Plateau Malagasy"),
    "pms": (1, "piedmontese", ""),
    "pus": (1, "pashto", ""),
    "quy": (1, "quechua", "lang2tax 'quechua' taken as Ayacucho Quechua"),
    "run": (1, "kirundi", ""),
    "sag": (1, "sango", ""),
    "scn": (1, "sicilian", ""),
    "smo": (1, "samoan", ""),
    "sna": (1, "shona", ""),
    "snd": (1, "sindhi", ""),
    "som": (1, "somali", ""),
    "sqi": (1, "albanian", ""),
    "srd": (1, "sardinian", ""),
    "ssw": (1, "swati", ""),
    "sun": (1, "sundanese", ""),
    "szl": (1, "silesian", ""),
    "tah": (1, "tahitian", ""),
    "tat": (1, "tatar", ""),
    "tel": (1, "telugu", ""),
    "tgk": (1, "tajik", ""),
    "ton": (1, "tongan", ""),
    "tpi": (1, "tok pisin", ""),
    "tso": (1, "tsonga", ""),
    "tuk": (1, "turkmen", ""),
    "tum": (1, "tumbuka", ""),
    "twi": (1, "twi", ""),
    "vec": (1, "venetian", ""),
    "ven": (1, "venda", ""),
    "war": (1, "waray", "lang2tax also lists 'waray-waray' as 0"),
    "wuu": (1, "wu", ""),
    "yue": (1, "cantonese", ""),
    # class 0 (The Left-Behinds)
    "awa": (0, "awadhi", ""),
    "ban": (0, "balinese", ""),
    "ber": (0, "berber", ""),
    "dyu": (0, "dyula", ""),
    "fuc": (
        0,
        "fulah",
        "lang2tax 'fulah' (ISO's name of the macrolanguage) taken as Pulaar; "
        "it also lists 'fula' as 1 and 'fulfulde' as 0",
    ),
    "fuv": (
        0,
        "fulfulde",
        "lang2tax 'fulfulde' taken as Nigerian Fulfulde; it also lists 'fula' as 1 and 'fulah' as 0",
    ),
    "hmn": (
        0,
        "hmong daw",
        "less certain: NTREX's Hmong text taken as Hmong Daw (White Hmong); lang2tax's 'hmong njua' is 0 too",
    ),
    "lua": (
        0,
        "bena-lulua",
        "less certain: lang2tax 'bena-lulua' taken as Luba-Lulua (Tshiluba), by that alternative name",
    ),
    "lus": (0, "mizo", ""),
    "mag": (0, "magahi", ""),
    "mos": (0, "mooré", ""),
    "nde": (0, "ndebele", "lang2tax 'ndebele' taken as North Ndebele"),
    "nds": (0, "low german", ""),
    "nus": (0, "nuer", ""),
    "prs": (0, "dari", ""),
    "shi": (0, "tashlhiyt", ""),
    "sot": (0, "southern sotho", "lang2tax also lists 'sesotho' as 1"),
    "taq": (0, "tamashek", "less certain: lang2tax 'tamashek' (Tuareg, Tamashek) taken as Tamasheq"),
    "umb": (0, "umbundu", ""),
    # not found in the transcription (see the module docstring)
    "acm": (None, None, ARABIC_VARIETY),
    "acq": (None, None, ARABIC_VARIETY),
    "aeb": (None, None, ARABIC_VARIETY),
    "ajp": (None, None, ARABIC_VARIETY),
    "apc": (None, None, ARABIC_VARIETY),
    "arq": (None, None, NOT_FOUND),
    "ars": (None, None, ARABIC_VARIETY),
    "ary": (None, None, ARABIC_VARIETY),
    "bem": (None, None, NOT_FOUND),
    "cjk": (None, None, NOT_FOUND),
    "dtp": (None, None, NOT_FOUND),
    "hne": (None, None, NOT_FOUND),
    "kac": (None, None, NOT_FOUND),
    "kam": (None, None, NOT_FOUND),
    "kea": (None, None, NOT_FOUND),
    "kmb": (None, None, NOT_FOUND),
    "knc": (None, None, NOT_FOUND),
    "lfn": (None, None, NOT_FOUND),
    "luo": (None, None, NOT_FOUND),
    "max": (None, None, NOT_FOUND),
    "mey": (None, None, NOT_FOUND),
    "nov": (None, None, NOT_FOUND),
    "orv": (None, None, NOT_FOUND),
    "swg": (None, None, NOT_FOUND),
    "tzl": (None, None, NOT_FOUND),
}

JOSHI_VIA = "via LangResourceAtlas copy; unverified against the original"

# Names that pycountry's ISO 639-3 table cannot give.
NAME_OVERRIDES = {
    "ber": "Berber languages",  # ISO 639-5 collective code, not ISO 639-3
    "ajp": "South Levantine Arabic",  # retired from ISO 639-3 in 2023 (merged into apc); FLORES-200 keeps it
}

# How a code's script subtag is written in its name ("Achinese (Arabic script)").
SCRIPT_NAMES = {
    "Arab": "Arabic", "Beng": "Bengali", "Cyrl": "Cyrillic", "Deva": "Devanagari", "Ethi": "Ethiopic",
    "Geor": "Georgian", "Grek": "Greek", "Gujr": "Gujarati", "Guru": "Gurmukhi", "Hang": "Hangul",
    "Hans": "Simplified Han", "Hant": "Traditional Han", "Hebr": "Hebrew", "Jpan": "Japanese",
    "Khmr": "Khmer", "Knda": "Kannada", "Latn": "Latin", "Mlym": "Malayalam", "Mymr": "Myanmar",
    "Orya": "Odia", "Sinh": "Sinhala", "Taml": "Tamil", "Telu": "Telugu", "Tfng": "Tifinagh",
    "Thai": "Thai", "Tibt": "Tibetan",
}  # fmt: skip

# Script tags (MTEB's, or a code's subtag) that mean the same as the measured one.
SCRIPT_EQUIVALENTS = {"Hani": {"Hani", "Hans", "Hant"}, "Kore": {"Kore", "Hang"}, "Jpan": {"Jpan"}}

FLORES_SPLITS = ("train", "dev", "test")
NTREX_ENGLISH = "newstest2019-src.eng.txt"
_FLORES_CODE = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")
_NTREX_FILE = re.compile(r"newstest2019-ref\.([a-z]{3}(?:-[A-Za-z0-9]+)?)\.txt")


def data_languages(data_dir: Path) -> list[str]:
    """Return the sorted codes XXX that have both ``tatoeba.XXX-eng.XXX`` and ``tatoeba.XXX-eng.eng``."""
    codes = []
    for path in data_dir.glob("tatoeba.*-eng.eng"):
        code = path.name.split(".")[1].split("-")[0]
        if (data_dir / f"tatoeba.{code}-eng.{code}").is_file():
            codes.append(code)
    return sorted(codes)


def flores_codes(flores_dir: Path) -> list[str]:
    """Return the sorted FLORES-200 codes (``amh_Ethi``, ``eng_Latn`` included) with a split file."""
    return sorted(
        d.name
        for d in flores_dir.iterdir()
        if d.is_dir()
        and _FLORES_CODE.fullmatch(d.name)
        and any((d / f"{s}.tsv").is_file() for s in FLORES_SPLITS)
    )


def flores_text(flores_dir: Path, code: str) -> str:
    """Return the ``text`` column of every split file of ``code``, one sentence a line."""
    texts = []
    for split in FLORES_SPLITS:
        file = flores_dir / code / f"{split}.tsv"
        if file.is_file():
            lines = file.read_text(encoding="utf-8-sig").splitlines()[1:]  # the header
            texts.extend(line.split("\t", 2)[2] for line in lines if line.count("\t") >= 2)
    return "\n".join(texts)


def ntrex_codes(ntrex_dir: Path) -> list[str]:
    """Return the sorted NTREX-128 codes of ``newstest2019-ref.<code>.txt`` (not ``ref-2``, a second one)."""
    return sorted(
        m.group(1) for f in ntrex_dir.iterdir() if (m := _NTREX_FILE.fullmatch(f.name)) and f.is_file()
    )


def ntrex_text(ntrex_dir: Path, code: str) -> str:
    """Return the text of ``code``'s reference file (``eng``: the English source)."""
    name = NTREX_ENGLISH if code == "eng" else f"newstest2019-ref.{code}.txt"
    return (ntrex_dir / name).read_text(encoding="utf-8-sig")


@functools.cache
def _script_of(letter: str) -> str:
    import regex

    for sc in SCRIPTS:
        if regex.match(rf"\p{{Script={sc}}}", letter):
            return sc
    return "Zzzz"


def script_shares(text: str) -> dict[str, float]:
    """Return each script's share of the letters (``\\p{L}``) in ``text``; ``Zzzz`` for unattributed ones."""
    import regex

    letters = Counter(regex.findall(r"\p{L}", text))
    total = sum(letters.values())
    if total == 0:
        return {}
    counts: Counter[str] = Counter()
    for letter, n in letters.items():  # one Script per code point, so each letter counts for one script
        counts[_script_of(letter)] += n
    return {sc: n / total for sc, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def merged_shares(shares: dict[str, float]) -> dict[str, float]:
    """Return ``shares`` with Han/kana/Hangul collapsed into Hani, Jpan (kana 5 % or more) or Kore (Hangul)."""
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
    return merged


def dominant_script(shares: dict[str, float]) -> str:
    """Collapse Han/kana/Hangul into Hani/Jpan/Kore, then return the script with the largest share."""
    best = max(merged_shares(shares).items(), key=lambda kv: (kv[1], kv[0]))[0]
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


def code_name(code: str) -> str:
    """Return the name of a dataset's code: its ISO name, with its script or region appended.

    FLORES-200 codes (``_`` + script) get ``"(Arabic script)"``; NTREX-128 codes (``-`` + tag) get the
    script's name as NTREX-128's own language list writes it (``"Serbian (Cyrillic)"``) or the region
    (``"Chinese (CN)"``), so that ``ckb_Arab`` and ``ckb-Arab`` have names of their own.
    """
    iso, script = split_code(code)
    tag = code[len(iso) + 1 :]
    if not tag:
        return iso_name(iso)
    if tag != script:  # a region (zho-CN, eng-GB)
        return f"{iso_name(iso)} ({tag})"
    if script not in SCRIPT_NAMES:
        raise SystemExit(f"no name for script {script!r} of {code!r}: add it to SCRIPT_NAMES")
    if code[len(iso)] == "_":
        return f"{iso_name(iso)} ({SCRIPT_NAMES[script]} script)"
    return f"{iso_name(iso)} ({SCRIPT_NAMES[script]})"


def iso_type(code: str) -> str:
    """Return the ISO 639-3 language type letter (L living, C constructed, H historical...) or ''."""
    import pycountry

    lang = pycountry.languages.get(alpha_3=code)
    return getattr(lang, "type", "") if lang is not None else ""


def make_row(
    code: str, text: str, *, declared: str | None = None, mteb_tag: str | None = None
) -> dict[str, str]:
    """Return the CSV row of ``code`` whose data file holds ``text``.

    ``declared`` is the script the code names (FLORES-200, NTREX-128's ``srp-Cyrl``, ``zho-CN``): it is the
    row's script, and a measured majority script that disagrees is noted. Without it the measured script
    is the row's. ``mteb_tag`` (Tatoeba) is MTEB's script tag, noted when it disagrees.
    """
    iso = iso639_3(code)
    shares = script_shares(text)
    measured = dominant_script(shares)
    notes = []
    kind = iso_type(iso)
    if kind == "C":
        notes.append("constructed")
    elif kind == "H":
        notes.append("historical")
    minor = [
        f"{sc} {round(100 * share)}%"
        for sc, share in shares.items()
        if share >= MINOR_SCRIPT_SHARE and sc not in {"Hani", "Hira", "Kana", "Hang", measured}
    ]
    if minor:
        share = merged_shares(shares)[measured]  # Kore is Hangul + Han, Jpan kana + Han
        notes.append(f"mixed script: {measured} {round(100 * share)}%, " + ", ".join(minor))
    if mteb_tag and mteb_tag not in SCRIPT_EQUIVALENTS.get(measured, {measured}):
        notes.append(f"script of file differs from MTEB tag {mteb_tag}")
    if declared and declared not in SCRIPT_EQUIVALENTS.get(measured, {measured}):
        notes.append(f"script of file ({measured}) differs from the code's {declared}")
    cls, l2t_name, extra = JOSHI[iso]
    if extra:
        notes.append(extra)
    if cls is None:
        source = f"not found in Joshi et al. 2020 lang2tax ({JOSHI_VIA})"
    else:
        source = f"Joshi et al. 2020 lang2tax '{l2t_name}' ({JOSHI_VIA})"
    return {
        "code": code,
        "iso639_3": iso,
        "name": code_name(code),
        "script": declared or measured,
        "resource_class": "" if cls is None else str(cls),
        "family_note": "; ".join(notes),
        "source": source,
    }


def build_rows(data_dir: Path, flores_dir: Path, ntrex_dir: Path, published: Path) -> list[dict[str, str]]:
    """Return the CSV rows, sorted by code, for every language code of the three folders, and ``eng``.

    A plain code of both Tatoeba and NTREX-128 gets its Tatoeba row; ``eng`` is measured on NTREX-128's
    English source.
    """
    tatoeba = data_languages(data_dir)
    if not tatoeba:
        raise SystemExit(f"no tatoeba.XXX-eng.* files in {data_dir}")
    flores = flores_codes(flores_dir)
    if not flores:
        raise SystemExit(f"no FLORES-200 language folders (amh_Ethi/{{train,dev,test}}.tsv) in {flores_dir}")
    ntrex = ntrex_codes(ntrex_dir)
    if not ntrex:
        raise SystemExit(f"no NTREX-128 files (newstest2019-ref.XXX.txt) in {ntrex_dir}")
    if not (ntrex_dir / NTREX_ENGLISH).is_file():
        raise SystemExit(f"no NTREX-128 English source ({NTREX_ENGLISH}) in {ntrex_dir}")
    bad = [c for c in tatoeba + flores + ntrex if not _valid(c)]
    if bad:
        raise SystemExit(f"not a language code (see core.datasets.codes.split_code): {', '.join(bad)}")
    missing = sorted({iso639_3(c) for c in [*tatoeba, *flores, *ntrex, "eng"]} - set(JOSHI))
    if missing:
        raise SystemExit(f"no entry in the JOSHI hand table for: {', '.join(missing)}")
    mteb = read_published_scripts(published)
    rows: dict[str, dict[str, str]] = {}
    for code in tatoeba:
        text = (data_dir / f"tatoeba.{code}-eng.{code}").read_text(encoding="utf-8")
        rows[code] = make_row(code, text, mteb_tag=mteb.get(code))
    for code in flores:
        rows[code] = make_row(code, flores_text(flores_dir, code), declared=split_code(code)[1])
    for code in [*ntrex, "eng"]:
        if code not in rows:
            rows[code] = make_row(code, ntrex_text(ntrex_dir, code), declared=split_code(code)[1])
    names = Counter(row["name"] for row in rows.values())
    twice = sorted(code for code, row in rows.items() if names[row["name"]] > 1)
    if twice:
        raise SystemExit(f"codes with the same name: {', '.join(twice)}: extend code_name")
    return [rows[code] for code in sorted(rows)]


def _valid(code: str) -> bool:
    try:
        split_code(code)
    except ValueError:
        return False
    return True


def render(rows: list[dict[str, str]]) -> str:
    """Return the CSV text (header + rows, ``\\n`` line ends) for ``rows``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _folder(parser: argparse.ArgumentParser, raw: str | None, option: str, variable: str) -> Path:
    if not raw:
        parser.error(f"give {option} or set {variable}")
    path = Path(raw).expanduser()
    if not path.is_dir():
        parser.error(f"{option} folder {str(path)!r} does not exist")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("CLIR_DATA_DIR"), help="Tatoeba v1 folder")
    parser.add_argument(
        "--flores-dir", default=os.environ.get("CLIR_FLORES200_DIR"), help="SIB-200 (FLORES-200) folder"
    )
    parser.add_argument("--ntrex-dir", default=os.environ.get("CLIR_NTREX128_DIR"), help="NTREX-128 folder")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="CSV to write (default: data/languages.csv)")
    parser.add_argument("--published", default=str(DEFAULT_PUBLISHED), help="MTEB scores CSV (script tags)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if --out is out of date")
    args = parser.parse_args(argv)
    data_dir = _folder(parser, args.data_dir, "--data-dir", "CLIR_DATA_DIR")
    flores_dir = _folder(parser, args.flores_dir, "--flores-dir", "CLIR_FLORES200_DIR")
    ntrex_dir = _folder(parser, args.ntrex_dir, "--ntrex-dir", "CLIR_NTREX128_DIR")
    text = render(build_rows(data_dir, flores_dir, ntrex_dir, Path(args.published)))
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
