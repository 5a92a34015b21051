"""The determinism contract's fixture: digests of what every noise type gives, made before a change.

``python -m tests.noise.golden --write`` (with ``CLIR_DATA_DIR`` set) records, for every type x the 12
example languages (12 scripts) x 3 levels, one SHA-256 over the per-query outputs of the one-by-one
:func:`apply_noise` (noisy text, edits, CER, layout) on the first ``PER_LANGUAGE`` Tatoeba queries of the
language, plus the full outputs on the hand-written ``TRICKY`` texts under ``eng`` (no data is committed: Tatoeba
sentences appear only through digests). ``tests/noise/test_noise_golden.py`` checks both ``apply_noise``
and ``apply_noise_batch`` against it. Rewrite it only together with a ``NOISE_VERSION`` bump.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from core.datasets.tatoeba import load_tatoeba
from core.noise import NOISE_VERSION, apply_noise, list_noise_types
from core.noise.build.docs import EXAMPLES
from core.paths import data_dir

FIXTURE = Path(__file__).with_name("data") / "golden_outputs.json"
LANGUAGES = tuple(lang for lang, _, _ in EXAMPLES)
LEVELS = (0.05, 0.3, 1.0)
PER_LANGUAGE = 150
SEED = 11
# Hand-written hostile texts (no data): marks, joiners, RTL, emoji, NFD, CR/LF, Hangul jamo, digits.
TRICKY = (
    "",
    "a",
    "  leading and trailing  ",
    "e\u0301te\u0301 NFD",
    "क्षत्रिय है।",
    "क्\u200cण",
    "한국어 ᄀᄀ각",
    "🇫🇷 ok 👍🏽 👨\u200d👩\u200d👧 done",
    "ខ្ញុំ\u200bមិន\u200bដឹង\u200bទេ។",
    "\u0661\u0662 سلام\u200c\u064bها",
    "שָׁלוֹם, world 3,5",
    "ገብረ-መድኅን፡ ፻ ዓመት።",
    "a\r\nb\rc",
    "İstanbul ǅemal ß ẞ",
    "x" * 80,
)


def digest(rows: list[list]) -> str:
    """SHA-256 of the rows as canonical JSON."""
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def output_row(res) -> list:
    """What the contract covers: the noisy text, the edits as JSON, the CER (repr: exact) and the layout."""
    return [
        res.noisy,
        json.dumps([e.to_dict() for e in res.edits], ensure_ascii=False),
        repr(res.cer),
        res.layout,
    ]


def cases(tatoeba: Path) -> list[tuple[str, list[str], list[str], list[int]]]:
    """(name, texts, langs, qids) of every case: one per example language, and the tricky texts under
    each of three languages."""
    out = []
    for lang in LANGUAGES:
        qs = load_tatoeba(tatoeba, lang).queries[:PER_LANGUAGE]
        out.append((lang, list(qs), [lang] * len(qs), list(range(len(qs)))))
    for lang in ("eng", "amh", "zzz"):
        out.append(
            (f"tricky-{lang}", list(TRICKY), [lang] * len(TRICKY), [f"t{k}" for k in range(len(TRICKY))])
        )
    return out


def make(tatoeba: Path) -> dict:
    """The fixture's content, from the one-by-one ``apply_noise``."""
    digests, tricky = {}, {}
    for noise in list_noise_types(include_none=False):
        for level in LEVELS:
            for name, texts, langs, qids in cases(tatoeba):
                rows = [
                    output_row(apply_noise(t, noise, level, seed=SEED, qid=q, lang=g))
                    for t, g, q in zip(texts, langs, qids, strict=True)
                ]
                key = f"{noise}|{level}|{name}"
                digests[key] = digest(rows)
                if name == "tricky-eng":
                    tricky[key] = rows
    return {
        "noise_version": NOISE_VERSION,
        "seed": SEED,
        "levels": list(LEVELS),
        "per_language": PER_LANGUAGE,
        "digests": digests,
        "tricky": tricky,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--write", action="store_true", help=f"write {FIXTURE.name} (else: print the digest count)"
    )
    args = p.parse_args()
    content = make(data_dir())
    if args.write:
        FIXTURE.write_text(
            json.dumps(content, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8"
        )
    print(f"{len(content['digests'])} digests")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
