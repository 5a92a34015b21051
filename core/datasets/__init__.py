"""Dataset loaders behind one registry, and the retrieval tasks built from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from core.datasets.bitext import Bitext
from core.datasets.flores import SPLITS as FLORES_SPLITS
from core.datasets.flores import flores_english, flores_label, flores_languages, load_flores
from core.datasets.generic import generic_languages, load_generic
from core.datasets.ntrex import english_documents, load_ntrex, ntrex_english, ntrex_languages
from core.datasets.retrieval import (
    MODES,
    Corpus,
    EnglishSide,
    RetrievalTask,
    build_tasks,
    pooled_corpus_id,
)
from core.datasets.tatoeba import load_tatoeba, tatoeba_languages
from core.errors import ConfigError, DataError, UnknownNameError
from core.paths import data_dir

__all__ = [
    "Bitext", "Corpus", "EnglishSide", "RetrievalTask", "MODES", "LOADERS", "Loader", "build_tasks",
    "pooled_corpus_id", "load_bitexts", "available_languages", "load_tatoeba", "load_generic", "load_tasks",
    "check_dataset_options", "dataset_label", "is_multiway", "is_document_corpus", "corpus_segments",
]  # fmt: skip


@dataclass(frozen=True)
class Loader:
    """How one dataset is read.

    ``languages(path)`` lists its codes and ``load(path, lang, split)`` reads one language's bitext.
    A multi-way parallel set (the same English sentences in every language) also has ``english(path,
    split)``, its one English side as ``(qids, sentences)``; ``documents(path)``, when the set groups its
    sentences into documents, gives ``(document id, sentences)`` in order; ``splits`` are the subsets a grid may
    select (``split = "test"``).
    """

    languages: Callable[[Path], list[str]]
    load: Callable[[Path, str, str | None], Bitext]
    english: Callable[[Path, str | None], tuple[tuple[int, ...], tuple[str, ...]]] | None = None
    documents: Callable[[Path], tuple[tuple[str, tuple[str, ...]], ...]] | None = None
    splits: tuple[str, ...] = ()
    label: Callable[[str | None], str] | None = None

    @property
    def multiway(self) -> bool:
        """Whether every language shares one English side."""
        return self.english is not None


def _no_split(load: Callable[[Path, str], Bitext]) -> Callable[[Path, str, str | None], Bitext]:
    return lambda path, lang, split=None: load(path, lang)


LOADERS: dict[str, Loader] = {
    "tatoeba": Loader(tatoeba_languages, _no_split(load_tatoeba)),
    "generic": Loader(generic_languages, _no_split(load_generic)),
    "flores200": Loader(
        flores_languages, load_flores, flores_english, splits=FLORES_SPLITS, label=flores_label
    ),
    "ntrex128": Loader(ntrex_languages, load_ntrex, ntrex_english, english_documents),
}
#: Stored dataset names of multi-way parallel sets (a FLORES-200 split is ``flores200-<split>``).
MULTIWAY_PREFIXES = tuple(name for name, spec in LOADERS.items() if spec.multiway)


def is_multiway(dataset: str) -> bool:
    """Whether a stored dataset name is a multi-way parallel set (``flores200``, ``flores200-test``,
    ``ntrex128``): every language's queries are translations of the same English sentences."""
    return isinstance(dataset, str) and dataset.split("-")[0] in MULTIWAY_PREFIXES


def is_document_corpus(corpus_id: str) -> bool:
    """Whether a stored corpus id is a ``document`` corpus (``ntrex128/document/eng``): its vectors are an
    encoder's windowing rule's, kept under :func:`core.encoders.windows.document_key` of each text."""
    parts = corpus_id.split("/") if isinstance(corpus_id, str) else []
    return len(parts) == 3 and parts[1] == "document"


def corpus_segments(corpus_id: str, path: str | Path | None = None) -> tuple[tuple[str, ...], ...]:
    """The sentences of each document of a stored ``document`` corpus, read again from its dataset's folder
    (default: the dataset's folder variable), in doc-id order.

    Raises:
        DataError: not a document corpus, or its dataset's folder is missing or malformed.
    """
    name = corpus_id.split("/")[0].split("-")[0] if is_document_corpus(corpus_id) else ""
    spec = LOADERS.get(name)
    if spec is None or spec.documents is None:
        raise DataError(f"{corpus_id!r} is not a document corpus of a dataset with documents")
    return tuple(sentences for _, sentences in spec.documents(data_dir(path, name)))


def _loader(name: str) -> Loader:
    if name not in LOADERS:
        raise UnknownNameError("dataset loader", name, LOADERS)
    return LOADERS[name]


def dataset_label(name: str, split: str | None = None) -> str:
    """The dataset name stored with ``name``'s cells (``flores200-test`` for one split of FLORES-200); a name
    no loader has (a stored run of a synthetic benchmark) is its own label."""
    spec = LOADERS.get(name)
    return spec.label(split) if spec is not None and spec.label else name


def check_dataset_options(name: str, modes: Iterable[str] = ("pair",), split: str | None = None) -> None:
    """Refuse what ``name`` cannot do before anything is read: an unknown loader, mode or split, ``document``
    on a dataset without documents, ``pooled`` on a multi-way set (where it is ``pair``), a split on a dataset
    without splits.

    Raises:
        UnknownNameError: unknown loader, mode or split.  ConfigError: a mode or split the dataset lacks.
    """
    spec = _loader(name)
    for mode in modes:
        if mode not in MODES:
            raise UnknownNameError("mode", mode, MODES)
        if mode == "document" and spec.documents is None:
            with_docs = [n for n, s in LOADERS.items() if s.documents is not None]
            raise ConfigError(
                f"mode 'document' needs a dataset with documents ({', '.join(with_docs)}); {name} has none"
            )
        if mode == "pooled" and spec.multiway:
            raise ConfigError(
                f"mode 'pooled' on {name} is 'pair': every language already shares the one English side"
            )
    if split is not None:
        if not spec.splits:
            raise ConfigError(f"dataset {name} has no splits (split = {split!r})")
        if split not in spec.splits:
            raise UnknownNameError("split", split, spec.splits)


def available_languages(name: str, path: str | Path | None = None, split: str | None = None) -> list[str]:
    """Languages the loader ``name`` finds in ``path`` (default: the dataset's folder variable), sorted.
    (``split`` is validated; every split of a FLORES-200 language is in its one folder.)

    Raises:
        UnknownNameError: unknown loader or split.  DataError: missing or empty directory.
    """
    check_dataset_options(name, (), split)
    return _loader(name).languages(data_dir(path, name))


def load_bitexts(
    name: str, languages: Iterable[str], path: str | Path | None = None, split: str | None = None
) -> dict[str, Bitext]:
    """Load every language of ``languages`` with loader ``name`` from ``path`` (default: the dataset's folder
    variable, :data:`core.paths.DATA_VARIABLES`).

    All languages are validated before any is read, so a typo fails fast with the list of valid codes.

    Raises:
        UnknownNameError: unknown loader, language or split.  DataError: missing, empty or malformed data.
    """
    spec = _loader(name)
    check_dataset_options(name, (), split)
    root = data_dir(path, name)
    languages = list(dict.fromkeys(languages))
    if not languages:
        raise DataError("no languages requested")
    valid = spec.languages(root)
    for lang in languages:
        if lang not in valid:
            raise UnknownNameError("language", lang, valid)
    return {lang: spec.load(root, lang, split) for lang in languages}


def load_tasks(
    name: str,
    languages: Iterable[str],
    modes: Iterable[str],
    path: str | Path | None = None,
    *,
    max_queries: int | None = None,
    split: str | None = None,
) -> list[RetrievalTask]:
    """Every retrieval task of a grid: for each mode, one per language (sorted), built by
    :func:`build_tasks` from the loader's bitexts, with the one English side (and its documents) of a
    multi-way parallel set read once.

    Raises:
        UnknownNameError, ConfigError: see :func:`check_dataset_options`.  DataError: unreadable data.
    """
    modes = list(dict.fromkeys(modes))
    check_dataset_options(name, modes, split)
    spec = _loader(name)
    bitexts = load_bitexts(name, languages, path, split)
    english = None
    if spec.multiway:
        root = data_dir(path, name)
        ids, sentences = spec.english(root, split)
        docs = spec.documents(root) if spec.documents is not None and "document" in modes else None
        english = EnglishSide(dataset_label(name, split), ids, sentences, docs)
    return [t for mode in modes for t in build_tasks(bitexts, mode, max_queries, english=english)]
