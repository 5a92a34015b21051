"""The Findings page on the small real DB: its numbers equal values computed from the database directly."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

TIMEOUT = 120


def _page() -> AppTest:
    return AppTest.from_string(
        "from dashboard.views import findings\nfindings.main()", default_timeout=TIMEOUT
    )


def _direct(db, mode: str, lang: str, noise: str, level: float) -> float:
    """MRR of muse3 in one condition, straight from the ranks table (no project code involved)."""
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(
            "SELECT avg(1.0 / rank) FROM ranks WHERE encoder = 'muse3' AND mode = ? AND lang = ? AND noise = ? "
            "AND abs(level - ?) < 1e-9 AND seed = 0", [mode, lang, noise, level],
        ).fetchone()[0]  # fmt: skip


def shown_table(at: AppTest) -> pd.DataFrame:
    """The first robustness table the page shows (a Markdown table of links), as the text a reader sees, with
    each cell's link target in a ``<column> link`` column."""
    md = next(m.value for m in at.markdown if m.value.startswith("| group |"))
    rows = [[c.strip() for c in line.strip("|").split(" | ")] for line in md.splitlines() if line.strip()]
    header, body = rows[0], rows[2:]
    out = []
    for cells in body:
        row = {}
        for col, cell in zip(header, cells):
            m = re.fullmatch(r"\[(.*)\]\((.*)\)", cell)
            row[col] = html.unescape(m.group(1) if m else cell)
            row[f"{col} link"] = m.group(2) if m else None
        out.append(row)
    return pd.DataFrame(out)


def test_findings_numbers_equal_the_database(small_db):
    at = _page().run()
    assert not at.exception, [e.value for e in at.exception]
    table = shown_table(at)
    row = table[(table.encoder == "muse3") & (table.group == "high")].iloc[0]
    clean = _direct(small_db, "pair", "deu", "none", 0.0)
    noisy = _direct(small_db, "pair", "deu", "substitute", 0.1)
    assert row["clean MRR"].startswith(f"{clean:.3f} [")
    assert row["drop mean 0.1"].startswith(f"{1 - noisy / clean:.3f} [")  # one noise type: mean = substitute
    # Each number drills down to the curves it comes from, and that link restores a valid Curves view.
    link = row["drop mean 0.1 link"]
    assert link.startswith("curves?") and "heat_level=0.1" in link and "scale=relative+to+clean" in link
    curves = AppTest.from_string("from dashboard.views import curves\ncurves.main()", default_timeout=TIMEOUT)
    for key, value in parse_qsl(link.split("?", 1)[1]):
        curves.query_params[key] = value
    curves.run()
    assert not curves.exception and not curves.warning, [w.value for w in curves.warning]
    assert curves.multiselect(key="curves_langs").value == ["deu"]
    assert curves.radio(key="curves_scale").value == "relative to clean"
    # amh: muse3 cannot read Ethiopic (clean MRR ~0.07): shown as a floor, never named as robust.
    low = table[(table.encoder == "muse3") & (table.group == "low")].iloc[0]
    assert low["clean MRR"].endswith("(floor)")
    linked = " ".join(m.value for m in at.markdown)
    assert "(clean MRR [1.00](curves?" in linked  # the sentence's numbers link to their curves
    text = (
        re.sub(r"\[((?:\\\[|\\\]|[^\]])*)\]\([^)]*\)", r"\1", linked).replace("\\[", "[").replace("\\]", "]")
    )
    assert "Low-resource: no encoder reaches a clean MRR of 0.3" in text
    assert f"only **muse3** (clean MRR {clean:.2f}, loses {1 - noisy / clean:.0%}" in text
    assert "sit at the floor" in text


def test_findings_follow_the_mode(small_db):
    at = _page().run()
    pair = shown_table(at)
    at.selectbox(key="findings_mode").select("pooled").run()
    assert not at.exception, [e.value for e in at.exception]
    pooled = shown_table(at)
    row = pooled[(pooled.encoder == "muse3") & (pooled.group == "high")].iloc[0]
    assert row["clean MRR"].startswith(f"{_direct(small_db, 'pooled', 'deu', 'none', 0.0):.3f} [")
    assert not pair.equals(pooled)


@pytest.mark.parametrize("missing", ["nothing"])
def test_findings_without_a_database_is_a_message(use_db, tmp_path, missing):
    use_db(tmp_path / "absent.duckdb")
    at = _page().run()
    assert not at.exception
    assert any("No results database" in i.value for i in at.info)


def _muse3_high(at: AppTest) -> str:
    assert not at.exception, [e.value for e in at.exception]
    table = shown_table(at)
    return table[(table.encoder == "muse3") & (table.group == "high")].iloc[0]["clean MRR"]


def test_findings_page_reads_the_stored_answer_only_while_it_is_current(db_copy, use_db):
    import json

    from core.findings import compute_and_store_findings

    compute_and_store_findings(db_copy, "tatoeba", "pair")
    # Mark the stored answer (muse3's clean MRR on the high group := 0.123456), so the page shows where it read.
    with duckdb.connect(str(db_copy)) as conn:
        payload = json.loads(
            conn.execute("SELECT payload_json FROM findings WHERE mode = 'pair'").fetchone()[0]
        )
        cols = {c["name"]: c["values"] for c in payload["robustness"]["columns"]}
        i = next(
            i for i, (e, g) in enumerate(zip(cols["encoder"], cols["group"])) if (e, g) == ("muse3", "high")
        )
        cols["clean"][i] = 0.123456
        conn.execute("UPDATE findings SET payload_json = ? WHERE mode = 'pair'", [json.dumps(payload)])
    use_db(db_copy)
    assert _muse3_high(_page().run()).startswith("0.123 [")
    # A cell replaced after the answer was stored (as a rerun of the runner would): stale, so recomputed.
    with duckdb.connect(str(db_copy)) as conn:
        conn.execute("UPDATE cells SET completed_at = completed_at + INTERVAL 1 SECOND "
                     "WHERE mode = 'pair' AND lang = 'deu' AND noise = 'none'")  # fmt: skip
    clean = _direct(db_copy, "pair", "deu", "none", 0.0)
    assert _muse3_high(_page().run()).startswith(f"{clean:.3f} [")
