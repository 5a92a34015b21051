"""Speed of ``substitute`` at level 0.1 against nlpaug and textnoisr on the same mixed-script input.

Usage: ``CLIR_DATA_DIR=... python benchmarks/noise_speed.py [--n 10000] [--repeat 3]``

Input: 10k Tatoeba sentences taken round-robin over every language (so every script is represented in
proportion to the languages, not to their sizes). Each tool noises every sentence once; the best of
``--repeat`` runs is reported (sentences per second), with ratios ours / theirs. Ours includes the
per-query rng derivation and validation of :func:`apply_noise`, as the precompute calls it.
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
from core.noise import apply_noise  # noqa: E402
from core.paths import data_dir  # noqa: E402

LEVEL = 0.1


def mixed_sentences(n: int) -> list[tuple[str, str]]:
    """``n`` (lang, sentence) pairs, round-robin over the Tatoeba languages."""
    path = data_dir()
    columns = [(lang, load_tatoeba(path, lang).queries) for lang in tatoeba_languages(path)]
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
    args = p.parse_args()
    logging.disable(logging.WARNING)
    pairs = mixed_sentences(args.n)
    n = len(pairs)
    texts = [s for _, s in pairs]

    def ours() -> None:
        for qid, (lang, s) in enumerate(pairs):
            apply_noise(s, "substitute", LEVEL, seed=0, qid=qid, lang=lang)

    tools: dict[str, Callable[[], None]] = {"ours (core.noise substitute)": ours}
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
    ours_rate = rates["ours (core.noise substitute)"]
    for name, rate in rates.items():
        ratio = "" if rate is ours_rate else f"   ours/this = {ours_rate / rate:.2f}"
        print(f"{name:32s} {rate:10,.0f} sentences/s{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
