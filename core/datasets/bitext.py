"""Line-aligned bitext: the unit every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import DataError


@dataclass(frozen=True)
class Bitext:
    """One language's aligned pairs: ``queries[i]`` translates to ``documents[i]``.

    ``qid`` of a query is its 0-based position (for Tatoeba, its line number in the language's files).
    """

    dataset: str
    lang: str
    queries: tuple[str, ...]
    documents: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.queries) != len(self.documents):
            raise DataError(
                f"{self.dataset}/{self.lang}: {len(self.queries)} queries but "
                f"{len(self.documents)} documents; the two sides must be line-aligned"
            )
        if not self.queries:
            raise DataError(f"{self.dataset}/{self.lang}: no pairs")

    def __len__(self) -> int:
        return len(self.queries)
