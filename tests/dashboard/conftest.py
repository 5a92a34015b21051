"""A small real results DB, built once per session by the real precompute (muse3, amh + deu, 40 queries)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GRID = """
[dataset]
name = "tatoeba"
mode = ["pair", "pooled"]
languages = ["amh", "deu"]
max_queries = 40

[grid]
encoders = ["muse3"]
noise = ["substitute"]
levels = [{levels}]
seeds = [0]
"""


def grid_text(levels: str = "0.1") -> str:
    """The test grid, with the given noise levels (a TOML list body)."""
    return GRID.format(levels=levels)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    raw = os.environ.get("CLIR_DATA_DIR")
    if not raw or not Path(raw).is_dir() or not any(Path(raw).glob("tatoeba.*-eng.eng")):
        pytest.skip("CLIR_DATA_DIR must point at the Tatoeba v1 folder to build the dashboard's test DB")
    return Path(raw)


@pytest.fixture(scope="session")
def small_db(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Path of the built DB; CLIR_DB and CLIR_CACHE_DIR point at it (and its cache) for the session."""
    from core.pipeline import parse_grid, run_grid

    root = tmp_path_factory.mktemp("dashdb")
    old = {k: os.environ.get(k) for k in ("CLIR_DB", "CLIR_CACHE_DIR")}
    os.environ["CLIR_CACHE_DIR"] = str(root / "cache")
    db = root / "small.duckdb"
    grid_file = root / "grid.toml"
    grid_file.write_text(grid_text(), encoding="utf-8")
    run_grid(parse_grid(grid_file.read_text(), str(grid_file)), db, progress=False, say=lambda _m: None)
    os.environ["CLIR_DB"] = str(db)
    yield db
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def use_db(small_db: Path):
    """Point CLIR_DB at another file for one test, then back at the session DB."""

    def _use(path: Path | str) -> None:
        os.environ["CLIR_DB"] = str(path)

    yield _use
    os.environ["CLIR_DB"] = str(small_db)


@pytest.fixture
def db_copy(small_db: Path, tmp_path: Path) -> Path:
    """A private copy of the session DB (for tests that write)."""
    dst = tmp_path / "copy.duckdb"
    shutil.copy(small_db, dst)
    return dst


# --- A database of two datasets, one of them multi-way parallel, written with the store's own writers -------

# FLORES-200 codes of several resource classes and scripts (data/languages.csv): class 2 Ethiopic and Latin,
# class 1 Devanagari and Latin, classes 4-5 Latin, Cyrillic and Devanagari, and one unclassified (acm_Arab).
FLORES_LANGS = ("amh_Ethi", "swh_Latn", "yor_Latn", "zul_Latn", "npi_Deva", "kin_Latn", "deu_Latn", "fra_Latn",
                "rus_Cyrl", "hin_Deva", "acm_Arab")  # fmt: skip
MULTIWAY_ENCODERS = ("e5-small", "labse-e5", "simcse-bitext-e5")
# Which model trained on which language (encoder_languages); a language absent from a list is "not seen",
# except simcse-bitext-e5's acm_Arab, left unrecorded (unknown). No model trained on yor, zul, kin or acm.
MULTIWAY_SEEN = {
    "e5-small": {"deu_Latn", "fra_Latn", "rus_Cyrl", "hin_Deva", "amh_Ethi", "swh_Latn", "npi_Deva", "deu", "amh"},
    "labse-e5": {"deu_Latn", "fra_Latn", "rus_Cyrl", "amh_Ethi", "swh_Latn", "deu"},
    "simcse-bitext-e5": {"deu_Latn", "fra_Latn", "deu"},
}  # fmt: skip
MULTIWAY_UNSEEN = ("acm_Arab", "kin_Latn", "yor_Latn", "zul_Latn")
N_MULTIWAY = 40  # queries per language


def multiway_ranks(encoder: int, lang: int, klass: int | None, noise: str) -> list[int]:
    """Deterministic ranks: clean mostly 1; noisy ranks that grow as the resource class falls (so lower-class
    languages lose more) and with the encoder's index; simcse-bitext-e5 (index 2) cannot read amh_Ethi
    (a floor)."""
    k = 3 if klass is None else klass
    out = []
    for q in range(N_MULTIWAY):
        if encoder == 2 and lang == 0:
            out.append(5 + q % 7)
        elif noise == "none":
            out.append(2 if q % 10 == 0 else 1)
        else:
            spread = 2 + 2 * (5 - k) + encoder + (noise == "delete") + lang % 2
            out.append(1 + (q * 7 + lang) % spread)
    return out


def build_multiway_db(path) -> None:
    """``flores200`` (pair mode, corpus ``flores200/pair/eng``, :data:`FLORES_LANGS`) and ``tatoeba`` (amh,
    deu) cells of :data:`MULTIWAY_ENCODERS`, clean plus substitute and delete at 0.2, noise seed 0, and each
    encoder's training languages (:data:`MULTIWAY_SEEN`), written as the runner writes them."""
    import json

    import numpy as np
    import pandas as pd

    from core.languages import load_languages
    from core.store import connect
    from core.store import writes as w

    registry = load_languages()
    cells, ranks = [], []
    for dataset, langs in (("flores200", FLORES_LANGS), ("tatoeba", ("amh", "deu"))):
        for e, enc in enumerate(MULTIWAY_ENCODERS):
            for i, lang in enumerate(langs):
                corpus = "flores200/pair/eng" if dataset == "flores200" else f"tatoeba/pair/{lang}"
                klass = registry[lang].resource_class if lang in registry else None
                for noise, level in (("none", 0.0), ("substitute", 0.2), ("delete", 0.2)):
                    key = {"dataset": dataset, "mode": "pair", "corpus": corpus, "lang": lang, "encoder": enc,
                           "noise": noise, "level": level, "seed": 0}  # fmt: skip
                    cells.append({**key, "fingerprint": f"fp-{enc}", "run_id": "r1", "n_queries": N_MULTIWAY,
                                  "n_docs": 1000, "seconds": 0.1, "completed_at": pd.Timestamp("2026-01-01"),
                                  "data_fingerprint": f"d-{dataset}-{lang}", "noise_version": "1"})  # fmt: skip
                    ranks.append(pd.DataFrame({**key, "qid": np.arange(N_MULTIWAY), "n_docs": 1000, "run_id": "r1",
                                               "rank": np.asarray(multiway_ranks(e, i, klass, noise), np.int32)}))  # fmt: skip
    with connect(path) as conn:
        w.write_cells(conn, pd.DataFrame(cells), pd.concat(ranks, ignore_index=True), pd.DataFrame())
        every = [*FLORES_LANGS, "amh", "deu"]
        for enc in MULTIWAY_ENCODERS:
            seen = {lang: lang in MULTIWAY_SEEN[enc] for lang in every}
            if enc == "simcse-bitext-e5":
                del seen["acm_Arab"]  # not recorded: unknown
            w.record_encoder(conn, enc, f"fp-{enc}", json.dumps({"kind": "test"}), "r1", seen)


@pytest.fixture(scope="session")
def multiway_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a database built by :func:`build_multiway_db` (no data folder needed)."""
    db = tmp_path_factory.mktemp("multiway") / "multiway.duckdb"
    build_multiway_db(db)
    return db
