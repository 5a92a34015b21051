"""Stored research answers on real DuckDB files: equal to a fresh answer, never shown when stale."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from core import findings as f
from core.research import DASHBOARD_REFERENCES, Answer, research_answer, resource_groups
from core.store import connect
from core.store import queries as q
from core.store import writes as w

pytestmark = pytest.mark.slow  # writes many cells and computes the research answer per test

CONDITIONS = [("none", 0.0)] + [(n, lv) for n in ("substitute", "delete") for lv in (0.1, 0.2, 0.3)]
N = 30


def _cell(db, encoder: str, lang: str, noise: str, level: float, ranks, run: str = "r1",
          dataset: str = "tatoeba") -> None:  # fmt: skip
    """Store one cell and its rank rows, as the runner does (write_cells: one transaction). ``db``: a path,
    or a connection already open (helpers writing many cells share one: each opening costs ~70 ms)."""
    n = len(ranks)
    corpus = f"{dataset}/pair/eng" if dataset.startswith("flores200") else f"{dataset}/pair/{lang}"
    key = {"dataset": dataset, "mode": "pair", "corpus": corpus, "lang": lang,
           "encoder": encoder, "noise": noise, "level": float(level), "seed": 0}  # fmt: skip
    cells = pd.DataFrame([{**key, "fingerprint": f"fp-{encoder}", "run_id": run, "n_queries": n, "n_docs": 50,
                           "seconds": 0.1, "completed_at": pd.Timestamp.now(), "data_fingerprint": "d",
                           "noise_version": "1"}])  # fmt: skip
    ranks = pd.DataFrame({**key, "qid": np.arange(n), "rank": np.asarray(ranks, dtype=np.int32), "n_docs": 50,
                          "run_id": run})  # fmt: skip
    if isinstance(db, duckdb.DuckDBPyConnection):
        w.write_cells(db, cells, ranks, pd.DataFrame())
        return
    with connect(db) as conn:
        w.write_cells(conn, cells, ranks, pd.DataFrame())


def _build(db, encoders=("a", "b", "c"), langs=("amh", "deu")) -> None:
    rng = np.random.default_rng(0)
    with connect(db) as conn:
        for i, enc in enumerate(encoders):
            for lang in langs:
                for noise, level in CONDITIONS:
                    # Better encoders (lower i) and lower levels give lower ranks, with per-query spread.
                    scale = 1 + 2 * i * (lang == "amh") + 12 * level * (1 + i)
                    _cell(conn, enc, lang, noise, level, 1 + rng.poisson(scale, N))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    db = tmp_path_factory.mktemp("findings") / "f.duckdb"
    _build(db)
    return str(db)


@pytest.fixture
def db(built, tmp_path) -> str:
    import shutil

    dst = tmp_path / "copy.duckdb"
    shutil.copy(built, dst)
    return str(dst)


def _fresh(db: str) -> tuple[Answer, dict]:
    """The answer computed straight from the rank rows, with research_answer's own defaults."""
    with connect(db, read_only=True) as conn:
        rows = q.rank_rows(conn, ["corpus", "encoder", "lang", "noise", "level", "qid", "rank"], dataset="tatoeba",
                           mode="pair", seed=0)  # fmt: skip
    groups = resource_groups(sorted(rows.lang.unique()))
    return research_answer(rows, groups, references=DASHBOARD_REFERENCES), groups


def _stored(db: str, **kw):
    with connect(db, read_only=True) as conn:
        return f.stored_findings(conn, "tatoeba", "pair", **kw)


def assert_same(a: Answer, b: Answer) -> None:
    pd.testing.assert_frame_equal(a.robustness, b.robustness, check_exact=True)
    pd.testing.assert_frame_equal(a.tests, b.tests, check_exact=True)
    assert a.conditions == b.conditions and a.noises == b.noises


def test_stored_answer_equals_a_fresh_answer_from_the_rows(db):
    assert _stored(db) is None  # nothing stored yet
    computed = f.compute_and_store_findings(db, "tatoeba", "pair")
    stored = _stored(db)
    fresh, groups = _fresh(db)
    assert stored is not None and stored[1] == groups == {"low": ["amh"], "high": ["deu"]}
    assert_same(stored[0], fresh)
    assert_same(computed[0], fresh)
    # The aggregate equals the rows: clean MRR of b on amh, straight from SQL.
    with duckdb.connect(db, read_only=True) as conn:
        direct = conn.execute("SELECT avg(1.0 / rank) FROM ranks WHERE encoder = 'b' AND lang = 'amh' "
                              "AND noise = 'none'").fetchone()[0]  # fmt: skip
    rob = stored[0].robustness.set_index(["encoder", "group"])
    assert rob.loc[("b", "low"), "clean"] == pytest.approx(direct, abs=1e-12)
    assert {"auc", "half level"} <= set(rob.columns)
    assert set(stored[0].tests.reference) >= {"best"}


def test_a_cell_added_or_replaced_after_storing_makes_the_answer_stale(db):
    assert f.refresh_findings(db, say=lambda _m: None) == 1
    assert _stored(db) is not None
    assert f.refresh_findings(db, say=lambda _m: None) == 0  # current: kept, nothing computed
    _cell(db, "d", "deu", "none", 0.0, [1] * N)  # a cell added
    assert _stored(db) is None
    f.refresh_findings(db, say=lambda _m: None)
    assert_same(_stored(db)[0], _fresh(db)[0])
    # A cell replaced by the runner: same key, new rows and completion time.
    _cell(db, "a", "amh", "substitute", 0.2, [3] * N, run="r2")
    assert _stored(db) is None
    with connect(db, read_only=True) as conn:
        assert f.ranks_key(conn, "tatoeba", "pair") != f.ranks_key(
            conn, "tatoeba", "pair", "tatoeba/pair/amh"
        )


def test_other_code_parameters_or_a_damaged_payload_are_never_current(db, monkeypatch):
    f.compute_and_store_findings(db, "tatoeba", "pair")
    assert _stored(db) is not None
    assert _stored(db, references=("e5-small",)) is None  # stored with other references
    with connect(db, read_only=True) as conn:
        assert f.stored_findings(conn, "tatoeba", "pooled") is None  # nothing stored for that mode
    monkeypatch.setattr(f, "code_version", lambda: "another")
    assert _stored(db) is None
    monkeypatch.undo()
    with duckdb.connect(db) as conn:
        conn.execute('UPDATE findings SET payload_json = \'{"format": 1, "robustness": [\'')
    assert _stored(db) is None


def test_payload_round_trips_floats_exactly_nan_and_inf_included():
    specials = [0.1, np.nan, np.inf, -np.inf, -0.0, 5e-324, 1 / 3, 1e308]
    rob = pd.DataFrame({
        "encoder": ["a", "b", None, "c", "d", "e", "f", "g"], "n": np.arange(8), "x": specials,
        "flag": [True, False] * 4, "mixed": ["s", None, np.nan, 1, 2.5, np.inf, True, "t"],
    })  # fmt: skip
    tests = pd.DataFrame({"p": pd.Series([], dtype="float64"), "reference": pd.Series([], dtype=object)})
    answer = Answer(rob, tests, [("substitute", 0.1), ("mean", 0.2)], ("substitute", "delete"))
    text = f.answer_to_json(answer, {"low": ["amh", "swh"], "high": []})

    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    json.loads(text, parse_constant=refuse)  # standard JSON: no NaN / Infinity tokens
    back, groups = f.answer_from_json(text)
    assert_same(back, answer)
    assert groups == {"low": ["amh", "swh"], "high": []}
    bits = np.asarray(specials).view(np.int64)
    np.testing.assert_array_equal(back.robustness["x"].to_numpy().view(np.int64), bits)  # -0.0 and NaN too
    assert back.robustness["mixed"].tolist()[:2] == ["s", None] and np.isnan(back.robustness["mixed"][2])
    with pytest.raises(ValueError, match="not a findings payload"):
        f.answer_from_json("[1, 2]")


def test_a_family_of_training_seeds_is_stored_and_read_back_exactly(tmp_path):
    db = str(tmp_path / "seeds.duckdb")
    _build(db, encoders=("a", "a-s1", "a-s2", "b"))
    computed = f.compute_and_store_findings(db, "tatoeba", "pair")
    stored, fresh = _stored(db), _fresh(db)
    assert_same(stored[0], fresh[0])
    assert_same(computed[0], fresh[0])
    rob = stored[0].robustness.set_index(["encoder", "group"])
    assert list(rob.index.get_level_values(0).unique()) == ["a", "b"]  # the seeds are one row
    assert rob.loc[("a", "low"), "seeds"] == 3 and rob.loc[("a", "low"), "members"] == "a, a-s1, a-s2"
    # Clean MRR of the family = the mean over its seeds of each seed's MRR, straight from SQL.
    with duckdb.connect(db, read_only=True) as conn:
        per_seed = conn.execute("SELECT avg(1.0 / rank) FROM ranks WHERE encoder LIKE 'a%' AND lang = 'amh' "
                                "AND noise = 'none' GROUP BY encoder").fetchall()  # fmt: skip
    assert rob.loc[("a", "low"), "clean"] == pytest.approx(np.mean([m for (m,) in per_seed]), abs=1e-12)
    tests = stored[0].tests
    # The most robust family (a: the builder gives lower ranks to earlier encoders) is the "best" reference.
    assert set(tests.reference_encoder) == {"a"} and set(tests.encoder) == {"b"}
    assert set(tests.seeds) == {1} and set(tests.reference_seeds) == {3}


# --- Multi-way parallel data: the scope and the per-language breakdown are stored and checked too ----------

FLORES = ("amh_Ethi", "npi_Deva", "swh_Latn", "deu_Latn", "rus_Cyrl", "acm_Arab")


def _build_flores(db) -> None:
    """flores200 cells of a and b (clean, substitute and delete at 0.2) and which languages each trained on:
    a: deu, rus; b: deu, and acm unrecorded (unknown)."""
    rng = np.random.default_rng(1)
    seen = {"a": {"deu_Latn", "rus_Cyrl"}, "b": {"deu_Latn"}}
    with connect(db) as conn:
        for i, enc in enumerate(("a", "b")):
            for j, lang in enumerate(FLORES):
                for noise, level in (("none", 0.0), ("substitute", 0.2), ("delete", 0.2)):
                    scale = 0.5 + (level > 0) * (1 + i + (j < 3) * 2)
                    _cell(conn, enc, lang, noise, level, 1 + rng.poisson(scale, N), dataset="flores200")
        for enc, langs in seen.items():
            flags = {lang: lang in langs for lang in FLORES if not (enc == "b" and lang == "acm_Arab")}
            w.record_encoder(conn, enc, f"fp-{enc}", "{}", "r1", flags)


def _stored_flores(db: str):
    with connect(db, read_only=True) as conn:
        return f.stored_findings(conn, "flores200", "pair")


def test_a_multiway_answer_is_stored_with_its_scope_and_breakdown_exactly(tmp_path):
    from core.findings import findings_answer

    db = str(tmp_path / "flores.duckdb")
    _build_flores(db)
    computed, groups = f.compute_and_store_findings(db, "flores200", "pair")
    stored = _stored_flores(db)
    with connect(db, read_only=True) as conn:
        rows = q.rank_rows(conn, list(f.RANK_COLUMNS), dataset="flores200", mode="pair", seed=0)
        seen = q.answer_seen(conn, "flores200", "pair", None)
    fresh, fresh_groups = findings_answer(rows, dataset="flores200", seen=seen)
    assert stored is not None and stored[1] == groups == fresh_groups
    # Unseen by both: amh, npi, swh (low) and acm (unclassified, b unknown); deu and rus were trained on.
    assert groups == {"low": ["amh_Ethi", "npi_Deva", "swh_Latn"], "high": []}
    for got in (stored[0], computed):
        assert_same(got, fresh)
        assert got.scope == fresh.scope and got.scope.unseen == (
            "acm_Arab",
            "amh_Ethi",
            "npi_Deva",
            "swh_Latn",
        )
        assert got.scope.status("b", "acm_Arab") is None and got.scope.status("a", "rus_Cyrl") is True
        pd.testing.assert_frame_equal(got.breakdown.drops, fresh.breakdown.drops, check_exact=True)
        pd.testing.assert_frame_equal(
            got.breakdown.correlations, fresh.breakdown.correlations, check_exact=True
        )
        assert dict(got.breakdown.meta) == dict(fresh.breakdown.meta)
    drops = stored[0].breakdown.drops
    assert len(drops) == 2 * len(FLORES) * 3  # every language, both models, substitute, delete and mean
    assert (
        drops["seen"].map(lambda v: v if v is None else bool(v)).tolist()
        == fresh.breakdown.drops["seen"].tolist()
    )
    # Each drop equals the ranks table: a's substitute drop on npi, straight from SQL.
    with duckdb.connect(db, read_only=True) as conn:
        clean, noisy = conn.execute(
            "SELECT avg(1.0 / rank) FILTER (noise = 'none'), avg(1.0 / rank) FILTER (noise = 'substitute') "
            "FROM ranks WHERE dataset = 'flores200' AND encoder = 'a' AND lang = 'npi_Deva'").fetchone()  # fmt: skip
    row = drops[(drops.encoder == "a") & (drops.lang == "npi_Deva") & (drops.noise == "substitute")].iloc[0]
    assert row["drop"] == pytest.approx(1 - noisy / clean, abs=1e-12)


def test_a_multiway_answer_is_stale_when_training_languages_or_metadata_change(tmp_path, monkeypatch):
    db = str(tmp_path / "flores.duckdb")
    _build_flores(db)
    f.compute_and_store_findings(db, "flores200", "pair")
    assert _stored_flores(db) is not None
    with duckdb.connect(db) as conn:  # the runner records that b trained on amh after all
        conn.execute(
            "UPDATE encoder_languages SET seen_in_training = TRUE WHERE encoder = 'b' AND lang = 'amh_Ethi'"
        )
    assert _stored_flores(db) is None
    assert f.refresh_findings(db, say=lambda _m: None) == 1
    assert _stored_flores(db)[1]["low"] == ["npi_Deva", "swh_Latn"]  # amh is no longer unseen
    # A script or class that languages.csv now says differently (the breakdown's metadata) is stale too.
    import core.research as research

    real = research.language_meta
    monkeypatch.setattr(research, "language_meta", lambda langs: {**real(langs), "rus_Cyrl": ("Cyrl", 3)})
    monkeypatch.setattr(f, "language_meta", research.language_meta)
    assert _stored_flores(db) is None


def test_an_older_payload_is_recomputed_not_misread(tmp_path):
    db = str(tmp_path / "flores.duckdb")
    _build_flores(db)
    f.compute_and_store_findings(db, "flores200", "pair")
    with duckdb.connect(db) as conn:  # what format 2 stored: no scope, no breakdown (code version kept)
        payload = json.loads(conn.execute("SELECT payload_json FROM findings").fetchone()[0])
        old = {k: v for k, v in payload.items() if k not in ("scope", "breakdown")} | {"format": 2}
        conn.execute("UPDATE findings SET payload_json = ?", [json.dumps(old)])
    assert _stored_flores(db) is None
    with pytest.raises(ValueError, match="format 2"):
        f.answer_from_json(json.dumps(old))
    assert f.refresh_findings(db, say=lambda _m: None) == 1  # recomputed and stored in the new format
    assert _stored_flores(db)[0].breakdown is not None
