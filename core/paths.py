"""Where things live: the repository, the data, the caches, the models.

Every location can be overridden by an environment variable so that CI, tests and users on other machines
can point the project elsewhere without editing code.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Return the benchmark data directory: ``explicit`` if given, else ``$CLIR_DATA_DIR``.

    Raises:
        DataError: when neither is set, or the directory does not exist.
    """
    raw = explicit if explicit not in (None, "") else os.environ.get("CLIR_DATA_DIR")
    if not raw:
        raise DataError(
            "no data directory: set CLIR_DATA_DIR to the Tatoeba v1 folder (see README, 'make data')"
        )
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise DataError(
            f"data directory {str(path)!r} does not exist: put the Tatoeba v1 files there or set "
            "CLIR_DATA_DIR to their folder ('make data' fetches them)"
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
