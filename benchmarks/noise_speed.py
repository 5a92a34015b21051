"""Speed of ``substitute`` at level 0.1 against nlpaug and textnoisr on the same mixed-script input.

Usage: ``CLIR_DATA_DIR=... python benchmarks/noise_speed.py [--n 10000] [--repeat 5] [--all-languages]``

Input: 10k Tatoeba sentences taken round-robin over 12 languages of 12 scripts (those of the examples in
docs/noise.md: Latin, Kabyle Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Tamil, Telugu, Ethiopic,
Thai, Han), or over every language with ``--all-languages``. Each tool noises every sentence once; the
best of ``--repeat`` runs is reported (sentences per second), with ratios ours / theirs.

- "ours (batch, noisy text)": :func:`apply_noise_batch` (validation, per-query keys, segmentation, edits)
  and its noisy texts: what textnoisr and nlpaug return, and what the SimCSE trainer reads. The ratios
  against the other tools are of this row (like for like).
- "ours (batch, all columns)": the same and every column the precompute stores per query
  (``core.pipeline.runner._noisy_frame`` less the DataFrame): the noisy text, the edits as JSON, the CER
  and the layout. textnoisr and nlpaug compute none of the last three.
- "ours (one by one)": :func:`apply_noise` per sentence (a NoiseResult with its Edit objects each).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.datasets.tatoeba import load_tatoeba, tatoeba_languages  # noqa: E402
from core.noise import apply_noise, apply_noise_batch  # noqa: E402
from core.noise.build.docs import EXAMPLES  # noqa: E402
from core.paths import data_dir  # noqa: E402

LEVEL = 0.1
OURS = "ours (batch, noisy text)"
OURS_ALL = "ours (batch, all columns)"
LANGUAGES = tuple(lang for lang, _, _ in EXAMPLES)


def mixed_sentences(n: int, languages: tuple[str, ...] | None = LANGUAGES) -> list[tuple[str, str]]:
    """``n`` (lang, sentence) pairs, round-robin over ``languages`` (None: every Tatoeba language)."""
    path = data_dir()
    langs = tatoeba_languages(path) if languages is None else list(languages)
    columns = [(lang, load_tatoeba(path, lang).queries) for lang in langs]
    out: list[tuple[str, str]] = []
    for k in range(max(len(q) for _, q in columns)):
        out += [(lang, q[k]) for lang, q in columns if k < len(q)]
    return out[:n]


def best_rates(tools: dict[str, Callable[[], None]], n: int, repeat: int) -> dict[str, float]:
    """Sentences per second of each tool's fastest run; runs are interleaved (A B C A B C ...) so
    that load from other processes on a shared machine hits every tool alike."""
    best = dict.fromkeys(tools, float("inf"))
    for _ in range(repeat):
        for name, fn in tools.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return {name: n / dt for name, dt in best.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--all-languages", action="store_true", help="every Tatoeba language, not 12")
    args = p.parse_args()
    logging.disable(logging.WARNING)
    pairs = mixed_sentences(args.n, None if args.all_languages else LANGUAGES)
    n = len(pairs)
    texts = [s for _, s in pairs]
    langs = [lang for lang, _ in pairs]
    qids = list(range(n))

    def ours() -> None:
        apply_noise_batch(texts, "substitute", LEVEL, seed=0, qids=qids, langs=langs).noisy  # noqa: B018

    def ours_all() -> None:
        res = apply_noise_batch(texts, "substitute", LEVEL, seed=0, qids=qids, langs=langs)
        res.noisy, res.edits_json, res.cer, res.layouts  # noqa: B018 - what the precompute stores

    def ours_one() -> None:
        for qid, (lang, s) in enumerate(pairs):
            apply_noise(s, "substitute", LEVEL, seed=0, qid=qid, lang=lang)

    tools: dict[str, Callable[[], None]] = {OURS: ours, OURS_ALL: ours_all, "ours (one by one)": ours_one}
    try:
        import nlpaug.augmenter.char as nac

        aug = nac.RandomCharAug(action="substitute", aug_char_p=LEVEL)
        tools["nlpaug RandomCharAug"] = lambda: [aug.augment(s) for s in texts]
    except ImportError:
        print("nlpaug not installed: skipped", file=sys.stderr)
    try:
        from textnoisr.noise import CharNoiseAugmenter

        tn = CharNoiseAugmenter(noise_level=LEVEL, actions=("substitute",), seed=0)
        tools["textnoisr CharNoiseAugmenter"] = lambda: [tn.add_noise(s) for s in texts]
    except ImportError:
        print("textnoisr not installed: skipped", file=sys.stderr)

    rates = best_rates(tools, n, args.repeat)
    langs = len({lang for lang, _ in pairs})
    print(f"substitute @ {LEVEL}, {n} Tatoeba sentences from {langs} languages, best of {args.repeat}")
    ours_rate, all_rate = rates[OURS], rates[OURS_ALL]
    for name, rate in rates.items():
        ratio = (
            ""
            if name.startswith("ours")
            else f"   ours/this = {ours_rate / rate:.2f} (all columns: {all_rate / rate:.2f})"
        )
        print(f"{name:32s} {rate:10,.0f} sentences/s{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
