"""Grids naming flores200 and ntrex128 run end to end on hand-written files, with ranks equal to an independent
recomputation (the model called directly, cosine, rank), the English side encoded once, document retrieval
through each encoder's windowing rule, and bad grids refused before the database changes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from core.datasets.codes import noise_language
from core.encoders.windows import pack_sentences
from core.noise import apply_noise
from core.paths import REPO_ROOT
from core.pipeline import parse_grid, run_grid
from core.pipeline.plan import format_plan, plan_grid
from core.store import connect
from tests.core.test_multiway_datasets import DOCS, ENGLISH, SENTENCES, write_flores, write_ntrex

pytestmark = pytest.mark.slow

FLORES = """
[dataset]
name = "flores200"
path = "{path}"
languages = ["xho_Latn", "amh_Ethi"]
[grid]
encoders = ["minilm"]
noise = ["keyboard"]
levels = [0.3]
"""

NTREX = """
[dataset]
name = "ntrex128"
path = "{path}"
mode = ["pair", "document"]
languages = ["amh", "aze-Latn"]
[grid]
encoders = ["{encoder}"]
noise = ["delete"]
levels = [0.3]
"""


def _ranks(db) -> dict:
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT dataset, mode, corpus, lang, encoder, noise, qid, rank FROM ranks ORDER BY ALL"
        ).fetchall()
    return {tuple(r[:7]): r[7] for r in rows}


def _rank(q: np.ndarray, docs: np.ndarray, gold: int) -> int:
    scores = docs @ q
    return 1 + int((scores > scores[gold]).sum())


def test_flores_grid_ranks_equal_a_direct_computation(tmp_path, minilm):
    root = write_flores(tmp_path / "flores")
    db = tmp_path / "f.duckdb"
    report = run_grid(parse_grid(FLORES.format(path=root)), db, progress=False)
    assert report.cells_written == 4
    stored = _ranks(db)
    english = list(dict.fromkeys(SENTENCES[i][0] for i in sorted(SENTENCES)))  # duplicates are one document
    docs = minilm.encode(english)
    for lang, col in (("xho_Latn", 1), ("amh_Ethi", 2)):
        for qid in sorted(SENTENCES):
            text = SENTENCES[qid][col]
            gold = english.index(SENTENCES[qid][0])
            noisy = apply_noise(text, "keyboard", 0.3, seed=0, qid=qid, lang=noise_language(lang)).noisy
            for noise, query in (("none", text), ("keyboard", noisy)):
                want = _rank(minilm.encode([query])[0], docs, gold)
                key = ("flores200", "pair", "flores200/pair/eng", lang, "minilm", noise, qid)
                assert stored[key] == want, (key, query)
    with connect(db) as conn:
        # One corpus for both languages, its documents stored once; seen-in-training per FLORES code.
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 4
        assert conn.execute("SELECT DISTINCT corpus FROM gold").fetchall() == [("flores200/pair/eng",)]
    again = run_grid(parse_grid(FLORES.format(path=root)), db, progress=False)
    assert again.cells_written == 0 and again.cells_skipped == 4  # resumes like any grid


def test_english_side_is_encoded_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIR_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached: count every encoding
    root = write_flores(tmp_path / "flores")
    grid = parse_grid(FLORES.format(path=root))
    plan = plan_grid(grid)
    (enc,) = plan.encoders
    assert enc.documents == 4 and plan.corpora == {"flores200/pair/eng": (4, 2)}
    assert "flores200/pair/eng (4 documents) shared by 2 languages" in format_plan(plan)
    report = run_grid(grid, tmp_path / "f.duckdb", progress=False)
    # The 4 English documents once (not once per language), then each language's unique query texts.
    assert report.texts_encoded == enc.to_encode == 4 + enc.clean + enc.noisy and enc.clean == 10


@pytest.mark.parametrize("encoder", ["muse3", "minilm"])
def test_ntrex_document_mode_ranks(tmp_path, encoder, request):
    root = write_ntrex(tmp_path / "ntrex")
    db = tmp_path / "n.duckdb"
    run_grid(parse_grid(NTREX.format(path=root, encoder=encoder)), db, progress=False)
    stored = _ranks(db)
    model = request.getfixturevalue(encoder)
    sentences = {d: [e for e, dd in zip(ENGLISH, DOCS) if dd == d and e] for d in dict.fromkeys(DOCS)}
    if encoder == "muse3":  # reads a document whole
        doc_vecs = model.encode([" ".join(s) for s in sentences.values()])
    else:  # sentence windows under its token limit, token-weighted mean (the fixture's documents fit one each)
        assert all(
            len(pack_sentences(s, model.max_tokens, model.token_counts)) == 1 for s in sentences.values()
        )
        doc_vecs = model.encode([" ".join(s) for s in sentences.values()])
    from tests.core.test_multiway_datasets import AMH

    for qid, text in enumerate(AMH):
        if not ENGLISH[qid]:
            continue
        gold = list(sentences).index(DOCS[qid])
        key = ("ntrex128", "document", "ntrex128/document/eng", "amh", encoder, "none", qid)
        assert stored[key] == _rank(model.encode([text])[0], doc_vecs, gold)
    assert sum(1 for k in stored if k[1] == "document") == 2 * (
        5 + 4
    )  # amh 5 queries, aze-Latn 4; 2 conditions


BAD = [
    ('name = "ntrex128"\nlanguages = ["xx-Nope"]', "error: unknown language 'xx-Nope'"),
    (
        'name = "flores200"\nmode = "document"\nlanguages = ["amh_Ethi"]',
        "error: mode 'document' needs a dataset",
    ),
    ('name = "flores200"\nsplit = "nope"\nlanguages = ["amh_Ethi"]', "error: unknown split 'nope'"),
    ('name = "ntrex128"\nlanguages = ["amh"]', "error: ntrex128/amh: newstest2019-ref.amh.txt has 2 lines"),
]


@pytest.mark.parametrize(("dataset", "message"), BAD)
def test_bad_grids_are_one_line_and_change_nothing(tmp_path, dataset, message):
    flores, ntrex = write_flores(tmp_path / "flores"), write_ntrex(tmp_path / "ntrex")
    (ntrex / "newstest2019-ref.amh.txt").write_text("one\ntwo\n", encoding="utf-8")
    db = tmp_path / "x.duckdb"
    run_grid(parse_grid(FLORES.format(path=flores)), db, progress=False)
    before = db.read_bytes()
    grid = tmp_path / "bad.toml"
    grid.write_text(
        f'[dataset]\n{dataset}\n[grid]\nencoders = ["minilm"]\nnoise = ["delete"]\nlevels = [0.1]\n'
    )
    env = {
        **os.environ,
        "CLIR_FLORES200_DIR": str(flores),
        "CLIR_NTREX128_DIR": str(ntrex),
        "PYTHONPATH": str(REPO_ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--db", str(db)],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1, out.stderr
    assert db.read_bytes() == before


def test_plan_of_every_flores_language_encodes_english_once():
    """The shipped 184-language grid: one English corpus of 1,004 documents, counted once per encoder."""
    if not os.environ.get("CLIR_FLORES200_DIR"):
        pytest.skip("CLIR_FLORES200_DIR is not set")
    from core.pipeline import load_grid

    grid = load_grid(REPO_ROOT / "precompute" / "grids" / "flores200-all.toml")
    assert len(grid.languages) >= 180
    grid = dataclasses.replace(grid, noise=())  # the clean condition only: noising 110k queries adds a minute
    plan = plan_grid(grid)
    assert plan.corpora == {"flores200/pair/eng": (1004, len(grid.languages))}
    assert all(e.documents == 1004 for e in plan.encoders if not e.unavailable)
    assert f"(1,004 documents) shared by {len(grid.languages)} languages" in format_plan(plan)


def test_trec_export_of_document_mode_uses_the_windowed_vectors(tmp_path):
    """minilm's documents are its windows' mean, kept under document_key: the exported run must agree with
    the stored ranks (the text encoded whole would be truncated and disagree, or be missing)."""
    from precompute.export import export

    root = write_ntrex(tmp_path / "ntrex")
    db = tmp_path / "n.duckdb"
    run_grid(parse_grid(NTREX.format(path=root, encoder="minilm")), db, progress=False)
    files = export(db, tmp_path / "out", fmt="trec", mode=["document"], noise=["none"])
    runs = [f for f in files if f.suffix == ".run"]
    assert len(runs) == 2
    stored = _ranks(db)
    gold = {}
    for qrels in (tmp_path / "out").glob("*.qrels"):
        gold.update({line.split()[0]: line.split()[2] for line in qrels.read_text().splitlines()})
    checked = 0
    for run in runs:
        for line in run.read_text().splitlines():
            qid, _, doc, pos = line.split()[:4]
            if doc == gold[qid]:
                lang, n = qid.rsplit("-", 1)
                key = ("ntrex128", "document", "ntrex128/document/eng", lang, "minilm", "none", int(n))
                checked += 1
                assert int(pos) == stored[key]
    assert checked == 9  # every query: 2 documents, all within the run's depth
