"""Line-aligned bitext: the unit every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import DataError


@dataclass(frozen=True)
class Bitext:
    """One language's aligned pairs: ``queries[i]`` translates to ``documents[i]``.

    ``qids[i]`` is the dataset's own id of pair ``i`` (Tatoeba: its 0-based line number, the default when
    ``qids`` is empty; FLORES-200: ``index_id``; NTREX-128: the 0-based line). ``doc_ids[i]``, when the dataset
    groups its sentences into documents (NTREX-128's news stories), names the document of pair ``i``.
    ``documents`` of a multi-way parallel set is the one English side, the same for every language.
    """

    dataset: str
    lang: str
    queries: tuple[str, ...]
    documents: tuple[str, ...]
    qids: tuple[int, ...] = ()
    doc_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.queries) != len(self.documents):
            raise DataError(
                f"{self.dataset}/{self.lang}: {len(self.queries)} queries but "
                f"{len(self.documents)} documents; the two sides must be line-aligned"
            )
        if not self.queries:
            raise DataError(f"{self.dataset}/{self.lang}: no pairs")
        if not self.qids:
            object.__setattr__(self, "qids", tuple(range(len(self.queries))))
        if len(self.qids) != len(self.queries) or len(set(self.qids)) != len(self.qids):
            raise DataError(f"{self.dataset}/{self.lang}: query ids must be unique, one per pair")
        if self.doc_ids and len(self.doc_ids) != len(self.queries):
            raise DataError(
                f"{self.dataset}/{self.lang}: {len(self.doc_ids)} document ids for {len(self)} pairs"
            )

    def __len__(self) -> int:
        return len(self.queries)
