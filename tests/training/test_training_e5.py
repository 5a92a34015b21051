"""Tiny real trainings from the multilingual base e5-small-torch: every new objective registers, reloads
through the registry and encodes unit vectors deterministically for a seed; ot-distill makes an asymmetric
dual encoder whose queries go through the student and documents through the teacher, end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.encoders import EmbeddingCache, document_side, load_encoder, query_side, registry
from core.encoders.asymmetric import side_fingerprints
from core.errors import EncoderUnavailable
from core.pipeline import run_grid
from core.pipeline.grid import parse_grid
from core.store import connect
from core.store import queries as q
from core.training import Split, train_simcse
from core.training.defaults import recipe_config

pytestmark = pytest.mark.slow

SPLIT = Split(train_langs=("fra", "spa", "pol"), eval_langs=("deu",), dev_langs=("afr",))
# A large learning rate so that two steps move the student far from its teacher: a test that swapped the
# two sides must see different vectors.
TINY = {"steps": 2, "batch_size": 8, "max_pairs": 64, "max_seq_length": 24, "ot_iterations": 10,
        "learning_rate": 1e-3}  # fmt: skip
PROBE = ["Das Haus ist rot.", "Ninapenda chai.", "ቤቱ ቀይ ነው።", ""]
RUNS = {
    "tiny-bitext-e5": ("bitext", 0),
    "tiny-typo": ("typo-contrastive", 0),
    "tiny-typo-again": ("typo-contrastive", 0),
    "tiny-typo-seed1": ("typo-contrastive", 1),
    "tiny-optical": ("ot-distill", 0),
    "tiny-optical-again": ("ot-distill", 0),
    "tiny-optical-seed1": ("ot-distill", 1),
    "tiny-labse": ("labse-ams", 0),
    "tiny-labse-m0": ("labse-ams", 0, {"margin": 0.0}),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory, data_dir):
    """A private models dir holding the session's built port (linked, not rebuilt) and the tiny models."""
    from core.encoders.e5_port import build_port
    from core.paths import private_models_dir

    build_port()  # in the session's models dir, shared by the private one below
    root = private_models_dir(tmp_path_factory.mktemp("e5models"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIR_MODELS_DIR", str(root))
        for name, (objective, seed, *extra) in RUNS.items():
            fields = {**TINY, **(extra[0] if extra else {})}
            config = recipe_config("e5-small-torch", objective, name, SPLIT, seed=seed, **fields)
            train_simcse(config, root / name, progress=False)
        yield root


@pytest.fixture
def in_models(models, monkeypatch):
    monkeypatch.setenv("CLIR_MODELS_DIR", str(models))
    return models


def _card(root: Path, name: str) -> dict:
    return json.loads((root / name / "clir_encoder.json").read_text(encoding="utf-8"))


def test_cards_record_kind_loss_recipe_and_sides(in_models):
    specs = registry()
    assert specs["tiny-bitext-e5"]["kind"] == "e5-torch" and specs["tiny-typo"]["kind"] == "e5-torch"
    assert specs["tiny-optical"]["kind"] == "asymmetric"
    assert specs["tiny-optical"]["document"] == "e5-small-torch"
    typo, optical = _card(in_models, "tiny-typo"), _card(in_models, "tiny-optical")
    assert typo["encoder_kind"] == "e5-torch" and typo["document_encoder"] is None
    assert "1.0 * InfoNCE_sym(clean source, noisy source)" in typo["loss"]["formula"]
    assert typo["noise"]["types"] and typo["freeze_embeddings"] is True
    assert optical["document_encoder"] == "e5-small-torch" and optical["loss"]["ot_epsilon"] == 0.05
    assert "Sinkhorn" in optical["loss"]["formula"] and "2301.12566" in optical["loss"]["source"]
    assert optical["eval_langs"] == ["deu"] and optical["dropped_leaking_pairs"] > 0
    assert (
        "Tatoeba" in typo["training_data"] and "no FLORES-200 (SIB-200) or NTREX-128" in typo["training_data"]
    )


@pytest.mark.parametrize("objective", ["tiny-typo", "tiny-optical"])
def test_new_objectives_reload_and_encode_unit_vectors_deterministically(in_models, objective):
    first = query_side(load_encoder(objective)).encode(PROBE)
    again = query_side(load_encoder(f"{objective}-again")).encode(PROBE)
    other_seed = query_side(load_encoder(f"{objective}-seed1")).encode(PROBE)
    assert first.shape == (len(PROBE), 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first, again)  # same seed, same weights, same vectors
    assert np.abs(first - other_seed).max() > 1e-3  # the seed matters


def test_labse_objective_card_names_its_loss_margin_and_budget(in_models):
    card = _card(in_models, "tiny-labse")
    assert card["objective"] == "labse-ams" and card["loss"]["margin"] == 0.3 and card["loss"]["scale"] == 20
    assert "additive margin" in card["loss"]["formula"] and "2007.01852" in card["loss"]["source"]
    assert card["pairs_seen"] == TINY["steps"] * TINY["batch_size"] and card["device"] == "cpu"
    assert 0 < card["train_loop_seconds"] <= card["train_seconds"]  # what --steps projections rest on
    assert registry()["tiny-labse"]["kind"] == "e5-torch"  # a symmetric shared-weight dual encoder


def test_labse_objective_differs_from_bitext_by_the_margin_alone(in_models):
    """Same seed, pairs, batches, scale and pooling: with margin 0 the model is bitext's; with 0.3 it is not."""
    bitext = load_encoder("tiny-bitext-e5").encode(PROBE)
    margin0 = load_encoder("tiny-labse-m0").encode(PROBE)
    labse = load_encoder("tiny-labse").encode(PROBE)
    np.testing.assert_allclose(margin0, bitext, atol=1e-5)
    assert np.abs(labse - bitext).max() > 1e-3


def test_embedding_matrix_stays_frozen_and_the_rest_trains(in_models):
    from safetensors.numpy import load_file

    base = load_file(str(next((in_models / "_built").iterdir()) / "model.safetensors"))
    trained = load_file(str(in_models / "tiny-bitext-e5" / "model.safetensors"))
    word = next(k for k in base if k.endswith("word_embeddings.weight"))
    np.testing.assert_array_equal(base[word], trained[word])
    layer = next(k for k in base if k.endswith("layer.0.attention.self.query.weight"))
    assert np.abs(base[layer] - trained[layer]).max() > 0


def test_asymmetric_encoder_refuses_to_guess_a_side(in_models):
    enc = load_encoder("tiny-optical")
    teacher = load_encoder("e5-small-torch")
    assert document_side(enc).fingerprint == teacher.fingerprint
    assert query_side(enc).fingerprint != teacher.fingerprint
    with pytest.raises(TypeError, match="asymmetric"):
        enc.encode(["x"])


def test_pipeline_encodes_queries_with_the_student_and_documents_with_the_teacher(in_models, tmp_path):
    grid = parse_grid(
        '[dataset]\nname = "tatoeba"\nmode = ["pair"]\nlanguages = ["deu"]\nmax_queries = 40\n'
        '[grid]\nencoders = ["tiny-optical"]\nnoise = ["substitute"]\nlevels = [0.1]\nseeds = [0]\n'
    )
    db = tmp_path / "asym.duckdb"
    run_grid(grid, db, progress=False)
    with connect(db, read_only=True) as conn:
        rows = q.rank_rows(conn, encoder=["tiny-optical"], noise=["none"])
        docs = q.documents(conn, rows.corpus.iloc[0])["text"].tolist()
        stored = q.encoders(conn)
    enc = load_encoder("tiny-optical")
    student, teacher = query_side(enc), document_side(enc)
    queries = rows.query_noisy.tolist()
    right = student.encode(queries) @ teacher.encode(docs).T
    swapped = teacher.encode(queries) @ student.encode(docs).T
    top = np.array([s[0] for s in rows.top_scores])
    np.testing.assert_allclose(top, right.max(1), atol=1e-5)
    assert np.abs(top - swapped.max(1)).max() > 1e-3  # a pipeline with the sides swapped fails here
    ranks = 1 + (right > right[np.arange(len(rows)), rows.qid.to_numpy()][:, None]).sum(1)
    np.testing.assert_array_equal(rows["rank"].to_numpy(), ranks)
    # Vectors are cached per side: queries under the student's fingerprint, documents under the teacher's.
    spec = json.loads(stored.spec_json.iloc[0])
    q_fp, d_fp = side_fingerprints(stored.fingerprint.iloc[0], spec)
    assert (q_fp, d_fp) == (student.fingerprint, teacher.fingerprint)
    qc, dc = EmbeddingCache(q_fp), EmbeddingCache(d_fp)
    try:
        assert len(qc.get(queries)) == len(set(queries)) and not qc.get(docs[:5])
        assert len(dc.get(docs)) == len(set(docs))
    finally:
        qc.close(), dc.close()
    # The TREC export finds each side's vectors and reproduces the stored MRR through ranx.
    from ranx import Qrels, Run, evaluate

    from precompute.export import export

    files = export(db, tmp_path / "trec", fmt="trec", noise=["none"])
    run = next(f for f in files if f.suffix == ".run")
    qrels = next(f for f in files if f.suffix == ".qrels")
    ranx_mrr = evaluate(Qrels.from_file(str(qrels), kind="trec"), Run.from_file(str(run), kind="trec"), "mrr")
    assert abs(ranx_mrr - np.mean(1.0 / rows["rank"])) < 1e-4


def test_untrainable_bases_say_what_to_train_instead(in_models):
    config = recipe_config("e5-small", "bitext", "x-e5", SPLIT, **TINY)
    with pytest.raises(EncoderUnavailable, match="train its torch port e5-small-torch"):
        train_simcse(config, in_models / "x-e5", progress=False)
    assert not (in_models / "x-e5").exists()
    with pytest.raises(Exception, match="symmetric base"):
        train_simcse(recipe_config("tiny-optical", "ot-distill", "x2", SPLIT, **TINY), in_models / "x2")
    assert os.listdir(in_models).count("x2") == 0


def test_live_search_uses_the_student_for_the_query_and_the_teacher_for_documents(
    in_models, tmp_path, monkeypatch
):
    from dashboard import data

    grid = parse_grid(
        '[dataset]\nname = "tatoeba"\nmode = ["pair"]\nlanguages = ["deu"]\nmax_queries = 10\n'
        '[grid]\nencoders = ["e5-small-torch"]\nnoise = ["substitute"]\nlevels = [0.1]\nseeds = [0]\n'
    )
    db = tmp_path / "live.duckdb"
    run_grid(grid, db, progress=False)
    monkeypatch.setenv("CLIR_DB", str(db))
    with connect(db, read_only=True) as conn:
        corpus = q.cells(conn)["corpus"].iloc[0]
        docs = q.documents(conn, corpus)["text"].tolist()
    enc, err = data.encoder("tiny-optical")
    assert err is None
    student, teacher = query_side(enc), document_side(enc)
    index = data.doc_index("tiny-optical", teacher.fingerprint, corpus, data.stamp())
    doc_vectors = teacher.encode(docs)  # once: 1000 documents through e5 (encoding is deterministic)
    np.testing.assert_allclose(index.matrix, doc_vectors, atol=1e-5)
    text = "Ich habe Hunger."
    top, all_scores, _ = data.search("tiny-optical", index, [text])
    all_scores = all_scores[0]
    np.testing.assert_allclose(all_scores, doc_vectors @ student.encode([text])[0], atol=1e-5)
    assert np.abs(all_scores - doc_vectors @ teacher.encode([text])[0]).max() > 1e-3


def test_recipe_table_is_read_from_the_cards(in_models):
    from core.training.cards import read_cards, recipe_markdown

    table = recipe_markdown(read_cards(in_models))
    assert (
        "| `tiny-labse` | e5-small-torch | labse-ams | 0 | 2 x 8 = 16 | 0.001 | 24 | yes | margin 0.3, scale 20 |"
        in table
    )
    assert (
        "| `tiny-typo-seed1` | e5-small-torch | typo-contrastive | 1 |" in table and "typo weight 1" in table
    )
