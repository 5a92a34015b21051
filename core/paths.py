"""Where things live: the repository, the data, the caches, the models.

Every location can be overridden by an environment variable so that CI, tests and users on other machines
can point the project elsewhere without editing code.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent


#: The environment variable that names each dataset's folder (``generic`` shares Tatoeba's variable).
DATA_VARIABLES = {
    "tatoeba": "CLIR_DATA_DIR",
    "generic": "CLIR_DATA_DIR",
    "flores200": "CLIR_FLORES200_DIR",
    "ntrex128": "CLIR_NTREX128_DIR",
}
_FILES = {
    "CLIR_DATA_DIR": "the Tatoeba v1 files",
    "CLIR_FLORES200_DIR": "the SIB-200 files (FLORES-200 sentences)",
    "CLIR_NTREX128_DIR": "the NTREX-128 files",
}


def data_dir(explicit: str | os.PathLike | None = None, dataset: str = "tatoeba") -> Path:
    """Return the folder of ``dataset``'s files: ``explicit`` if given, else its variable in
    :data:`DATA_VARIABLES` (``$CLIR_DATA_DIR`` for Tatoeba and generic bitexts).

    Raises:
        DataError: when neither is set, or the directory does not exist.
    """
    var = DATA_VARIABLES.get(dataset, "CLIR_DATA_DIR")
    files = _FILES[var]
    raw = explicit if explicit not in (None, "") else os.environ.get(var)
    if not raw:
        raise DataError(f"no data directory: set {var} to the folder of {files} (see README, 'make data')")
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise DataError(
            f"data directory {str(path)!r} does not exist: put {files} there "
            f"or set {var} to their folder ('make data' fetches them)"
        )
    return path


def cache_dir() -> Path:
    """Return (and create) the embedding-cache directory, ``$CLIR_CACHE_DIR`` or ``<repo>/cache``."""
    path = Path(os.environ.get("CLIR_CACHE_DIR") or REPO_ROOT / "cache").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Return the folder where trained encoders live, ``$CLIR_MODELS_DIR`` or ``<repo>/models``."""
    return Path(os.environ.get("CLIR_MODELS_DIR") or REPO_ROOT / "models").expanduser()


def default_db_path() -> Path:
    """Return the demo grid's database path, ``$CLIR_DB`` or ``<repo>/results/demo.duckdb``."""
    return Path(os.environ.get("CLIR_DB") or REPO_ROOT / "results" / "demo.duckdb").expanduser()


def private_models_dir(root: Path) -> Path:
    """Make ``root`` a models folder of its own that shares the built e5 port of :func:`models_dir`.

    Benchmarks and tests train into such a folder so the user's ``models/`` is untouched, and link the
    port's ``_built`` folder instead of rebuilding it (a minute, and 470 MB each time). Returns ``root``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    built = models_dir() / "_built"
    if built.is_dir() and not (root / "_built").exists():
        (root / "_built").symlink_to(built.resolve(), target_is_directory=True)
    return root
