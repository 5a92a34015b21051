"""Which languages a trained encoder may see, and the filter that keeps every evaluation sentence out.

The split is the scientific control of the SimCSE experiments: a model is judged only on languages it never
saw (``eval_langs``), and no sentence of an evaluation language may reach training even through another
language, because Tatoeba repeats the same English sentence in many languages' files.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from core.datasets import Bitext
from core.errors import ConfigError
from core.paths import REPO_ROOT

log = logging.getLogger(__name__)

DEMO_GRID = REPO_ROOT / "precompute" / "grids" / "demo.toml"

# Used only when the demo grid does not exist yet: the example grid of the foundation issue.
FALLBACK_EVAL_LANGS: tuple[str, ...] = ("amh", "swh", "xho", "tel", "deu")

# Held out from training and never used for evaluation reports: the only languages on which training
# settings may be tuned (Latin, Latin low-resource, Cyrillic).
DEFAULT_DEV_LANGS: tuple[str, ...] = ("afr", "tgl", "ukr")

# Default training languages: many scripts and resource classes, so that a model learns "translation =
# neighbour" rather than one language pair. Any of them that is an evaluation or dev language is removed
# from the default automatically (an explicit --train-langs list is refused instead).
DEFAULT_TRAIN_LANGS: tuple[str, ...] = (
    # Latin script, high resource
    "fra", "spa", "ita", "por", "nld", "pol", "ces", "tur", "ind", "vie", "fin", "hun", "swe", "ron",
    # Latin script, low resource
    "cym", "gle", "bre", "eus", "ceb", "war", "kab", "ber", "jav", "tuk", "uzb", "kur", "zsm", "isl",
    "epo", "lat", "glg", "fao",
    # Cyrillic
    "rus", "bul", "kaz", "tat", "mon", "bel", "mkd",
    # Greek, Hebrew, Arabic, Indic, Georgian, Thai, CJK
    "ell", "heb", "ara", "pes", "urd", "hin", "mar", "ben", "kat", "tha", "cmn", "jpn", "kor",
)  # fmt: skip


@dataclass(frozen=True)
class Split:
    """Disjoint language sets of one training run (unless built with ``allow_overlap``)."""

    train_langs: tuple[str, ...]
    eval_langs: tuple[str, ...]
    dev_langs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        """The split as JSON-ready lists, as written into a model's card."""
        return {k: list(v) for k, v in asdict(self).items()}


def demo_eval_languages(grid: Path | None = None) -> tuple[str, ...]:
    """The demo grid's ``[dataset].languages``, or :data:`FALLBACK_EVAL_LANGS` when the grid does not exist.

    Raises:
        ConfigError: the grid exists but is malformed or has no language list.
    """
    grid = Path(grid) if grid is not None else DEMO_GRID
    if not grid.is_file():
        log.info("%s not found; evaluation languages default to %s", grid, FALLBACK_EVAL_LANGS)
        return FALLBACK_EVAL_LANGS
    try:
        langs = tomllib.loads(grid.read_text(encoding="utf-8"))["dataset"]["languages"]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{grid}: cannot read [dataset].languages ({exc})") from exc
    if not isinstance(langs, list) or not langs or not all(isinstance(x, str) for x in langs):
        raise ConfigError(f"{grid}: [dataset].languages must be a non-empty list of language codes")
    return tuple(langs)


def make_split(
    train_langs: Iterable[str] | None = None,
    eval_langs: Iterable[str] | None = None,
    dev_langs: Iterable[str] | None = None,
    *,
    allow_overlap: bool = False,
    available: Iterable[str] | None = None,
) -> Split:
    """Build and validate the language split of a training run.

    Defaults: ``eval_langs`` from :func:`demo_eval_languages`; ``dev_langs`` :data:`DEFAULT_DEV_LANGS`
    minus the evaluation languages; ``train_langs`` :data:`DEFAULT_TRAIN_LANGS` minus evaluation and dev
    languages (and minus languages missing from ``available``, when given).

    Guarantees: with ``allow_overlap=False``, no language is in two of the three sets.

    Args:
        train_langs, eval_langs, dev_langs: explicit language codes (duplicates removed, order kept).
        allow_overlap: accept explicit training languages that are also evaluation or dev languages.
        available: languages present in the data; explicit codes outside it are refused.

    Returns:
        :class:`Split`.

    Raises:
        ConfigError: overlapping sets without ``allow_overlap``, an empty training set, or an explicit code
        not in ``available``.

    Example:
        >>> make_split(["fra"], ["deu"], []).train_langs
        ('fra',)
    """
    avail = set(available) if available is not None else None
    ev = tuple(dict.fromkeys(eval_langs if eval_langs is not None else demo_eval_languages()))
    dev = tuple(
        dict.fromkeys(dev_langs if dev_langs is not None else (x for x in DEFAULT_DEV_LANGS if x not in ev))
    )
    if train_langs is None:
        train = tuple(
            x for x in DEFAULT_TRAIN_LANGS if x not in ev and x not in dev and (avail is None or x in avail)
        )
    else:
        train = tuple(dict.fromkeys(train_langs))
    if avail is not None:
        for kind, langs in (("training", train), ("evaluation", ev), ("dev", dev)):
            unknown = [x for x in langs if x not in avail]
            if unknown:
                raise ConfigError(
                    f"unknown {kind} language(s) {', '.join(unknown)}; valid: {', '.join(sorted(avail))}"
                )
    if not train:
        raise ConfigError("no training languages left after removing the evaluation and dev languages")
    if not allow_overlap:
        for other_kind, other in (("evaluation", ev), ("dev", dev)):
            both = [x for x in train if x in other]
            if both:
                raise ConfigError(
                    f"training and {other_kind} languages overlap: {', '.join(both)} "
                    "(a model would be evaluated on languages it saw; pass --allow-overlap to do it anyway)"
                )
    return Split(train, ev, dev)


def _key(text: str) -> str:
    # Verbatim after strip: trailing spaces or a CR must not let a sentence slip through.
    return text.strip()


def forbidden_texts(bitexts: Mapping[str, Bitext]) -> frozenset[str]:
    """Every stripped sentence, either side, of the given languages' files: what training must never see."""
    out: set[str] = set()
    for bt in bitexts.values():
        out.update(_key(t) for t in bt.queries)
        out.update(_key(t) for t in bt.documents)
    out.discard("")
    return frozenset(out)


def drop_leaking_pairs(
    pairs: Sequence[tuple[str, str]], forbidden: frozenset[str] | set[str]
) -> tuple[list[tuple[str, str]], int]:
    """Remove every pair whose first or second text, stripped, is in ``forbidden``.

    Args:
        pairs: (non-English, English) training pairs.  forbidden: see :func:`forbidden_texts`.

    Returns:
        (kept pairs in their original order, number dropped).

    Example:
        >>> drop_leaking_pairs([("a", "Hi."), ("b", "Yes.")], {"Hi."})
        ([('b', 'Yes.')], 1)
    """
    kept = [p for p in pairs if _key(p[0]) not in forbidden and _key(p[1]) not in forbidden]
    return kept, len(pairs) - len(kept)
