"""The pooled corpus of every language's English side in a data folder, with each document's provenance.

No grid has to store it: live search offers it as a corpus of its own ("all English sides"), its vectors come
from the embedding cache, and a query's gold is its own English translation's document here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.datasets import available_languages, load_bitexts
from core.datasets.retrieval import _dedupe, pooled_corpus_id
from core.paths import data_dir

ALL_ENGLISH = "all-eng"  # the corpus name users type (CLI) and the dashboard keys its index by


@dataclass(frozen=True)
class PooledEnglish:
    """Deduplicated English sides of ``langs``: document ``i`` is ``documents[i]``, found in the English
    files of ``provenance[i]`` (sorted codes); ``gold[lang][qid]`` is the doc id of that query's translation,
    and ``qids[lang]`` maps a query text to its first qid."""

    dataset: str
    corpus_id: str
    langs: tuple[str, ...]
    documents: tuple[str, ...]
    provenance: tuple[tuple[str, ...], ...]
    gold: dict[str, np.ndarray] = field(repr=False)
    qids: dict[str, dict[str, int]] = field(repr=False)

    @property
    def label(self) -> str:
        """What a user sees, e.g. ``all English sides (106 languages)``."""
        return f"all English sides ({len(self.langs)} languages)"

    def gold_of(self, lang: str, text: str) -> tuple[int, int] | None:
        """``(qid, gold doc id)`` of ``text`` when it is one of ``lang``'s queries in the data, else None."""
        qid = self.qids.get(lang, {}).get(text)
        return None if qid is None else (qid, int(self.gold[lang][qid]))


def build_all_english(path: str | Path | None = None, dataset: str = "tatoeba") -> PooledEnglish:
    """Pool the English sides of every language loader ``dataset`` finds in ``path`` (default
    ``$CLIR_DATA_DIR``).

    Guarantees: the same files give the same corpus. Languages are read in sorted order and identical texts
    are one document, numbered by first occurrence, so documents (and their ids) equal those of
    :func:`core.datasets.build_tasks` in ``pooled`` mode over all languages, and the corpus id is that
    pooled corpus's (:func:`pooled_corpus_id`). A document's provenance lists every language whose English
    side holds it, sorted.

    Raises:
        DataError: missing, empty or malformed data folder.
    """
    langs = available_languages(dataset, path)
    bitexts = load_bitexts(dataset, langs, path)
    docs, index = _dedupe([d for lang in langs for d in bitexts[lang].documents])
    prov: list[set[str]] = [set() for _ in docs]
    gold, qids = {}, {}
    for lang in langs:
        bt = bitexts[lang]
        ids = np.fromiter((index[d] for d in bt.documents), dtype=np.int64, count=len(bt))
        for i in ids.tolist():
            prov[i].add(lang)
        gold[lang] = ids
        first: dict[str, int] = {}
        for qid, text in enumerate(bt.queries):
            first.setdefault(text, qid)
        qids[lang] = first
    return PooledEnglish(
        dataset, pooled_corpus_id(dataset, langs), tuple(langs), docs,
        tuple(tuple(sorted(p)) for p in prov), gold, qids,
    )  # fmt: skip


@lru_cache(maxsize=4)
def _cached(path: str, stamp: tuple, dataset: str) -> PooledEnglish:
    return build_all_english(path, dataset)


def all_english(path: str | Path | None = None, dataset: str = "tatoeba") -> PooledEnglish:
    """:func:`build_all_english`, built once per process for the same folder contents (names, sizes and
    modification times of its files), rebuilt when a file changes."""
    root = data_dir(path)
    stamp = tuple(
        sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in root.iterdir() if f.is_file())
    )
    return _cached(str(root), stamp, dataset)
