"""Training examples for every objective, built from Tatoeba without leaking evaluation text.

Every random choice (which pairs, which noise, which level) is drawn from one explicit
``numpy.random.Generator``, so the same seed always yields the same example list in the same order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from core.datasets import load_bitexts
from core.errors import ConfigError
from core.training.splits import Split, drop_leaking_pairs, forbidden_texts

log = logging.getLogger(__name__)

Objective = Literal["unsup", "bitext", "noisy-bitext", "typo-contrastive", "ot-distill"]
OBJECTIVES: tuple[str, ...] = (
    "unsup",
    "bitext",
    "noisy-bitext",
    "typo-contrastive",
    "ot-distill",
    "labse-ams",
)
NOISY_OBJECTIVES: tuple[str, ...] = ("noisy-bitext", "typo-contrastive")

# The corruptions a noisy-bitext model is trained on: one drawn uniformly per example, at a level drawn
# uniformly from NOISE_LEVEL_RANGE. They are the typing noises of the noise library that keep the text in
# its language (no transliteration or code-switching), so the model learns robustness, not a new language.
NOISE_TYPES: tuple[str, ...] = (
    "substitute", "insert", "delete", "transpose", "keyboard", "diacritics", "homoglyph", "whitespace",
)  # fmt: skip
NOISE_LEVEL_RANGE: tuple[float, float] = (0.05, 0.3)


@dataclass(frozen=True)
class TrainingPairs:
    """Leak-free (non-English, English) pairs per training language, with what the filter removed."""

    pairs: dict[str, list[tuple[str, str]]]
    dropped_leaking: dict[str, int] = field(default_factory=dict)
    dropped_other: dict[str, int] = field(default_factory=dict)  # empty lines and exact duplicate pairs

    @property
    def n_pairs(self) -> int:
        return sum(len(v) for v in self.pairs.values())


@dataclass(frozen=True)
class Examples:
    """What the trainer consumes: ``anchors[i]`` and ``positives[i]`` are a positive pair."""

    anchors: list[str]
    positives: list[str]
    langs: list[str]
    noise: list[tuple[str, float]] | None = None  # (type, level) per example of a noisy objective
    clean: list[str] | None = None  # typo-contrastive: the clean source sentence of each noisy anchor

    def __len__(self) -> int:
        return len(self.anchors)


def load_training_pairs(split: Split, path: str | Path | None = None) -> TrainingPairs:
    """Load the training languages' pairs and drop every pair that leaks an evaluation or dev sentence.

    Guarantees: no returned pair has a side whose stripped text appears, stripped, on either side of any
    evaluation or dev language's files; no pair has an empty side; no pair occurs twice in a language.

    Raises:
        UnknownNameError: a language missing from the data.  DataError: missing or malformed data.
    """
    held_out = list(dict.fromkeys(split.eval_langs + split.dev_langs))
    forbidden = forbidden_texts(load_bitexts("tatoeba", held_out, path)) if held_out else frozenset()
    pairs, leaking, other = {}, {}, {}
    for lang, bt in load_bitexts("tatoeba", split.train_langs, path).items():
        raw = [(q.strip(), d.strip()) for q, d in zip(bt.queries, bt.documents)]
        clean = list(dict.fromkeys(p for p in raw if p[0] and p[1]))
        kept, n_leak = drop_leaking_pairs(clean, forbidden)
        pairs[lang], leaking[lang], other[lang] = kept, n_leak, len(raw) - len(clean)
    log.info(
        "%d training pairs; dropped %d leaking, %d empty/duplicate",
        sum(map(len, pairs.values())), sum(leaking.values()), sum(other.values()),
    )  # fmt: skip
    return TrainingPairs(pairs, leaking, other)


def sample_pairs(
    pairs: Mapping[str, Sequence[tuple[str, str]]], max_pairs: int | None, rng: np.random.Generator
) -> list[tuple[str, str, str]]:
    """Up to ``max_pairs`` (lang, non-English, English) triples, balanced across languages, in random order.

    Each language's pairs are shuffled, then taken round-robin (so a cap keeps small languages fully and
    trims large ones), then the selection is shuffled again so batches mix languages.

    Raises:
        ValueError: ``max_pairs`` below 1.
    """
    if max_pairs is not None and max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    queues = []
    for lang in sorted(pairs):
        order = rng.permutation(len(pairs[lang]))
        queues.append([(lang, *pairs[lang][i]) for i in order])
    picked: list[tuple[str, str, str]] = []
    depth = 0
    limit = max_pairs if max_pairs is not None else sum(map(len, queues))
    while len(picked) < limit and any(depth < len(q) for q in queues):
        picked.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    picked = picked[:limit]
    return [picked[i] for i in rng.permutation(len(picked))]


def _corrupt(
    triples: Sequence[tuple[str, str, str]], rng: np.random.Generator, seed: int
) -> tuple[list[str], list[tuple[str, float]]]:
    """Noisy non-English sides; example ``i`` uses noise seed ``seed`` and qid ``i``."""
    try:
        from core.noise import apply_noise_batch, list_noise_types
    except ImportError as exc:  # pragma: no cover - the noise library is part of the project
        raise ConfigError(f"noisy-bitext needs the noise library (core.noise): {exc}") from exc
    missing = sorted(set(NOISE_TYPES) - set(list_noise_types()))
    if missing:
        raise ConfigError(f"noise types {', '.join(missing)} are not in the noise library")
    kinds = rng.integers(len(NOISE_TYPES), size=len(triples))
    levels = rng.uniform(*NOISE_LEVEL_RANGE, size=len(triples))
    used = [(NOISE_TYPES[int(k)], round(float(lvl), 4)) for k, lvl in zip(kinds, levels)]
    # Examples of one noise type go through the noise library in one batch call; example i gets what
    # apply_noise(src, noise, level, seed=seed, qid=i, lang=lang) gives.
    groups: dict[str, list[int]] = {}
    for i, (noise, _) in enumerate(used):
        groups.setdefault(noise, []).append(i)
    out = [t[1] for t in triples]
    for noise, idx in groups.items():
        res = apply_noise_batch(
            [triples[i][1] for i in idx],
            noise,
            [used[i][1] for i in idx],
            seed=seed,
            qids=idx,
            langs=[triples[i][0] for i in idx],
        )
        for i, noisy in zip(idx, res.noisy, strict=True):
            # A corruption that empties a short sentence would give the encoder nothing to match.
            out[i] = noisy if noisy.strip() else triples[i][1]
    return out, used


def build_examples(
    objective: str, triples: Sequence[tuple[str, str, str]], rng: np.random.Generator, seed: int
) -> Examples:
    """Positive pairs for ``objective`` from sampled (lang, non-English, English) triples.

    - ``unsup``: each distinct non-English sentence paired with itself (dropout makes the two views
      differ, SimCSE's positive).
    - ``bitext``: (non-English, English); the loss uses both directions.
    - ``noisy-bitext``: as ``bitext`` with the non-English side corrupted by a noise type drawn from
      :data:`NOISE_TYPES` at a level drawn from :data:`NOISE_LEVEL_RANGE` (drawn from ``rng``; the noise
      library gets ``seed`` and the example's index as qid).
    - ``typo-contrastive``: as ``noisy-bitext`` (the same draws for the same seed), with each clean source
      sentence kept in ``clean``.
    - ``ot-distill``: as ``bitext``; the English side goes to the frozen teacher.
    - ``labse-ams``: as ``bitext`` (the same pairs for the same seed); only the loss differs.

    Raises:
        ConfigError: unknown objective, or the noise library lacks a type of :data:`NOISE_TYPES`.
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    if objective == "unsup":
        seen: dict[str, str] = {}
        for lang, src, _ in triples:
            seen.setdefault(src, lang)
        texts = list(seen)
        return Examples(texts, list(texts), [seen[t] for t in texts])
    langs = [t[0] for t in triples]
    english = [t[2] for t in triples]
    if objective in ("bitext", "ot-distill", "labse-ams"):
        return Examples([t[1] for t in triples], english, langs)
    noisy, used = _corrupt(triples, rng, seed)
    clean = [t[1] for t in triples] if objective == "typo-contrastive" else None
    return Examples(noisy, english, langs, used, clean)


def plan_batches(
    examples: Examples, batch_size: int, rng: np.random.Generator, *, pool: int = 16
) -> list[int]:
    """Row order of ``examples`` as consecutive batches of ``batch_size``: length-grouped, duplicate-free.

    Padding to the longest sentence of a batch wastes about half the compute on Tatoeba's short sentences
    when lengths are mixed, so examples are shuffled, taken ``pool`` batches at a time, sorted by the
    anchor's length and cut into batches (transformers' ``group_by_length`` idea); the batch order is then
    shuffled. A text already in a batch is deferred to a later one, because a duplicate would be a false
    in-batch negative for InfoNCE. Only full batches are returned.

    Returns:
        Row indices; row ``k * batch_size + j`` is the ``j``-th example of batch ``k``.

    Example:
        >>> ex = Examples([f"s{i}" for i in range(10)], [f"t{i}" for i in range(10)], ["fra"] * 10)
        >>> len(plan_batches(ex, 4, np.random.default_rng(0)))
        8
    """
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2, got {batch_size}")
    order = [int(i) for i in rng.permutation(len(examples))]
    batches: list[list[int]] = []
    carry: list[int] = []
    chunk = pool * batch_size
    for start in range(0, len(order), chunk):
        todo = sorted(carry + order[start : start + chunk], key=lambda i: (len(examples.anchors[i]), i))
        carry, batch, texts = [], [], set()
        for i in todo:
            pair = {examples.anchors[i], examples.positives[i]}
            if examples.clean is not None:
                pair.add(examples.clean[i])
            if pair & texts:
                carry.append(i)
                continue
            batch.append(i)
            texts |= pair
            if len(batch) == batch_size:
                batches.append(batch)
                batch, texts = [], set()
        carry += batch
    return [i for k in rng.permutation(len(batches)) for i in batches[int(k)]]
