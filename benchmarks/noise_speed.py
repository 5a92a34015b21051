"""Speed of every noise type at level 0.1 against the fastest peer library that offers the same operation.

Usage: ``CLIR_DATA_DIR=... python benchmarks/noise_speed.py [--types all | NAME ...] [--n 12000]
[--repeat 5] [--columns] [--all-languages] [--json PATH]``

Input: ``--n`` Tatoeba sentences taken round-robin over 12 languages of 12 scripts (those of the examples
in docs/noise.md: Latin, Kabyle Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Tamil, Telugu,
Ethiopic, Thai, Han), or over every language with ``--all-languages``. Every tool noises every sentence
once per round; for each type in turn, ``--repeat`` rounds are interleaved (every tool of that type once
per round, A B C A B C ...) so that load from other processes on a shared machine hits every tool alike,
and the MEDIAN sentences per second of each tool is reported. Types run one after another, as a grid's
cells do: interleaving all types in one round (the first version of this script) lets each type's tables
evict the others' from the CPU caches and costs our vectorised engine 10-15% on substitute, which pure
Python peers barely feel.

- "ours (batch, noisy text)": ``apply_noise_batch(texts, type, 0.1, ...).noisy`` (validation, per-query
  keys, segmentation, edits) and its noisy texts: what the peers return and what the SimCSE trainer reads.
- Peers, each noising one sentence per call (the way their APIs are used):
    - textnoisr ``CharNoiseAugmenter(noise_level=0.1, actions=(op,), seed=0)`` for insert, delete,
      substitute and transpose (textnoisr's ``swap``);
    - nlpaug ``RandomCharAug(action=op)`` for the same four (``swap`` for transpose);
    - nlpaug ``KeyboardAug()`` for keyboard (its bundled ``en`` QWERTY map, no download).
  Both nlpaug augmenters get ``aug_char_p=0.1``, split words on whitespace (``tokenizer=str.split``,
  ``reverse_tokenizer=" ".join``; the default tokenizer splits on every non-word character, combining marks
  included, and re-joins with spaces, rewriting text it does not edit, and is slower) and have no caps on
  words or characters per sentence (``aug_word_max=None``, ``aug_char_max=None``); ``aug_word_p`` stays at
  its default 0.3 and ``min_char`` at 4. On the mixed input that edits about 8% of the characters
  (RandomCharAug; ours about 9%, textnoisr 10%). KeyboardAug edits only characters its QWERTY map knows,
  so it does less work than ours on non-Latin scripts.
- Types no peer offers (diacritics, homoglyph, whitespace, mixed) are compared with our own keyboard
  rate, measured in the same rounds as the type ("ours keyboard" rows).

Targets: every type at least 1.0x its fastest peer, substitute at least 1.3x, the peerless types at least
as fast as our keyboard. Each type gets a line "type: ours X/s, fastest peer NAME Y/s, ratio R" and a
verdict; a compact table of every tool's median ends the output. ``--json PATH`` writes the same numbers.

``--columns`` adds two rows to substitute (only there: they show the cost of what the precompute stores,
not a peer comparison): "ours (batch, all columns)", the batch and every column the precompute stores per
query (noisy text, edits as JSON, CER, layout; the peers compute none of the last three), and "ours (one
by one)", :func:`apply_noise` per sentence.

Exit status: 0 when it ran (a measurement, not a test: missed targets do not fail it), 2 for bad
arguments (unknown noise type, ``--n`` or ``--repeat`` below 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.datasets.tatoeba import load_tatoeba, tatoeba_languages  # noqa: E402
from core.noise import apply_noise, apply_noise_batch, list_noise_types  # noqa: E402
from core.noise.build.docs import EXAMPLES  # noqa: E402
from core.paths import data_dir  # noqa: E402

LEVEL = 0.1
OURS = "ours (batch, noisy text)"
OURS_ALL = "ours (batch, all columns)"
OURS_ONE = "ours (one by one)"
LANGUAGES = tuple(lang for lang, _, _ in EXAMPLES)
TYPES = tuple(list_noise_types(include_none=False))
#: Our name -> the peers' name of the same character operation.
PEER_ACTIONS = {"insert": "insert", "delete": "delete", "substitute": "substitute", "transpose": "swap"}
#: Types whose reference is our own keyboard rate, for want of a peer.
PEERLESS = ("diacritics", "homoglyph", "whitespace", "mixed")
REFERENCE = "keyboard"
TARGETS = {"substitute": 1.3}  # every other type: 1.0
WARMUP = 100  # sentences each tool noises once, untimed, so lazy set-up stays out of round 1
NLPAUG_OPTIONS = {
    "aug_char_p": LEVEL,
    "tokenizer": str.split,
    "reverse_tokenizer": " ".join,
    "aug_word_max": None,
    "aug_char_max": None,
}


class Sample(NamedTuple):
    """The sentences every tool noises, with the query ids and languages ours needs."""

    texts: list[str]
    langs: list[str]
    qids: list[int]

    def head(self, k: int) -> Sample:
        """The first ``k`` sentences."""
        return Sample(self.texts[:k], self.langs[:k], self.qids[:k])


Tool = Callable[[Sample], object]


def mixed_sentences(n: int, languages: tuple[str, ...] | None = LANGUAGES) -> list[tuple[str, str]]:
    """``n`` (lang, sentence) pairs, round-robin over ``languages`` (None: every Tatoeba language)."""
    path = data_dir()
    langs = tatoeba_languages(path) if languages is None else list(languages)
    columns = [(lang, load_tatoeba(path, lang).queries) for lang in langs]
    out: list[tuple[str, str]] = []
    for k in range(max(len(q) for _, q in columns)):
        out += [(lang, q[k]) for lang, q in columns if k < len(q)]
    return out[:n]


def parse_types(raw: Sequence[str]) -> list[str]:
    """Noise types from names or ``"all"`` (space- or comma-separated), in registry order, no repeats.

    Raises:
        ValueError: naming the unknown names and listing the valid ones, on one line.
    """
    names = [name for item in raw for name in item.split(",") if name]
    unknown = [name for name in names if name not in TYPES and name != "all"]
    if unknown or not names:
        raise ValueError(
            f"unknown noise type(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(TYPES)}, all"
        )
    return list(TYPES) if "all" in names else [t for t in TYPES if t in names]


def ours_tool(noise: str) -> Tool:
    """Our batch noising of ``noise``, down to the noisy texts."""
    return lambda s: apply_noise_batch(s.texts, noise, LEVEL, seed=0, qids=s.qids, langs=s.langs).noisy


def column_tools() -> dict[str, Tool]:
    """The two extra substitute rows of ``--columns``: every stored column, and one query at a time."""

    def all_columns(s: Sample) -> object:
        res = apply_noise_batch(s.texts, "substitute", LEVEL, seed=0, qids=s.qids, langs=s.langs)
        return res.noisy, res.edits_json, res.cer, res.layouts  # what the precompute stores

    def one_by_one(s: Sample) -> object:
        return [
            apply_noise(t, "substitute", LEVEL, seed=0, qid=q, lang=lang)
            for t, lang, q in zip(s.texts, s.langs, s.qids, strict=True)
        ]

    return {OURS_ALL: all_columns, OURS_ONE: one_by_one}


def peer_tools(noise: str) -> dict[str, Tool]:
    """Every installed peer that offers ``noise``, by display name (empty for the peerless types)."""
    tools: dict[str, Tool] = {}
    action = PEER_ACTIONS.get(noise)
    if action is not None:
        try:
            from textnoisr.noise import CharNoiseAugmenter

            tn = CharNoiseAugmenter(noise_level=LEVEL, actions=(action,), seed=0)
            tools["textnoisr CharNoiseAugmenter"] = lambda s: [tn.add_noise(t) for t in s.texts]
        except ImportError:
            print("textnoisr not installed: skipped", file=sys.stderr)
    try:
        import nlpaug.augmenter.char as nac
    except ImportError:
        print("nlpaug not installed: skipped", file=sys.stderr)
        return tools
    if action is not None:
        rand = nac.RandomCharAug(action=action, **NLPAUG_OPTIONS)
        tools["nlpaug RandomCharAug"] = lambda s: [rand.augment(t) for t in s.texts]
    if noise == "keyboard":
        kb = nac.KeyboardAug(**NLPAUG_OPTIONS)
        tools["nlpaug KeyboardAug"] = lambda s: [kb.augment(t) for t in s.texts]
    return tools


def median_rates(
    tools: dict[tuple[str, str], Tool], sample: Sample, repeat: int
) -> dict[tuple[str, str], float]:
    """Median sentences per second of each tool over ``repeat`` interleaved rounds (each tool once per
    round, in the same order), after one untimed warm-up call on a few sentences."""
    warm = sample.head(WARMUP)
    for fn in tools.values():
        fn(warm)
    runs: dict[tuple[str, str], list[float]] = {key: [] for key in tools}
    for _ in range(repeat):
        for key, fn in tools.items():
            t = time.perf_counter()
            fn(sample)
            runs[key].append(len(sample.texts) / (time.perf_counter() - t))
    return {key: statistics.median(rates) for key, rates in runs.items()}


def verdicts(types: list[str], rates: dict[tuple[str, str], float]) -> dict[str, dict]:
    """Per type: our rate, the fastest peer (or our keyboard for the peerless types), the ratio, the
    target and whether it is met; peer fields are None where no peer library is installed."""
    out: dict[str, dict] = {}
    for noise in types:
        ours = rates[(noise, OURS)]
        if noise in PEERLESS:
            peer = f"ours {REFERENCE}"
            peer_rate = rates[(noise, peer)]
        else:
            peers = {tool: r for (t, tool), r in rates.items() if t == noise and not tool.startswith("ours")}
            peer = max(peers, key=peers.__getitem__) if peers else None
            peer_rate = peers[peer] if peer else None
        target = TARGETS.get(noise, 1.0)
        ratio = ours / peer_rate if peer_rate else None
        met = None if ratio is None else ratio >= target
        out[noise] = {
            "ours": ours,
            "peer": peer,
            "peer_rate": peer_rate,
            "ratio": ratio,
            "target": target,
            "met": met,
        }
    return out


def type_line(noise: str, v: dict) -> str:
    """``type: ours X/s, fastest peer NAME Y/s, ratio R (target >= T: met|MISSED)``."""
    if v["peer"] is None:
        return f"{noise}: ours {v['ours']:,.0f}/s, fastest peer none installed"
    verdict = "met" if v["met"] else "MISSED"
    return (
        f"{noise}: ours {v['ours']:,.0f}/s, fastest peer {v['peer']} {v['peer_rate']:,.0f}/s, "
        f"ratio {v['ratio']:.2f} (target >= {v['target']:.1f}: {verdict})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its report; 0 when it ran, 2 for bad arguments."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--types", nargs="+", default=["all"], help=f"noise types or all: {', '.join(TYPES)}")
    p.add_argument("--n", type=int, default=12_000, help="sentences (default 12000)")
    p.add_argument("--repeat", type=int, default=5, help="interleaved rounds; the median is reported")
    p.add_argument("--columns", action="store_true", help="substitute: also all columns and one by one")
    p.add_argument("--all-languages", action="store_true", help="every Tatoeba language, not 12")
    p.add_argument("--json", type=Path, help="write the numbers to this file")
    args = p.parse_args(argv)
    try:
        types = parse_types(args.types)
        if args.n < 1 or args.repeat < 1:
            raise ValueError(f"--n and --repeat must be at least 1, got {args.n} and {args.repeat}")
    except ValueError as e:
        print(f"noise_speed: {e}", file=sys.stderr)
        return 2

    logging.disable(logging.WARNING)  # the peers' import-time chatter would drown the report
    try:
        pairs = mixed_sentences(args.n, None if args.all_languages else LANGUAGES)
        sample = Sample([s for _, s in pairs], [lang for lang, _ in pairs], list(range(len(pairs))))
        rates: dict[tuple[str, str], float] = {}
        for noise in types:
            tools: dict[tuple[str, str], Tool] = {(noise, OURS): ours_tool(noise)}
            if noise == "substitute" and args.columns:
                tools.update({(noise, name): fn for name, fn in column_tools().items()})
            tools.update({(noise, name): fn for name, fn in peer_tools(noise).items()})
            if noise in PEERLESS:
                tools[(noise, f"ours {REFERENCE}")] = ours_tool(REFERENCE)
            rates.update(median_rates(tools, sample, args.repeat))
    finally:
        logging.disable(logging.NOTSET)

    n, n_langs = len(sample.texts), len(set(sample.langs))
    results = verdicts(types, rates)
    print(
        f"noise speed at level {LEVEL}: {n} Tatoeba sentences from {n_langs} languages, "
        f"median of {args.repeat} interleaved round(s), sentences/s"
    )
    for noise in types:
        print(type_line(noise, results[noise]))
    print(f"\n{'type':11s} {'tool':30s} {'sentences/s':>12s} {'ours/this':>10s}")
    for (noise, tool), rate in rates.items():
        ratio = "" if tool.startswith("ours") else f"{rates[(noise, OURS)] / rate:10.2f}"
        print(f"{noise:11s} {tool:30s} {rate:12,.0f} {ratio}".rstrip())
    judged = [t for t in types if results[t]["met"] is not None]
    missed = [t for t in judged if not results[t]["met"]]
    print(
        f"\ntargets met: {len(judged) - len(missed)}/{len(judged)}"
        + (f" (missed: {', '.join(missed)})" if missed else "")
    )
    if args.json:
        report = {
            "level": LEVEL,
            "n": n,
            "languages": n_langs,
            "repeat": args.repeat,
            "nlpaug_options": {
                **{k: v for k, v in NLPAUG_OPTIONS.items() if not callable(v)},
                "tokenizer": "str.split",
                "reverse_tokenizer": "' '.join",
            },
            "rates": {
                t: {tool: r for (t2, tool), r in rates.items() if t2 == t}
                for t in dict.fromkeys(k[0] for k in rates)
            },
            "types": results,
            "all_met": not missed and len(judged) == len(types),
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
