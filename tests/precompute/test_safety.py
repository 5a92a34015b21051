"""Nothing lost, nothing mixed: each fault of the hostile pass, reproduced, with what the user now sees.

Every test drives the real thing: the CLI (in process, or as a subprocess where a traceback or a resource
limit matters), a real DuckDB file, the real data and the offline ``muse3`` encoder on tiny grids.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from core.datasets.tatoeba import tatoeba_file
from core.pipeline import parse_grid, run_grid
from core.store import connect
from core.store import queries as q
from precompute.cli import main

pytestmark = pytest.mark.slow  # CLI subprocesses and a database per test

REPO = Path(__file__).resolve().parents[2]
GRID = """[dataset]
languages = {langs}
mode = {modes}
max_queries = {n}
{path}
[grid]
encoders = ["muse3"]
noise = ["delete"]
levels = {levels}
seeds = {seeds}
"""


def grid_text(langs=("xho",), modes=("pair",), n=10, levels=(0.1,), seeds=(0,), path=None) -> str:
    return GRID.format(
        langs=json.dumps(list(langs)), modes=json.dumps(list(modes)), n=n, levels=json.dumps(list(levels)),
        seeds=json.dumps(list(seeds)), path=f"path = {json.dumps(str(path))}" if path else "",
    )  # fmt: skip


def run_cli(tmp_path: Path, text: str, db: Path, *extra: str) -> int:
    grid = tmp_path / f"g{abs(hash(text)) % 10**8}.toml"
    grid.write_text(text, encoding="utf-8")
    return main(["run", "--grid", str(grid), "--db", str(db), "--quiet", *extra])


def one_error_line(err: str) -> str:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and ".py" not in err, err
    return err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table_digest(db: Path, sql: str) -> list:
    with connect(db, read_only=True) as conn:
        return conn.execute(sql).fetchall()


def runs_status(db: Path) -> list[str]:
    return [r[0] for r in table_digest(db, "SELECT status FROM runs ORDER BY started_at")]


# --- 6. seeds ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2**31, 2**40, -1])
def test_out_of_range_seed_is_refused_before_anything_runs(tmp_path, capsys, data_dir, seed):
    code = run_cli(tmp_path, grid_text(seeds=(seed,)), tmp_path / "r.duckdb")
    err = one_error_line(capsys.readouterr().err)
    assert code == 2 and "grid.seeds" in err and "2**31" in err
    assert not (tmp_path / "r.duckdb").exists()


def test_largest_seed_is_stored(tmp_path, data_dir):
    report = run_grid(parse_grid(grid_text(n=3, seeds=(2**31 - 1,))), tmp_path / "r.duckdb", progress=False)
    assert report.cells_written == 2


# --- 7. damaged database, disk full, unwritable folder ---------------------------------------------------


@pytest.fixture(scope="module")
def built_db(tmp_path_factory, data_dir) -> Path:
    db = tmp_path_factory.mktemp("built") / "r.duckdb"
    run_grid(parse_grid(grid_text()), db, progress=False, say=lambda _m: None)
    return db


def _truncated(src: Path, dst: Path, frac: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * frac)])
    return dst


@pytest.mark.parametrize("frac", [0.5, 0.8])
def test_truncated_database_is_one_line_everywhere_and_untouched(tmp_path, built_db, frac):
    db = _truncated(built_db, tmp_path / "t.duckdb", frac)
    before = digest(db)
    grid = tmp_path / "g.toml"
    grid.write_text(grid_text(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for argv in (
        ["run", "--grid", str(grid), "--db", str(db), "--quiet"],
        ["summary", "--db", str(db)],
        ["export", "--db", str(db), "--out", str(tmp_path / "ex")],
        ["migrate", "--db", str(db)],
    ):
        p = subprocess.run([sys.executable, "-m", "precompute", *argv], capture_output=True, text=True, env=env,
                           timeout=120, cwd=REPO)  # fmt: skip
        assert p.returncode == 2, (argv, p.stdout, p.stderr)
        err = one_error_line(p.stderr)
        assert "damaged" in err or "schema v" in err or "Could not read" in err, err
        assert digest(db) == before, argv
    assert not (tmp_path / "ex").exists() or not any((tmp_path / "ex").iterdir())


def test_migrate_reads_every_row_back(tmp_path, built_db, capsys):
    db = tmp_path / "ok.duckdb"
    shutil.copy(built_db, db)
    assert main(["migrate", "--db", str(db)]) == 0
    assert "every row read back" in capsys.readouterr().out
    assert main(["migrate", "--db", str(tmp_path / "missing.duckdb")]) == 2
    assert "does not exist" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "missing.duckdb").exists()


def _limit_file_size(limit: int):
    def apply() -> None:
        # A file-size limit makes every write past ``limit`` bytes fail like a full disk (EFBIG instead of
        # ENOSPC), without needing a small file system; SIGXFSZ is ignored so the write returns an error.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_disk_full_during_a_run_is_one_line_and_keeps_the_stored_cells(tmp_path, built_db):
    db = tmp_path / "full.duckdb"
    shutil.copy(built_db, db)
    before = table_digest(db, "SELECT * FROM ranks ORDER BY ALL")
    grid = tmp_path / "g.toml"
    grid.write_text(grid_text(levels=[0.2, 0.3, 0.4], seeds=[0, 1]))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run(
        [sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--db", str(db), "--quiet"],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO,
        preexec_fn=_limit_file_size(64_000),
    )  # fmt: skip
    assert p.returncode == 2, (p.stdout, p.stderr)
    err = one_error_line(p.stderr)
    assert any(w in err for w in ("File too large", "space", "full", "I/O error")), err
    # Nothing stored before is lost, and the file still opens and answers.
    after = table_digest(db, "SELECT * FROM ranks ORDER BY ALL")
    assert {repr(r) for r in before} <= {repr(r) for r in after}
    assert runs_status(db)[-1] == "failed"


def test_unwritable_database_folder_is_one_line(tmp_path, capsys, data_dir):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = run_cli(tmp_path, grid_text(), blocker / "r.duckdb")
    err = one_error_line(capsys.readouterr().err)
    assert code == 2 and "cannot create the folder" in err
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert run_cli(tmp_path, grid_text(), ro / "r.duckdb") == 2
        one_error_line(capsys.readouterr().err)


# --- 8. the run's row is always marked truthfully ----------------------------------------------------------


def test_interrupt_during_planning_marks_the_run_interrupted(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    db = tmp_path / "r.duckdb"
    grid = parse_grid(grid_text().replace('encoders = ["muse3"]', 'encoders = ["nosuch/model", "muse3"]'))

    def ctrl_c(_message: str) -> None:  # called while planning, as the unavailable encoder is reported
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_grid(grid, db, progress=False, say=ctrl_c)
    assert runs_status(db) == ["interrupted"]


def test_unreadable_encoder_folder_is_skipped_and_the_run_ends_truthfully(tmp_path, capsys, data_dir):
    """An encoder that cannot even be fingerprinted (I/O error) is one skipped encoder, not a dead run."""
    folder = tmp_path / "model"
    folder.mkdir()
    # Reading this "weights" file fails with an I/O error even for root (address 0 is never mapped).
    (folder / "weights.bin").symlink_to("/proc/self/mem")
    db = tmp_path / "r.duckdb"
    code = run_cli(tmp_path, grid_text().replace('["muse3"]', json.dumps(["muse3", str(folder)])), db)
    out = capsys.readouterr().out
    skipped = [line for line in out.splitlines() if line.startswith(f"encoder {folder} unavailable: ")]
    assert code == 0 and len(skipped) == 1 and "Traceback" not in out, out
    (summary,) = [line for line in out.splitlines() if line.startswith("run ")]
    n = len(parse_grid(grid_text()).cells())  # the unreadable encoder's cells: as many as muse3's
    assert f"{n} cells computed, 0 already stored, {n} not computed (encoder unavailable)" in summary, summary
    assert runs_status(db) == ["done"]
    # The rest of the grid ran: muse3's cells are stored, the unreadable encoder has none.
    assert table_digest(db, "SELECT DISTINCT encoder FROM cells") == [("muse3",)]


# --- 9. no extension autoinstall / autoload ---------------------------------------------------------------


def test_another_database_format_is_refused_offline_and_extensions_are_off(tmp_path, capsys, data_dir):
    lite = tmp_path / "x.sqlite"
    con = sqlite3.connect(lite)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = digest(lite)
    assert run_cli(tmp_path, grid_text(), lite) == 2
    assert "unreadable" in one_error_line(capsys.readouterr().err) and digest(lite) == before
    assert main(["summary", "--db", str(lite)]) == 2
    one_error_line(capsys.readouterr().err)
    with connect(tmp_path / "new.duckdb") as conn:
        settings = dict(
            conn.execute(
                "SELECT name, value FROM duckdb_settings() "
                "WHERE name IN ('autoinstall_known_extensions', 'autoload_known_extensions')"
            ).fetchall()
        )
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


# --- 3. changed data under an existing database ------------------------------------------------------------


def _copy_data(data_dir: Path, dst: Path, langs=("xho",)) -> Path:
    dst.mkdir()
    for lang in langs:
        for side in (lang, "eng"):
            shutil.copy(tatoeba_file(data_dir, lang, side), dst)
    return dst


def test_changed_data_is_refused_then_replaced_on_request(tmp_path, capsys, data_dir):
    data = _copy_data(data_dir, tmp_path / "data")
    db = tmp_path / "r.duckdb"
    assert run_cli(tmp_path, grid_text(path=data), db) == 0
    capsys.readouterr()
    src = tatoeba_file(data, "xho", "xho")
    lines = src.read_text(encoding="utf-8").split("\n")
    lines[2] = "Lo ngumusho omtsha ngokupheleleyo."  # same line count, another sentence
    src.write_text("\n".join(lines), encoding="utf-8")
    stored = table_digest(db, "SELECT * FROM ranks ORDER BY ALL") + table_digest(db, "SELECT * FROM queries")
    more = grid_text(path=data, levels=(0.1, 0.2))
    assert run_cli(tmp_path, more, db) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "language xho changed" in err and "--replace-changed" in err and "query 2" in err
    assert (
        table_digest(db, "SELECT * FROM ranks ORDER BY ALL") + table_digest(db, "SELECT * FROM queries")
        == stored
    )
    assert runs_status(db) == ["done", "failed"]
    assert run_cli(tmp_path, more, db, "--replace-changed") == 0
    out = capsys.readouterr().out
    assert "replaced: the data of language xho changed" in out and "deleted 2 stored cells" in out
    with connect(db, read_only=True) as conn:
        text = conn.execute("SELECT text FROM queries WHERE lang = 'xho' AND qid = 2").fetchall()[0][0]
        fps = conn.execute("SELECT DISTINCT data_fingerprint, noise_version FROM cells").fetchall()
        noisy = conn.execute(
            "SELECT DISTINCT query_noisy FROM ranks WHERE qid = 2 AND noise = 'none'"
        ).fetchall()
    assert text == lines[2] and noisy == [(lines[2],)] and len(fps) == 1 and fps[0][0] is not None


def test_legacy_cells_are_recomputed_with_a_message(tmp_path, built_db, data_dir):
    db = tmp_path / "legacy.duckdb"
    shutil.copy(built_db, db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE cells SET data_fingerprint = NULL, noise_version = NULL").fetchall()
    con.close()
    said: list[str] = []
    report = run_grid(parse_grid(grid_text()), db, progress=False, say=said.append)
    assert report.cells_written == 2 and any(
        "recomputing 2 cells stored before data fingerprints" in s for s in said
    )
    assert table_digest(db, "SELECT count(*) FROM cells WHERE data_fingerprint IS NULL") == [(0,)]


def test_cells_of_another_noise_version_are_refused_then_recomputed_not_mixed(tmp_path, built_db, data_dir):
    from core.errors import DataChangedError
    from core.noise import NOISE_VERSION, apply_noise

    db = tmp_path / "old-noise.duckdb"
    shutil.copy(built_db, db)
    con = duckdb.connect(str(db))  # as if the noisy cells had been made by the previous noise version
    con.execute("UPDATE cells SET noise_version = 'old' WHERE noise <> 'none'").fetchall()
    con.execute("UPDATE ranks SET query_noisy = 'stale' WHERE noise <> 'none'").fetchall()
    con.close()
    with pytest.raises(DataChangedError, match="noise version old"):
        run_grid(parse_grid(grid_text()), db, progress=False, say=lambda _m: None)
    said: list[str] = []
    report = run_grid(parse_grid(grid_text()), db, progress=False, say=said.append, replace_changed=True)
    assert report.cells_written >= 1 and any("noise version old" in s for s in said)
    with connect(db, read_only=True) as conn:
        versions = conn.execute("SELECT DISTINCT noise_version FROM cells WHERE noise <> 'none'").fetchall()
        rows = conn.execute(
            "SELECT r.qid, r.query_noisy, q.text, c.level, c.seed FROM ranks r JOIN queries q USING (dataset, lang, qid) "
            "JOIN cells c USING (dataset, lang, encoder, noise, level, seed) WHERE r.noise = 'delete'"
        ).fetchall()
    assert versions == [(NOISE_VERSION,)] and rows
    for qid, noisy, text, level, seed in rows:  # recomputed by this version, nothing stale left
        assert noisy == apply_noise(text, "delete", level, seed=seed, qid=qid, lang="xho").noisy


# --- 2. another model under the same name ----------------------------------------------------------------


def test_cells_of_another_model_under_the_same_name_are_never_silently_replaced(tmp_path, capsys, built_db):
    db = tmp_path / "r.duckdb"
    shutil.copy(built_db, db)
    con = duckdb.connect(str(db))  # as if the stored cells came from another model called muse3
    con.execute("UPDATE cells SET fingerprint = 'f0000000other'").fetchall()
    con.close()
    stored = table_digest(db, "SELECT * FROM ranks ORDER BY ALL")
    assert run_cli(tmp_path, grid_text(), db) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "encoder muse3 is another model" in err and "f0000000other" in err and "--replace-changed" in err
    assert table_digest(db, "SELECT * FROM ranks ORDER BY ALL") == stored
    assert run_cli(tmp_path, grid_text(), db, "--replace-changed") == 0
    assert "replacing 2 cells of encoder muse3: stored fingerprint f0000000other" in capsys.readouterr().out
    assert table_digest(db, "SELECT count(*) FROM cells WHERE fingerprint = 'f0000000other'") == [(0,)]


def test_a_trained_model_cannot_take_a_builtin_or_existing_name(tmp_path, capsys, monkeypatch):
    from core.encoders.registry import MODEL_CARD, resolve_spec
    from precompute.train_simcse import main as train

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path / "models"))
    assert train(["--objective", "unsup", "--name", "muse3", "--quiet"]) == 2
    assert "built-in encoder" in one_error_line(capsys.readouterr().err)
    assert train(["--objective", "unsup", "--name", "muse3", "--overwrite", "--quiet"]) == 2
    capsys.readouterr()
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
    # A card that claims a built-in name (e.g. written by an older version) never shadows it.
    (tmp_path / "models" / "m").mkdir(parents=True)
    (tmp_path / "models" / "m" / MODEL_CARD).write_text(json.dumps({"name": "muse3"}), encoding="utf-8")
    assert resolve_spec("muse3")["kind"] == "muse3"
    # Another card's name is taken too, even with --overwrite (which only replaces the model at --out).
    (tmp_path / "models" / "a").mkdir()
    (tmp_path / "models" / "a" / MODEL_CARD).write_text(json.dumps({"name": "mine"}), encoding="utf-8")
    assert train(["--objective", "unsup", "--name", "mine", "--out", str(tmp_path / "b"), "--overwrite"]) == 2
    assert "is taken by" in one_error_line(capsys.readouterr().err)
    # --overwrite never deletes a folder the trainer did not write.
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.txt").write_text("mine")
    assert (
        train(["--objective", "unsup", "--name", "x1", "--out", str(tmp_path / "user"), "--overwrite"]) == 2
    )
    assert "not a model folder written by this trainer" in one_error_line(capsys.readouterr().err)
    assert (tmp_path / "user" / "notes.txt").read_text() == "mine"


# --- 1. the trainer deletes only what it created ---------------------------------------------------------


@pytest.mark.slow
def test_trainer_keeps_a_users_tmp_folder(tmp_path, monkeypatch, capsys, data_dir):
    from precompute.train_simcse import main as train

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path / "models"))
    out = tmp_path / "X"
    (tmp_path / "X.tmp").mkdir()
    (tmp_path / "X.tmp" / "thesis.txt").write_text("precious")
    argv = ["--objective", "unsup", "--out", str(out), "--name", "tiny-x", "--steps", "2", "--batch-size", "4",
            "--max-pairs", "64", "--quiet", "--train-langs", "deu", "fra", "--eval-langs", "xho", "--dev-langs"]  # fmt: skip
    assert train(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "X.tmp" / "thesis.txt").read_text() == "precious"
    assert (out / "clir_encoder.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X", "X.tmp"]  # no staging folder left
    assert train([*argv, "--overwrite"]) == 0
    assert (tmp_path / "X.tmp" / "thesis.txt").read_text() == "precious"


# --- 4. pooled grids of different language sets ---------------------------------------------------------


@pytest.fixture(scope="module")
def two_pooled(tmp_path_factory, data_dir) -> Path:
    db = tmp_path_factory.mktemp("pooled") / "p.duckdb"
    for langs in (("xho", "afr"), ("xho", "amh")):
        run_grid(
            parse_grid(grid_text(langs=langs, modes=("pooled",), n=15)),
            db,
            progress=False,
            say=lambda _m: None,
        )
    return db


def test_summary_keys_on_corpus(two_pooled):
    from precompute.report import summary_frame

    with connect(two_pooled, read_only=True) as conn:
        s = q.summary(conn, lang="xho", noise="none")
    assert len(s) == 2 and set(s["n"]) == {15} and s["corpus"].nunique() == 2
    wide = summary_frame(two_pooled)
    xho = wide[(wide["lang"] == "xho") & (wide["noise"] == "delete")]
    assert len(xho) == 2 and set(xho["n"]) == {15}


def test_dashboard_reads_never_average_two_corpora(two_pooled):
    from dashboard import analysis

    with connect(two_pooled, read_only=True) as conn:
        ranks = q.curve_ranks(conn, "tatoeba", "pooled", "delete", ["muse3"], ["xho"], [0])
        corpora = sorted(ranks["corpus"].unique())
        one = q.per_query_ranks(conn, "tatoeba", "pooled", "xho", "delete", 0, corpus=corpora[0])
        one_curve = q.curve_ranks(
            conn, "tatoeba", "pooled", "delete", ["muse3"], ["xho"], [0], corpus=corpora[0]
        )
        # What the pages read since schema v5: the same selection as per-cell aggregates.
        stats = q.curve_stats(conn, "tatoeba", "pooled", "delete", ["muse3"], ["xho"], [0])
        one_stats = q.curve_stats(
            conn, "tatoeba", "pooled", "delete", ["muse3"], ["xho"], [0], corpus=corpora[0]
        )
    values = analysis.per_query_values(ranks, "mrr")
    curve = analysis.curves(values, n_boot=10)
    assert set(curve["n"]) == {30}  # 15 queries in each of two corpora, counted as 30, never shown as n = 15
    assert len(one) == 2 * 15 and one["corpus"].nunique() == 1
    single = analysis.curves(analysis.per_query_values(one_curve, "mrr"), n_boot=10)
    assert set(single["n"]) == {15}
    fast = analysis.curves_from_stats(stats, "mrr", n_boot=10)
    assert set(fast["n"]) == {30} and fast["value"].tolist() == pytest.approx(
        curve["value"].tolist(), abs=1e-12
    )
    assert set(analysis.curves_from_stats(one_stats, "mrr", n_boot=10)["n"]) == {15}


# --- 5. exports ------------------------------------------------------------------------------------------


def test_trec_export_replaces_stale_qrels_and_keeps_close_levels_apart(tmp_path, capsys, data_dir):
    db = tmp_path / "r.duckdb"
    assert run_cli(tmp_path, grid_text(levels=(0.1, 0.1000001)), db) == 0
    out = tmp_path / "ex"
    out.mkdir()
    (out / "pair.xho.qrels").write_text("xho-0 0 d999 1\n")  # stale, from another database
    assert main(["export", "--db", str(db), "--out", str(out), "--format", "trec"]) == 0
    with connect(db, read_only=True) as conn:
        gold = q.gold_documents(conn, "tatoeba/pair/xho")
    expected = "".join(f"xho-{r.qid} 0 d{r.doc_id} 1\n" for r in gold.itertuples())
    assert (out / "pair.xho.qrels").read_text() == expected
    from precompute.report import summary_frame

    assert {"0.1", "0.1000001"} <= set(summary_frame(db).columns)
    runs = sorted(p.name for p in out.glob("*.run"))
    assert len(runs) == 3 and len(set(runs)) == 3, runs  # clean, 0.1 and 0.1000001: three files
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind
