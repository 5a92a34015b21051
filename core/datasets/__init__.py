"""Dataset loaders behind one registry, and the retrieval tasks built from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from core.datasets.bitext import Bitext
from core.datasets.generic import generic_languages, load_generic
from core.datasets.retrieval import MODES, Corpus, RetrievalTask, build_tasks, pooled_corpus_id
from core.datasets.tatoeba import load_tatoeba, tatoeba_languages
from core.errors import DataError, UnknownNameError
from core.paths import data_dir

__all__ = [
    "Bitext", "Corpus", "RetrievalTask", "MODES", "LOADERS", "build_tasks", "pooled_corpus_id",
    "load_bitexts", "available_languages", "load_tatoeba", "load_generic",
]  # fmt: skip

# name -> (list languages in a folder, load one language)
LOADERS: dict[str, tuple[Callable[[Path], list[str]], Callable[[Path, str], Bitext]]] = {
    "tatoeba": (tatoeba_languages, load_tatoeba),
    "generic": (generic_languages, load_generic),
}


def _loader(name: str):
    if name not in LOADERS:
        raise UnknownNameError("dataset loader", name, LOADERS)
    return LOADERS[name]


def available_languages(name: str, path: str | Path | None = None) -> list[str]:
    """Languages the loader ``name`` finds in ``path`` (default ``$CLIR_DATA_DIR``), sorted.

    Raises:
        UnknownNameError: unknown loader.  DataError: missing or empty directory.
    """
    return _loader(name)[0](data_dir(path))


def load_bitexts(name: str, languages: Iterable[str], path: str | Path | None = None) -> dict[str, Bitext]:
    """Load every language of ``languages`` with loader ``name`` from ``path`` (default ``$CLIR_DATA_DIR``).

    All languages are validated before any is read, so a typo fails fast with the list of valid codes.

    Raises:
        UnknownNameError: unknown loader or language.  DataError: missing, empty or malformed data.
    """
    list_langs, load = _loader(name)
    root = data_dir(path)
    languages = list(dict.fromkeys(languages))
    if not languages:
        raise DataError("no languages requested")
    valid = list_langs(root)
    for lang in languages:
        if lang not in valid:
            raise UnknownNameError("language", lang, valid)
    return {lang: load(root, lang) for lang in languages}
