"""The research answer on constructed rank rows: every number is checked against a hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.research import MEAN, headlines, research_answer, robustness_markdown


def _rows(encoder: str, lang: str, clean: list[int], noisy: dict[str, list[int]], level: float = 0.2):
    out = [(encoder, lang, "none", 0.0, q, r) for q, r in enumerate(clean)]
    for noise, ranks in noisy.items():
        out += [(encoder, lang, noise, level, q, r) for q, r in enumerate(ranks)]
    return out


def _frame(*parts) -> pd.DataFrame:
    rows = [r for p in parts for r in p]
    df = pd.DataFrame(rows, columns=["encoder", "lang", "noise", "level", "qid", "rank"])
    return df.assign(corpus=df.lang)


N = 200
GOOD = [1] * N  # clean: every gold first
ROBUST = {"substitute": [1] * 180 + [2] * 20, "delete": [1] * 190 + [4] * 10}  # loses a little
FRAGILE = {"substitute": [2] * N, "delete": [1] * 100 + [2] * 100}  # loses much more


def test_table_values_equal_hand_computed_drops_and_mean_is_the_mean_of_drops():
    rows = _frame(_rows("a", "xx", GOOD, ROBUST), _rows("b", "xx", GOOD, FRAGILE))
    ans = research_answer(rows, {"low": ["xx"]}, references=["b"], noises=("substitute", "delete"), levels=(0.2,),
                          n_boot=200, n_perm=2000)  # fmt: skip
    rob = ans.robustness.set_index("encoder")
    sub_a = 1 - (180 + 20 / 2) / 200  # MRR(noisy) / MRR(clean = 1)
    del_a = 1 - (190 + 10 / 4) / 200
    assert rob.loc["a", "clean"] == pytest.approx(1.0)
    assert rob.loc["a", "substitute 0.2"] == pytest.approx(sub_a)
    assert rob.loc["a", "delete 0.2"] == pytest.approx(del_a)
    assert rob.loc["b", "substitute 0.2"] == pytest.approx(0.5)
    assert rob.loc["a", f"{MEAN} 0.2"] == pytest.approx((sub_a + del_a) / 2)
    assert rob.loc["a", "substitute 0.2 low"] <= sub_a <= rob.loc["a", "substitute 0.2 high"]
    # a vs b: same clean MRR (not significant), much smaller drops (significant after Holm, negative delta).
    t = ans.tests.set_index("quantity")
    assert not t.loc["clean MRR", "significant"] and t.loc["clean MRR", "delta"] == 0
    assert t.loc["drop substitute 0.2", "delta"] == pytest.approx(sub_a - 0.5)
    assert t.loc["drop substitute 0.2", "significant"] and t.loc["drop substitute 0.2", "p_holm"] < 0.01
    assert (t["p_holm"] >= t["p"]).all()  # Holm never lowers a p-value
    assert "0.050 [" in robustness_markdown(ans)  # a's substitute drop, formatted with its interval


def test_floor_encoders_are_shown_but_not_tested_and_headline_names_best_and_worst():
    floor = [50] * N  # clean MRR 0.02: cannot read the language
    rows = _frame(_rows("a", "xx", GOOD, ROBUST), _rows("b", "xx", GOOD, FRAGILE),
                  _rows("c", "xx", floor, {"substitute": floor, "delete": floor}))  # fmt: skip
    ans = research_answer(rows, {"low": ["xx"]}, references=["b"], noises=("substitute", "delete"), levels=(0.2,),
                          n_boot=100, n_perm=500)  # fmt: skip
    assert set(ans.robustness.encoder) == {"a", "b", "c"}
    assert "c" not in set(ans.tests.encoder)
    line = headlines(ans)["low"]
    assert line.index("**a**") < line.index("breaks least") < line.index("**b**") < line.index("breaks most")
    assert "c" in line.split("not compared")[1]


def test_pairs_are_matched_on_query_ids_and_missing_conditions_are_nan():
    # b lacks the delete condition; its rows are shuffled: the pairing must follow (corpus, lang, qid).
    a = _rows("a", "xx", GOOD, ROBUST)
    b = _rows("b", "xx", GOOD, {"substitute": FRAGILE["substitute"]})
    rows = _frame(a, b).sample(frac=1.0, random_state=0)
    ans = research_answer(rows, {"low": ["xx"]}, references=["a"], noises=("substitute", "delete"), levels=(0.2,),
                          n_boot=50, n_perm=200)  # fmt: skip
    rob = ans.robustness.set_index("encoder")
    assert np.isnan(rob.loc["b", "delete 0.2"]) and np.isnan(rob.loc["b", f"{MEAN} 0.2"])
    assert rob.loc["b", "substitute 0.2"] == pytest.approx(0.5)
    assert "drop delete 0.2" not in set(ans.tests.quantity)
