"""Turn bitexts into retrieval tasks: queries, a deduplicated English corpus, and each query's gold."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.datasets.bitext import Bitext
from core.errors import DataError, UnknownNameError

Mode = Literal["pair", "pooled", "document"]
MODES: tuple[str, ...] = ("pair", "pooled", "document")
#: How a document's sentences become its text (what is stored, shown and windowed).
SENTENCE_JOIN = " "


@dataclass(frozen=True)
class Corpus:
    """A list of unique document texts; a document's id is its index.

    ``segments[i]``, for a corpus of multi-sentence documents (``document`` mode), holds document ``i``'s
    sentences in order (``documents[i]`` is them joined by :data:`SENTENCE_JOIN`): the units an encoder's
    windowing rule packs (:mod:`core.encoders.windows`). Empty for sentence corpora.
    """

    corpus_id: str
    documents: tuple[str, ...]
    segments: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class EnglishSide:
    """The one English side of a multi-way parallel set: ``sentences[i]`` has id ``ids[i]``; ``documents``
    (when the set has them) lists ``(document id, sentences)`` in order."""

    dataset: str
    ids: tuple[int, ...]
    sentences: tuple[str, ...]
    documents: tuple[tuple[str, tuple[str, ...]], ...] | None = None


@dataclass(frozen=True)
class RetrievalTask:
    """One language's queries against one corpus; ``gold[i]`` is the doc id of ``queries[i]``."""

    dataset: str
    mode: str
    lang: str
    corpus: Corpus
    qids: np.ndarray  # int64, the dataset's ids of the queries (Bitext.qids)
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
    bitexts: Mapping[str, Bitext],
    mode: str,
    max_queries: int | None = None,
    *,
    english: EnglishSide | None = None,
) -> list[RetrievalTask]:
    """Build one task per language of ``bitexts`` (in sorted language order).

    ``pair``: each language's queries against its own English side, or, for a multi-way parallel set
    (``english`` given), against the set's one English side, one corpus shared by every language (so it is
    encoded once per encoder); ``pooled``: every language's queries against the union of all English sides;
    ``document``: queries against the set's English documents (sentences joined in order), the gold being
    the query's own document. Identical document texts are one document, and a query's gold is that
    document, so duplicated English sentences cannot split the gold. ``max_queries`` keeps the first N
    queries of each language (qids stay the dataset's ids); the corpus always holds every document.

    Raises:
        UnknownNameError: unknown ``mode``.
        DataError: ``document`` without documents, or a query whose document is not among them.
    """
    if mode not in MODES:
        raise UnknownNameError("mode", mode, MODES)
    langs = sorted(bitexts)
    tasks: list[RetrievalTask] = []
    if mode == "document":
        if english is None or english.documents is None:
            raise DataError("mode 'document' needs a dataset with documents")
        doc_index = {doc: i for i, (doc, _) in enumerate(english.documents)}
        corpus = Corpus(
            f"{english.dataset}/document/eng",
            tuple(SENTENCE_JOIN.join(sents) for _, sents in english.documents),
            tuple(sents for _, sents in english.documents),
        )
    elif english is not None:
        docs, index = _dedupe(list(english.sentences))
        corpus = Corpus(f"{english.dataset}/pair/eng", docs)
    elif mode == "pooled":
        dataset = bitexts[langs[0]].dataset
        docs, index = _dedupe([d for lang in langs for d in bitexts[lang].documents])
        corpus = Corpus(pooled_corpus_id(dataset, langs), docs)
    for lang in langs:
        bt = bitexts[lang]
        if mode == "pair" and english is None:
            docs, index = _dedupe(list(bt.documents))
            corpus = Corpus(f"{bt.dataset}/pair/{lang}", docs)
        n = len(bt) if max_queries is None else min(len(bt), max_queries)
        if mode == "document":
            missing = [d for d in bt.doc_ids[:n] if d not in doc_index]
            if len(bt.doc_ids) < n or missing:
                raise DataError(f"{bt.dataset}/{lang}: queries without a document ({missing[:3]})")
            gold = np.fromiter((doc_index[d] for d in bt.doc_ids[:n]), dtype=np.int64, count=n)
        else:
            gold = np.fromiter((index[d] for d in bt.documents[:n]), dtype=np.int64, count=n)
        qids = np.asarray(bt.qids[:n], dtype=np.int64)
        tasks.append(RetrievalTask(bt.dataset, mode, lang, corpus, qids, bt.queries[:n], gold))
    return tasks
