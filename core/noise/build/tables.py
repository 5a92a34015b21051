"""Build ``core/noise/data/charfreq.json``: per-language grapheme-cluster frequencies by script.

Counts non-space clusters of every Tatoeba sentence (NFC) in ``$CLIR_DATA_DIR``, per language and per
Unicode script; English is counted over all the ``.eng`` sides. Only derived counts are stored, never
sentences. Run ``python -m core.noise.build.tables [DATA_DIR]`` after the data changes.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

from core.datasets.tatoeba import tatoeba_languages
from core.noise.text import cluster_script, graphemes, is_mark
from core.paths import data_dir

_TOP = {"Hani": 600, "Hira": 120, "Kana": 120, "Hang": 400}
_TOP_DEFAULT = 250
_OUT = Path(__file__).resolve().parent / "data" / "charfreq.json"


def _count(lines: list[str]) -> dict[str, Counter]:
    by_script: dict[str, Counter] = defaultdict(Counter)
    for line in lines:
        for u in graphemes(unicodedata.normalize("NFC", line.rstrip("\r\n"))):
            # Orphan marks are data noise, not something a typist would produce on purpose.
            if u.isspace() or is_mark(u[0]):
                continue
            by_script[cluster_script(u)][u] += 1
    return by_script


def _top(counter: Counter, script: str) -> list[list]:
    keep = counter.most_common(_TOP.get(script, _TOP_DEFAULT))
    return [[u, n] for u, n in keep if n >= 2] or [[u, n] for u, n in keep]


def build(path: Path) -> dict:
    """Return the tables for the Tatoeba folder ``path`` (see the module doc)."""
    langs = tatoeba_languages(path)
    tables: dict[str, dict] = {}
    pooled: dict[str, Counter] = defaultdict(Counter)
    eng: dict[str, Counter] = defaultdict(Counter)
    for lang in langs:
        text = (path / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines()
        counts = _count(text)
        tables[lang] = {sc: _top(c, sc) for sc, c in sorted(counts.items())}
        for sc, c in counts.items():
            pooled[sc].update(c)
        english = (path / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()
        for sc, c in _count(english).items():
            eng[sc].update(c)
    tables.setdefault("eng", {sc: _top(c, sc) for sc, c in sorted(eng.items())})
    return {
        "source": "grapheme-cluster counts of the Tatoeba test set (LASER data/tatoeba/v1, CC-BY 2.0 FR), "
        "built by core/noise/build/tables.py",
        "languages": tables,
        "scripts": {sc: _top(c, sc) for sc, c in sorted(pooled.items())},
    }


def main(argv: list[str] | None = None) -> int:
    """Write the tables next to this module; returns a process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    path = data_dir(argv[0] if argv else None)
    tables = build(path)
    _OUT.parent.mkdir(parents=True, exist_ok=True)
    _OUT.write_text(json.dumps(tables, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {_OUT} ({len(tables['languages'])} languages, {_OUT.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
