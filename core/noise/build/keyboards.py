"""Generate ``core/noise/data/keyboards_xkb.json`` from Debian's xkeyboard-config (package ``xkb-data``).

Usage: ``python -m core.noise.build.keyboards [--xkb /usr/share/X11/xkb] [--keysymdef PATH] [--check]``.

Reads the rules file ``rules/evdev.xml`` (every layout and variant with its ISO 639 language list) and the
``symbols/`` files (``include`` statements resolved recursively, keys at shift levels 1 and 2), turns
keysym names into characters with X11's ``keysymdef.h`` (``Uxxxx`` and ``0x100xxxx`` keysyms directly),
and writes one JSON table with the keys of every layout some language maps to. The noise library only
reads the generated (vendored) file, so neither run time nor CI needs xkb-data; ``--check`` exits 1
when the vendored file differs from what the installed xkb-data gives.

Language -> layout: for each ISO 639 code listed in the rules, the plain layout (no variant) that
lists it, preferring a description without a parenthesis ("German" over "German (Austria)"), then
fewer languages, then rules order; else the first variant that lists it. :data:`OVERRIDES` replaces
or adds entries where that rule picks badly or a Tatoeba code is a member of a listed macrolanguage.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from fontTools.unicodedata import script as char_script

XKB = Path("/usr/share/X11/xkb")
KEYSYMDEF = Path("/usr/include/X11/keysymdef.h")
OUT = Path(__file__).resolve().parents[1] / "data" / "keyboards_xkb.json"

#: Key codes kept and their physical place: (row, column). Rows: number row, top, home, bottom.
#: <BKSL> sits at the end of the top row (ANSI); <LSGT> is the ISO key left of <AB01>.
KEY_PLACES: dict[str, tuple[int, int]] = {
    "TLDE": (0, 0),
    **{f"AE{k:02d}": (0, k) for k in range(1, 13)},
    **{f"AD{k:02d}": (1, k - 1) for k in range(1, 13)},
    "BKSL": (1, 12),
    **{f"AC{k:02d}": (2, k - 1) for k in range(1, 12)},
    "LSGT": (3, -1),
    **{f"AB{k:02d}": (3, k - 1) for k in range(1, 11)},
}

#: language -> (layout, why): where the rules' lists alone pick badly or say nothing.
OVERRIDES: dict[str, tuple[str, str]] = {
    "afr": ("za", "Afrikaans: South Africa's layout (the rules list only eng for za)"),
    "xho": ("za", "Xhosa: South Africa's layout (the rules list only eng for za)"),
    "ber": ("dz(azerty-deadkeys)", "Tatoeba's Berber is Latin-script Tamazight; ma(tifinagh) types Tifinagh"),
    "eng": ("us", "rules list eng for many English-language layouts; us is the common one"),
    "arq": ("ara", "Algerian Arabic: member of the macrolanguage ara, which the rules list"),
    "arz": ("ara", "Egyptian Arabic: member of the macrolanguage ara"),
    "pes": ("ir", "Iranian Persian: member of the macrolanguage fas (ir lists fas)"),
    "zsm": ("us", "Standard Malay is typed on US QWERTY; the rules' msa layouts are Jawi (Arabic script)"),
    "ind": ("us", "Indonesian is typed on US QWERTY; the rules' id layouts are Arabic Pegon"),
    "jav": (
        "us",
        "Javanese in Latin script (Tatoeba) is typed on US QWERTY; id(javanese) is Javanese script",
    ),
    "lvs": ("lv", "Standard Latvian: member of the macrolanguage lav"),
    "swh": ("ke", "Swahili: member of the macrolanguage swa (ke lists swa)"),
    "nob": ("no", "Norwegian Bokmål is typed on the Norwegian layout"),
    "nno": ("no", "Norwegian Nynorsk is typed on the Norwegian layout"),
    "uzb": ("uz(latin)", "Tatoeba's Uzbek is in Latin script; uz(basic) is Cyrillic"),
    "srp": (
        "rs(latin)",
        "Tatoeba's Serbian is 70% Latin script (rs(basic) is Cyrillic; Cyrillic words use ru)",
    ),
    "bos": ("ba", "Bosnian: the Bosnian layout"),
    "hrv": ("hr", "Croatian: the Croatian layout"),
    "kur": ("tr(ku)", "Tatoeba's Kurdish is Kurmanji in Latin script (Turkish-based Kurdish layout)"),
    "mon": ("mn", "Mongolian in Cyrillic script"),
    "kaz": ("kz", "Kazakh: the Kazakh layout"),
    "deu": ("de", "German: the German layout (at and ch list deu too)"),
    "fra": ("fr", "French: the French layout (be, ca, ch list fra too)"),
    "nld": ("nl", "Dutch: the Dutch layout (be lists nld too)"),
    "por": ("pt", "European Portuguese layout (br lists por too)"),
    "spa": ("es", "Spanish: the Spanish layout (latam lists spa too)"),
    "ita": ("it", "Italian: the Italian layout"),
    "rus": ("ru", "Russian: the Russian layout"),
    "ell": ("gr", "Greek: the Greek layout"),
    "tur": ("tr", "Turkish Q layout"),
    "gsw": ("ch", "Swiss German: the Swiss layout"),
    "orv": ("ru", "Old East Slavic text is typed on the Russian layout"),
    "ast": ("es(ast)", "Asturian: the Spanish layout's Asturian variant"),
    "cat": ("es(cat)", "Catalan: the Spanish layout's Catalan variant"),
    "glg": ("es", "Galician is typed on the Spanish layout"),
    "eus": ("es", "Basque is typed on the Spanish layout"),
    "bre": ("fr(bre)", "Breton: the French layout's Breton variant"),
    "oci": ("fr(oci)", "Occitan: the French layout's Occitan variant"),
    "nds": ("de", "Low German is typed on the German layout"),
    "dsb": ("de(dsb)", "Lower Sorbian: the German layout's Sorbian variant"),
    "hsb": ("de(dsb)", "Upper Sorbian: same Sorbian variant (the rules list only dsb)"),
    "swg": ("de", "Swabian is typed on the German layout"),
    "fry": ("nl", "Frisian is typed on the Dutch layout"),
    "cym": ("gb", "Welsh is typed on the UK layout"),
    "cor": ("gb", "Cornish is typed on the UK layout"),
    "gla": ("gb(gla)", "Scottish Gaelic: the UK layout's Gaelic variant"),
    "gle": ("ie", "Irish: the Irish layout"),
    "csb": ("pl(csb)", "Kashubian: the Polish layout's Kashubian variant"),
    "tgl": ("ph", "Tagalog: the Filipino layout"),
    "ceb": ("ph", "Cebuano: the Filipino layout"),
    "war": ("ph", "Waray: the Filipino layout"),
    "pam": ("ph", "Kapampangan: the Filipino layout"),
    "hin": ("in", "Hindi: InScript Devanagari (in(basic))"),
    "mar": ("in(marathi)", "Marathi: the Indian layout's Marathi variant"),
    "awa": ("in", "Awadhi is typed on InScript Devanagari"),
    "ben": ("in(ben_inscript)", "Bengali: InScript Bengali"),
    "tam": ("in(tam_tamilnet)", "Tamil: the TamilNet '99 layout"),
    "tel": ("in(tel)", "Telugu: InScript Telugu"),
    "mal": ("in(mal)", "Malayalam: InScript Malayalam"),
    "urd": ("pk", "Urdu: the Pakistani Urdu layout"),
    "amh": ("et", "Amharic: the Ethiopian layout (syllables use the Ethiopic model, see keyboard.py)"),
    "tha": ("th", "Thai: Kedmanee"),
    "heb": ("il", "Hebrew: SI-1452"),
    "kat": ("ge", "Georgian: the Georgian QWERTY-based layout"),
    "tat": ("ru(tt)", "Tatar: the Russian layout's Tatar variant"),
    "bel": ("by", "Belarusian: the Belarusian layout"),
    "ukr": ("ua", "Ukrainian: the Ukrainian layout"),
}

#: script -> layout for unlisted languages and words in another script than their language's layout.
SCRIPT_DEFAULTS: dict[str, str] = {
    "Latn": "us",
    "Cyrl": "ru",
    "Grek": "gr",
    "Arab": "ara",
    "Hebr": "il",
    "Geor": "ge",
    "Armn": "am",
    "Deva": "in",
    "Beng": "in(ben_inscript)",
    "Taml": "in(tam_tamilnet)",
    "Telu": "in(tel)",
    "Mlym": "in(mal)",
    "Ethi": "et",
    "Thai": "th",
}

_SECTION = re.compile(r'((?:[\w]+\s+)*)xkb_symbols\s+"([^"]+)"\s*\{')
_KEY = re.compile(r"^(?:(?:replace|override|augment)\s+)?key\s+<(\w+)>\s*\{(.*)\}$", re.S)
_INCLUDE = re.compile(r'^(?:include|augment|override|replace)\s+"([^"]+)"$')
_DEFINE = re.compile(r"#define XK_(\w+)\s+0x([0-9a-fA-F]+)\s*(?:/\*\s*(.*?)\s*\*/)?")
# U+FE50-FE76: small forms and Arabic isolated forms, used by some layouts (et) as placeholders of
# dead vowel keys; no one types them.
_PLACEHOLDERS = range(0xFE50, 0xFE77)


def keysym_table(path: Path) -> dict[str, str]:
    """keysym name -> character, from ``keysymdef.h`` (its ``U+XXXX`` comments, else the Latin-1 value)."""
    out: dict[str, str] = {}
    for m in _DEFINE.finditer(path.read_text(encoding="latin-1")):
        name, value, comment = m.group(1), int(m.group(2), 16), m.group(3) or ""
        u = re.search(r"U\+([0-9A-Fa-f]{4,6})", comment)
        if u:
            out[name] = chr(int(u.group(1), 16))
        elif 0x20 <= value <= 0x7E or 0xA0 <= value <= 0xFF:
            out[name] = chr(value)
        elif 0x1000100 <= value <= 0x110FFFF:
            out[name] = chr(value - 0x1000000)
    return out


def keysym_char(sym: str, table: dict[str, str], by_value: dict[int, str]) -> str | None:
    """The character a keysym types, or None (dead keys, NoSymbol, functions, unprintable)."""
    sym = sym.strip()
    ch: str | None = None
    if re.fullmatch(r"U[0-9A-Fa-f]{4,6}", sym):
        ch = chr(int(sym[1:], 16))
    elif re.fullmatch(r"0x[0-9A-Fa-f]+", sym):
        v = int(sym, 16)
        ch = chr(v - 0x1000000) if 0x1000100 <= v <= 0x110FFFF else by_value.get(v)
    else:
        ch = table.get(sym)
    if ch is None or ord(ch) in _PLACEHOLDERS:
        return None
    # Only what lands in text as one visible character: letters, marks, digits, punctuation, symbols,
    # stable under NFC and NFKC (compatibility forms such as Arabic presentation forms are left out).
    if unicodedata.category(ch)[0] not in "LMNPS":
        return None
    if unicodedata.normalize("NFC", ch) != ch or unicodedata.normalize("NFKC", ch) != ch:
        return None
    return ch


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"(//|#)[^\n]*", "", text)


def _sections(text: str) -> tuple[dict[str, str], str | None]:
    """Section name -> body of one symbols file, and the default section's name."""
    out, default, first = {}, None, None
    for m in _SECTION.finditer(text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out[m.group(2)] = text[m.end() : i - 1]
        first = first or m.group(2)
        if "default" in m.group(1).split():
            default = m.group(2)
    return out, default or first


def _statements(body: str) -> list[str]:
    """Top-level statements of a section body (split at ``;`` outside braces)."""
    # An include needs no ";" after it: end it explicitly so it never swallows the next statement.
    body = re.sub(r'\b(include|augment|override|replace)(\s+"[^"]*")', r"\1\2;", body)
    out, depth, cur = [], 0, []
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ";" and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    return [s for s in out if s]


class Symbols:
    """Resolves ``file(section)`` into its keys (levels 1 and 2 as keysym names), includes followed."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, tuple[dict[str, str], str | None]] = {}
        self.names: dict[str, str] = {}

    def _file(self, name: str) -> tuple[dict[str, str], str | None]:
        if name not in self.files:
            path = self.root / "symbols" / name
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            self.files[name] = _sections(_strip_comments(text))
        return self.files[name]

    def keys(self, file: str, section: str | None = None, depth: int = 0) -> dict[str, list[str | None]]:
        """Key code -> [level-1 keysym, level-2 keysym] of ``file(section)`` (default section if None)."""
        sections, default = self._file(file)
        section = section or default
        if section not in sections or depth > 20:
            return {}
        out: dict[str, list[str | None]] = {}
        for st in _statements(sections[section]):
            inc = _INCLUDE.match(st)
            if inc:
                # "a(b)+c(d)" overrides in order; "a|b" augments (keeps what is defined). ":N" items
                # place a layout in another group: not part of this layout's first group.
                for op, item in re.findall(r"([+|]?)([^+|]+)", inc.group(1)):
                    m = re.fullmatch(r"([\w\-/]+)(?:\(([\w\-]+)\))?(?::(\d+))?", item.strip())
                    if not m or (m.group(3) and m.group(3) != "1"):
                        continue
                    sub = self.keys(m.group(1), m.group(2), depth + 1)
                    for k, levels in sub.items():
                        _merge(out, k, levels, augment=op == "|")
                continue
            name = re.match(r'^name\[\s*group1\s*\]\s*=\s*"([^"]*)"', st, re.I)
            if name:
                self.names[f"{file}({section})"] = name.group(1)
                continue
            key = _KEY.match(st)
            if key and key.group(1) in KEY_PLACES:
                levels = _first_group(key.group(2))
                if levels is not None:
                    _merge(out, key.group(1), levels, augment=st.startswith("augment"))
        return out


def _first_group(spec: str) -> list[str | None] | None:
    """Keysyms of levels 1-2 of group 1 in a key body such as ``type=..., [ a, A ]``."""
    for m in re.finditer(r"(\b\w+\s*\[\s*(\w+)\s*\]\s*=\s*)?\[([^\[\]]*)\]", spec):
        if m.group(1) and not m.group(1).lower().startswith("symbols"):
            continue  # actions[...] / type[...]
        if re.fullmatch(r"\s*group\d+\s*", m.group(3), re.I):
            continue  # the index of type[Group1]="...", not a symbol list
        if m.group(2) and m.group(2).lower() != "group1":
            return None
        syms = [s.strip() for s in m.group(3).split(",")]
        # NoSymbol and "any" leave the level as an earlier definition made it.
        return [(s if s and s not in ("NoSymbol", "any") else None) for s in (syms + [None, None])[:2]]
    return None


def _merge(out: dict, key: str, levels: list, augment: bool) -> None:
    old = out.setdefault(key, [None, None])
    for i, s in enumerate(levels[:2]):
        if s is not None and not (augment and old[i] is not None):
            old[i] = s


def _rules(root: Path) -> list[dict]:
    """Every layout and variant of ``rules/evdev.xml``: id, file, section, description, languages."""
    out = []
    for lay in ET.parse(root / "rules" / "evdev.xml").getroot().iter("layout"):
        ci = lay.find("configItem")
        name = ci.findtext("name")
        out.append({
            "id": name, "file": name, "section": None, "base": True,
            "description": ci.findtext("description") or name,
            "languages": [x.text for x in ci.iter("iso639Id")],
        })  # fmt: skip
        for v in lay.findall("variantList/variant"):
            vci = v.find("configItem")
            vname = vci.findtext("name")
            out.append({
                "id": f"{name}({vname})", "file": name, "section": vname, "base": False,
                "description": vci.findtext("description") or vname,
                # A variant without a list is for its layout's languages.
                "languages": [x.text for x in vci.iter("iso639Id")],
            })  # fmt: skip
    return out


def _main_script(chars: list[str]) -> str:
    scripts = Counter(char_script(c) for c in chars if unicodedata.category(c)[0] == "L")
    scripts.pop("Zyyy", None)
    return scripts.most_common(1)[0][0] if scripts else "Zyyy"


def xkb_version() -> str:
    """Version of the installed Debian package xkb-data ("unknown" when dpkg cannot say)."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "xkb-data"], capture_output=True, text=True, check=False
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def build(root: Path = XKB, keysymdef: Path = KEYSYMDEF, version: str | None = None) -> dict:
    """The whole table (see the module doc) from an xkb tree and a ``keysymdef.h``."""
    table = keysym_table(keysymdef)
    by_value: dict[int, str] = {}
    for m in _DEFINE.finditer(keysymdef.read_text(encoding="latin-1")):
        if m.group(1) in table:
            by_value.setdefault(int(m.group(2), 16), table[m.group(1)])
    symbols = Symbols(root)
    entries = _rules(root)
    by_id = {e["id"]: e for e in entries}
    candidates: dict[str, list[tuple]] = {}
    for order, e in enumerate(entries):
        for lang in e["languages"]:
            rank = (not e["base"], "(" in e["description"], len(e["languages"]), order)
            candidates.setdefault(lang, []).append((rank, e["id"]))
    languages = {lang: min(c)[1] for lang, c in sorted(candidates.items())}
    for lang, (lay, _why) in OVERRIDES.items():
        if lay not in by_id:
            raise SystemExit(f"override {lang} -> {lay}: no such layout in {root}")
        languages[lang] = lay
    wanted = sorted(set(languages.values()) | set(SCRIPT_DEFAULTS.values()))
    layouts = {}
    for lid in wanted:
        e = by_id[lid]
        raw = symbols.keys(e["file"], e["section"])
        keys = {}
        for k in KEY_PLACES:
            if k in raw:
                chars = [keysym_char(s, table, by_value) if s else None for s in raw[k]]
                if any(chars):
                    keys[k] = [c or "" for c in chars]
        letters = [c for pair in keys.values() for c in pair if c]
        if sum(unicodedata.category(c)[0] == "L" for c in letters) < 10:
            continue  # sign-language, numeric or broken sections type no text worth modelling
        layouts[lid] = {
            "description": e["description"],
            "source": f"xkeyboard-config symbols/{e['file']}({e['section'] or 'default'})",
            "script": _main_script(letters),
            "languages": sorted(e["languages"]),
            "keys": keys,
        }
    languages = {k: v for k, v in languages.items() if v in layouts}
    return {
        "about": {
            "generated_by": "python -m core.noise.build.keyboards (do not edit by hand)",
            "source": "xkeyboard-config, Debian package xkb-data: symbols/* and rules/evdev.xml; keysym "
            "names resolved with X11 keysymdef.h (x11proto-dev)",
            "xkb_data_version": version or xkb_version(),
            "licence": "xkeyboard-config is distributed under MIT/X11-style permissive licences "
            "(see /usr/share/doc/xkb-data/copyright); this file holds only the derived key tables",
        },
        "key_places": {k: list(v) for k, v in KEY_PLACES.items()},
        "layouts": layouts,
        "languages": languages,
        "overrides": {k: {"layout": v[0], "why": v[1]} for k, v in sorted(OVERRIDES.items())},
        "scripts": {s: lid for s, lid in sorted(SCRIPT_DEFAULTS.items()) if lid in layouts},
    }


def dumps(table: dict) -> str:
    """The file's text: one line per layout key set, so diffs stay readable."""
    return json.dumps(table, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the vendored table; returns a process exit code."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--xkb", type=Path, default=XKB)
    p.add_argument("--keysymdef", type=Path, default=KEYSYMDEF)
    p.add_argument("--check", action="store_true", help="exit 1 if the vendored file is out of date")
    args = p.parse_args(argv)
    text = dumps(build(args.xkb, args.keysymdef))
    if args.check:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUT} is out of date: run python -m core.noise.build.keyboards")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    t = json.loads(text)
    print(f"wrote {OUT}: {len(t['layouts'])} layouts, {len(t['languages'])} languages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
