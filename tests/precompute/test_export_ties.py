"""The TREC export under tied scores: ranx's MRR on the exported run equals the stored MRR.

An uncased encoder ties case-only duplicates; the gold must stand at its stored rank (ties in its favour)
and never be cut off the run, whatever order an evaluator gives tied scores.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from core.encoders.base import l2_normalise
from core.metrics import mrr
from core.pipeline import parse_grid, run_grid
from core.ranking import rank_of
from core.store import connect
from core.store import queries as q
from precompute.export import export

LETTERS = "abcdefghijklmnopqrstuvwxyz"
# (query, gold document): documents 0-2 and 3-4 are case-only duplicates; query 5 ranks its gold low.
ROWS = [("a cat", "A cat"), ("A cat", "a cat"), ("a CAT", "A CAT"), ("dogs", "dog"), ("Dog", "DOG"),
        ("cat", "bird"), ("a dog", "a Dog")]  # fmt: skip


class Uncased:
    """Letter counts of the lower-cased text: any two texts differing only in case tie exactly."""

    name, fingerprint, spec = "uncased", "uncased-test-1", {"kind": "uncased-test"}

    def encode(self, texts):
        v = np.zeros((len(texts), len(LETTERS) + 1), np.float32)
        for i, text in enumerate(texts):
            for ch in text.lower():
                v[i, LETTERS.find(ch)] += 1  # find() gives -1 for a non-letter: the last column
        v[:, -1] += 1  # never an all-zero row
        return l2_normalise(v)


@pytest.fixture
def tied_db(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "xyz.tsv").write_text("query\tdocument\n" + "".join(f"{a}\t{b}\n" for a, b in ROWS), "utf-8")
    (tmp_path / "encoders.toml").write_text('[uncased]\nkind = "uncased-test"\n', encoding="utf-8")
    # ``core.encoders.registry`` is also a function the package exports: import the module by its path.
    registry = importlib.import_module("core.encoders.registry")
    monkeypatch.setattr(registry, "REGISTRY_FILE", tmp_path / "encoders.toml")
    kind = registry.Kind(lambda n, s: Uncased.fingerprint, lambda n, s: Uncased())
    monkeypatch.setitem(registry.KINDS, "uncased-test", kind)
    grid = parse_grid(
        f'[dataset]\nname = "generic"\npath = "{data}"\nlanguages = ["xyz"]\n'
        '[grid]\nencoders = ["uncased"]\nnoise = ["delete"]\nlevels = [0.2]\ntop_k = 1\n'
    )
    db = tmp_path / "t.duckdb"
    run_grid(grid, db, progress=False, say=lambda _m: None)
    return db


@pytest.mark.slow  # ranx compiles its numba kernels on first use: ~30 s in a fresh virtual environment
def test_ranx_mrr_on_the_export_equals_the_stored_mrr_under_ties(tied_db, tmp_path):
    from ranx import Qrels, Run, evaluate

    with connect(tied_db, read_only=True) as conn:
        rows = q.rank_rows(conn)
    clean = rows[rows.noise == "none"].set_index("qid")["rank"]
    vecs = Uncased().encode([d for _, d in ROWS])
    scores = Uncased().encode([a for a, _ in ROWS]) @ vecs.T
    # The case this test exists for: golds tied with a lower doc id, and a gold ranked below top_k.
    assert scores[1, 0] == scores[1, 1] and clean[1] == 1 and clean[2] == 1
    assert clean[5] > 1 and clean.tolist() == [rank_of(s, i) for i, s in enumerate(scores)]
    files = export(tied_db, tmp_path / "out", fmt="trec")
    qrels = Qrels.from_file(str(next(f for f in files if f.suffix == ".qrels")), kind="trec")
    runs = [f for f in files if f.suffix == ".run"]
    assert len(runs) == 2  # clean and delete@0.2
    for run_file in runs:
        noise = run_file.name.split(".")[3]
        stored = rows[rows.noise == noise].sort_values("qid")
        run = Run.from_file(str(run_file), kind="trec")
        per_query = dict(zip(qrels.keys(), evaluate(qrels, run, "mrr", return_mean=False)))
        for qid, rank in zip(stored.qid, stored["rank"]):
            assert per_query[f"xyz-{qid}"] == pytest.approx(1 / rank), (run_file.name, qid)
        assert evaluate(qrels, run, "mrr") == pytest.approx(np.mean(1 / stored["rank"]), abs=1e-12)
        # Every MRR the project computes agrees: core.metrics on the ranks, the store's SQL summary.
        with connect(tied_db, read_only=True) as conn:
            sql_mrr = q.summary(conn, noise=noise)["mrr"].iloc[0]
        assert mrr(stored["rank"]) == pytest.approx(evaluate(qrels, run, "mrr"), abs=1e-12) == sql_mrr
