"""Turn bitexts into retrieval tasks: queries, a deduplicated English corpus, and each query's gold."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.datasets.bitext import Bitext
from core.errors import UnknownNameError

Mode = Literal["pair", "pooled"]
MODES: tuple[str, ...] = ("pair", "pooled")


@dataclass(frozen=True)
class Corpus:
    """A list of unique document texts; a document's id is its index."""

    corpus_id: str
    documents: tuple[str, ...]


@dataclass(frozen=True)
class RetrievalTask:
    """One language's queries against one corpus; ``gold[i]`` is the doc id of ``queries[i]``."""

    dataset: str
    mode: str
    lang: str
    corpus: Corpus
    qids: np.ndarray  # int64, 0-based rows of the bitext
    queries: tuple[str, ...]
    gold: np.ndarray  # int64 doc ids into corpus.documents

    @property
    def n_docs(self) -> int:
        return len(self.corpus.documents)


def pooled_corpus_id(dataset: str, langs: list[str]) -> str:
    """Name of the pooled corpus of ``langs``: stable for the same set, different for another set."""
    digest = hashlib.sha1(",".join(sorted(langs)).encode()).hexdigest()[:10]
    return f"{dataset}/pooled/{digest}"


def _dedupe(texts: list[str]) -> tuple[tuple[str, ...], dict[str, int]]:
    # First-occurrence order keeps doc ids stable when the same files are read again.
    index: dict[str, int] = {}
    for t in texts:
        index.setdefault(t, len(index))
    return tuple(index), index


def build_tasks(
    bitexts: Mapping[str, Bitext], mode: str, max_queries: int | None = None
) -> list[RetrievalTask]:
    """Build one task per language of ``bitexts`` (in sorted language order).

    ``pair``: each language's queries against its own English side; ``pooled``: every language's queries
    against the union of all English sides. Identical document texts are one document, and a query's gold is
    that document, so duplicated English sentences cannot split the gold. ``max_queries`` keeps the first
    N queries of each language (qids stay line numbers); the corpus always holds every document.

    Raises:
        UnknownNameError: ``mode`` is not ``pair`` or ``pooled``.
    """
    if mode not in MODES:
        raise UnknownNameError("mode", mode, MODES)
    langs = sorted(bitexts)
    tasks: list[RetrievalTask] = []
    if mode == "pooled":
        dataset = bitexts[langs[0]].dataset
        docs, index = _dedupe([d for lang in langs for d in bitexts[lang].documents])
        corpus = Corpus(pooled_corpus_id(dataset, langs), docs)
    for lang in langs:
        bt = bitexts[lang]
        if mode == "pair":
            docs, index = _dedupe(list(bt.documents))
            corpus = Corpus(f"{bt.dataset}/pair/{lang}", docs)
        n = len(bt) if max_queries is None else min(len(bt), max_queries)
        gold = np.fromiter((index[d] for d in bt.documents[:n]), dtype=np.int64, count=n)
        qids = np.arange(n, dtype=np.int64)
        tasks.append(RetrievalTask(bt.dataset, mode, lang, corpus, qids, bt.queries[:n], gold))
    return tasks
