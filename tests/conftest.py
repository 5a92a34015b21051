"""Fixtures shared by every test: the data folder, an isolated embedding cache, loaded encoders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Tests never read or write the user's cache or models: both move to a session temp folder."""
    if "CLIR_TEST_KEEP_CACHE" not in os.environ:
        os.environ["CLIR_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ.setdefault("CLIR_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    raw = os.environ.get("CLIR_DATA_DIR")
    if not raw or not Path(raw).is_dir():
        pytest.skip("CLIR_DATA_DIR is not set to the Tatoeba v1 folder")
    return Path(raw)


@pytest.fixture(scope="session")
def muse3():
    from core.encoders import load_encoder

    return load_encoder("muse3")


@pytest.fixture(scope="session")
def minilm():
    from core.encoders import load_encoder

    return load_encoder("minilm")
