"""The research answer on constructed rank rows: every number is checked against a hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.research import (
    BEST,
    MEAN,
    comparison_headlines,
    headlines,
    research_answer,
    robustness_markdown,
    training_families,
    training_seed,
)


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


def _curve_rows(encoder: str, conditions: dict[tuple[str, float], list[int]]) -> list[tuple]:
    """Rows of one encoder on language xx: clean ranks all 1, then ``(noise, level) -> ranks``."""
    out = [(encoder, "xx", "none", 0.0, q, 1) for q in range(4)]
    return out + [
        (encoder, "xx", n, lv, q, r) for (n, lv), ranks in conditions.items() for q, r in enumerate(ranks)
    ]


def test_auc_and_half_level_of_the_mean_curve_over_every_level_equal_hand_computed():
    # 4 queries, clean rank 1 (MRR 1). Per query, "mean" = mean of the reciprocal ranks of the two noises:
    #   0.1: sub [1,1,2,2], del [1,1,1,1] -> [1, 1, .75, .75]       MRR .875
    #   0.2: sub [2,2,2,2], del [1,1,2,2] -> [.75, .75, .5, .5]     MRR .625
    #   0.3: sub [4,4,4,4], del [2,2,4,4] -> [.375, .375, .25, .25] MRR .3125  (0.3 is not in LEVELS)
    # auc = [(1 + .875) + (.875 + .625) + (.625 + .3125)] / 2 * .1 / .3 = .71875
    # half: .625 -> .3125 crosses .5 at .2 + .1 * (.625 - .5) / (.625 - .3125) = .24
    a = {("substitute", 0.1): [1, 1, 2, 2], ("delete", 0.1): [1, 1, 1, 1],
         ("substitute", 0.2): [2, 2, 2, 2], ("delete", 0.2): [1, 1, 2, 2],
         ("substitute", 0.3): [4, 4, 4, 4], ("delete", 0.3): [2, 2, 4, 4]}  # fmt: skip
    # b: mean [1,1,1,.75] (MRR .9375) at 0.1 and 0.2, MRR 1 at 0.3: never half. Its substitute-only level 0.5
    # is on nobody's curve (the mean needs every noise type there).
    b = {**{k: [1, 1, 1, 2] if k[0] == "substitute" else [1] * 4 for k in a}, ("substitute", 0.3): [1] * 4,
         ("substitute", 0.5): [9] * 4}  # fmt: skip
    c = {k: v for k, v in a.items() if k != ("delete", 0.3)}  # an incomplete curve
    rows = _frame(_curve_rows("a", a), _curve_rows("b", b), _curve_rows("c", c))
    ans = research_answer(rows, {"low": ["xx"]}, noises=("substitute", "delete"), n_boot=20, n_perm=50)
    rob = ans.robustness.set_index("encoder")
    assert rob.loc["a", "auc"] == pytest.approx(0.71875, abs=1e-12)
    assert rob.loc["a", "half level"] == pytest.approx(0.24, abs=1e-9)
    assert rob.loc["b", "auc"] == pytest.approx((1.9375 + 1.875 + 1.9375) / 2 * 0.1 / 0.3, abs=1e-12)
    assert rob.loc["b", "half level"] == np.inf
    assert np.isnan(rob.loc["c", "auc"]) and np.isnan(rob.loc["c", "half level"])
    assert rob.loc["a", f"{MEAN} 0.2"] == pytest.approx(1 - 0.625)  # the table itself is unchanged


def test_best_reference_is_the_least_dropping_encoder_above_the_floor_per_group():
    floor = [50] * N  # no drop at all, but below the floor: never the reference
    rows = _frame(
        _rows("a", "xx", GOOD, ROBUST), _rows("d", "xx", GOOD, ROBUST),  # tie with a: a wins by name
        _rows("b", "xx", GOOD, FRAGILE), _rows("c", "xx", floor, {"substitute": floor, "delete": floor}),
        _rows("a", "yy", GOOD, FRAGILE), _rows("b", "yy", GOOD, ROBUST), _rows("d", "yy", GOOD, FRAGILE),
    )  # fmt: skip
    groups = {"low": ["xx"], "high": ["yy"]}
    ans = research_answer(rows, groups, references=[BEST, "d"], noises=("substitute", "delete"), levels=(0.2,),
                          n_boot=50, n_perm=500)  # fmt: skip
    t = ans.tests
    best = t[t.reference == BEST]
    assert best.groupby("group")["reference_encoder"].unique().map(list).to_dict() == {
        "low": ["a"],
        "high": ["b"],
    }
    assert set(best[best.group == "low"].encoder) == {"b", "d"}  # not a itself, not the floor c
    assert set(best[best.group == "high"].encoder) == {"a", "d"}  # c has no rows in yy
    assert (t.loc[t.reference == "d", "reference_encoder"] == "d").all()
    # One Holm family for "best" across both groups, another for d.
    from core.metrics import holm

    np.testing.assert_allclose(best["p_holm"], holm(best["p"].to_numpy()))
    # a vs the best (b) in the high group: a drops much more, significantly.
    row = best[
        (best.group == "high") & (best.encoder == "a") & (best.quantity == "drop substitute 0.2")
    ].iloc[0]
    assert row["delta"] == pytest.approx(0.5 - (1 - (180 + 10) / 200)) and row["significant"]


# --- Training seeds: NAME-s<k> rows are seeds of NAME, one row per family --------------------------------


def test_training_seed_names_invert_the_trainers_names_and_group_into_families():
    from core.training.defaults import seed_model_name

    for name in ("labse-e5", "simcse-bitext-e5", "typo-e5", "x-s"):
        for k in (0, 1, 2, 10):
            assert training_seed(seed_model_name(name, k)) == (name, k)
    assert training_seed("x-s0") == ("x-s0", 0) and training_seed("x-s01") == ("x-s01", 0)  # not seed names
    assert training_families(["b-s2", "a", "b-s1", "a-s1", "c"]) == {
        "b": ["b-s1", "b-s2"],  # named after the seed-0 model, which is absent
        "a": ["a", "a-s1"],
        "c": ["c"],
    }


def test_a_family_is_the_mean_over_its_seeds_with_an_interval_and_tests_that_include_their_spread():
    # Family a: seed 0 loses 5% under substitute (ROBUST), seed 1 loses 50% (FRAGILE: every query drops to
    # rank 2). Reference b (one seed) loses 50%.
    noisy = {"substitute": ROBUST["substitute"]}
    rows = _frame(_rows("a", "xx", GOOD, noisy), _rows("a-s1", "xx", GOOD, {"substitute": [2] * N}),
                  _rows("b", "xx", GOOD, {"substitute": [2] * N}),
                  _rows("c-s1", "xx", GOOD, noisy), _rows("c-s2", "xx", GOOD, noisy))  # fmt: skip
    ans = research_answer(rows, {"low": ["xx"]}, references=["b"], noises=("substitute",), levels=(0.2,),
                          n_boot=1000, n_perm=2000)  # fmt: skip
    rob = ans.robustness.set_index("encoder")
    assert list(rob.index) == ["a", "b", "c"]  # c: named after its seed-0 model though only seeds 1, 2 exist
    assert rob["seeds"].to_dict() == {"a": 2, "b": 1, "c": 2}
    assert rob.loc["a", "members"] == "a, a-s1" and rob.loc["c", "members"] == "c-s1, c-s2"
    sub_a = 1 - (180 + 20 / 2) / 200  # seed 0's drop, 0.05
    assert rob.loc["a", "clean"] == 1.0 and rob.loc["a", "n"] == N
    assert rob.loc["a", "substitute 0.2"] == pytest.approx((sub_a + 0.5) / 2)
    # A quarter of the replicates draw seed 1 twice: their drop is exactly 0.5 (every query loses half), the
    # largest any replicate reaches, so the 97.5% quantile is 0.5. The lowest quarter draw seed 0 twice; the
    # 2.5% quantile is the ~10% quantile of seed 0's own bootstrap, below its 0.05.
    assert rob.loc["a", "substitute 0.2 high"] == pytest.approx(0.5, abs=1e-12)
    assert rob.loc["a", "substitute 0.2 low"] < sub_a
    assert rob.loc["a", "mean 0.2"] == rob.loc["a", "substitute 0.2"]
    # Identical seeds: c's interval is the one-seed interval of its (identical) seeds.
    alone = research_answer(rows[rows.encoder == "c-s1"], {"low": ["xx"]}, noises=("substitute",),
                            levels=(0.2,), n_boot=1000).robustness.iloc[0]  # fmt: skip
    assert alone["encoder"] == "c" and alone["seeds"] == 1
    for col in ("substitute 0.2", "substitute 0.2 low", "substitute 0.2 high", "clean_low"):
        assert rob.loc["c", col] == pytest.approx(alone[col], abs=1e-12)
    # a vs b: delta = 0.275 - 0.5. The replicates drawing seed 1 twice (a quarter) give a difference of 0:
    # p is twice that quarter (about 0.5), and the interval's upper end is 0: not significant, although
    # seed 0 alone would differ from b beyond doubt.
    t = ans.tests.set_index(["encoder", "quantity"])
    row = t.loc[("a", "drop substitute 0.2")]
    assert row["delta"] == pytest.approx((sub_a + 0.5) / 2 - 0.5)
    assert (row["seeds"], row["reference_seeds"]) == (2, 1)
    assert row["high"] == pytest.approx(0.0, abs=1e-12) and row["low"] < sub_a - 0.5 + 0.01
    assert 0.4 < row["p"] < 0.6 and not row["significant"]
    assert t.loc[("a", "clean MRR"), "delta"] == 0 and t.loc[("a", "clean MRR"), "p"] == 1.0


def test_one_seed_families_keep_exactly_the_numbers_they_had_without_other_families():
    base = _frame(_rows("a", "xx", GOOD, ROBUST), _rows("b", "xx", GOOD, FRAGILE))
    seeded = pd.concat([base, _frame(_rows("d", "xx", GOOD, FRAGILE), _rows("d-s1", "xx", GOOD, ROBUST))])
    kw = {
        "references": ["b"],
        "noises": ("substitute", "delete"),
        "levels": (0.2,),
        "n_boot": 200,
        "n_perm": 500,
    }
    before, after = (
        research_answer(base, {"low": ["xx"]}, **kw),
        research_answer(seeded, {"low": ["xx"]}, **kw),
    )
    pd.testing.assert_frame_equal(before.robustness, after.robustness.iloc[:2], check_exact=True)
    cols = ["encoder", "quantity", "delta", "low", "high", "p", "n", "seeds", "reference_seeds"]
    pd.testing.assert_frame_equal(before.tests[cols], after.tests[after.tests.encoder == "a"][cols],
                                  check_exact=True)  # fmt: skip
    assert set(after.tests.encoder) == {"a", "d"}  # d-s1 is not a model of its own


def test_comparison_headline_says_how_much_more_each_simcse_family_loses_than_labse():
    # Substitute only; clean rank 1 everywhere. simcse-bitext-e5: 3 seeds that each lose exactly 50% on every
    # resample; labse-e5 loses 25% (half the queries drop to rank 2); labse loses nothing; simcse-unsup-e5
    # sits at the floor.
    half = [1] * 100 + [2] * 100
    parts = [_rows(name, "xx", GOOD, {"substitute": [2] * N})
             for name in ("simcse-bitext-e5", "simcse-bitext-e5-s1", "simcse-bitext-e5-s2")]  # fmt: skip
    parts += [_rows("labse-e5", "xx", GOOD, {"substitute": half}),
              _rows("labse", "xx", GOOD, {"substitute": GOOD}),
              _rows("simcse-unsup-e5", "xx", [50] * N, {"substitute": [50] * N}),
              _rows("simcse-bitext-e5", "yy", GOOD, {"substitute": GOOD})]  # fmt: skip
    ans = research_answer(_frame(*parts), {"low": ["xx"], "high": ["yy"]}, noises=("substitute",),
                          levels=(0.2,), n_boot=200, n_perm=999)  # fmt: skip
    line = comparison_headlines(ans)["low"]
    # vs labse-e5: 0.5 - 0.25 = 25 points; vs labse: 50 points, with a degenerate interval (both sides lose
    # exactly their share on every resample). Against labse, the 6 tests (2 families x clean, substitute,
    # mean) have raw p 1, 1 (clean MRR equal), 1/1000 twice (labse-e5: randomization, all 100 moved queries
    # one way) and 2/1000 twice (simcse-bitext-e5: bootstrap, no replicate <= 0); Holm gives the latter
    # max(6, 5) x 0.001, 4 x 0.002 = 0.008.
    assert line.startswith(
        "Low-resource, noise level 0.2 (mean of substitute; differences in percentage points"
    )
    assert "Against LaBSE's objective on the same base (**labse-e5**, 1 training seed, loses 25% [" in line
    assert "**simcse-bitext-e5** (3 training seeds) loses 25.0 points more [" in line
    against_labse = line.split("Against LaBSE itself, measured here (**labse**, loses 0% [0%, 0%]), ")[1]
    assert (
        "**simcse-bitext-e5** (3 training seeds) loses 50.0 points more [+50.0, +50.0] (p 0.008, significant)"
        in (against_labse)
    )
    assert line.count("**simcse-unsup-e5**: not compared (clean MRR < 0.3)") == 2
    assert "simcse-noisy-e5" not in line  # not in the database: not mentioned
    high = comparison_headlines(ans)["high"]
    assert "LaBSE's objective on the same base (labse-e5) is not in this database yet" in high
    assert "labse**" not in high  # LaBSE itself is named only where measured
    # The breaks-least sentence stays; the 3-seed family is one model there too.
    assert headlines(ans)["low"].count("simcse-bitext-e5") == 1


# --- Multi-way parallel data: scope, headline, every language's drop and its rank correlation --------------

# FLORES-200 codes with their classes in data/languages.csv: npi 1, amh 2, rus 4, deu 5; acm unclassified;
# yor (class 2) is the floor language (clean MRR 0.1).
M = 20
SUB = {"npi_Deva": [2] * M,  # MRR 0.5 -> drop 0.5
       "amh_Ethi": [1] * 10 + [2] * 10,  # 0.75 -> 0.25
       "rus_Cyrl": [1] * 18 + [2] * 2,  # 0.95 -> 0.05
       "deu_Latn": [1] * 16 + [2] * 4,  # 0.9 -> 0.1
       "acm_Arab": [1] * 8 + [2] * 12,  # 0.7 -> 0.3, no class
       "yor_Latn": [20] * M}  # clean 0.1 -> 0.05: drop 0.5, at the floor  # fmt: skip
DROPS = {
    "npi_Deva": 0.5,
    "amh_Ethi": 0.25,
    "rus_Cyrl": 0.05,
    "deu_Latn": 0.1,
    "acm_Arab": 0.3,
    "yor_Latn": 0.5,
}


def _multiway_rows(encoder: str = "a") -> pd.DataFrame:
    parts = [_rows(encoder, lang, [10] * M if lang == "yor_Latn" else [1] * M,
                   {"substitute": ranks, "delete": [10] * M if lang == "yor_Latn" else [1] * M})
             for lang, ranks in SUB.items()]  # fmt: skip
    return _frame(*parts).assign(corpus="flores200/pair/eng")


def test_scope_marks_seen_languages_and_restricts_the_multiway_answer_to_the_unseen():
    from core.research import answer_scope, is_multiway, scope_notes

    status = {
        ("a", "deu_Latn"): True,
        ("a", "amh_Ethi"): True,
        ("b", "deu_Latn"): True,
        ("b", "npi_Deva"): None,
    }
    seen = pd.DataFrame([(m, lang, status.get((m, lang), False)) for m in "ab" for lang in SUB],
                        columns=["encoder", "lang", "seen_in_training"])  # fmt: skip
    s = answer_scope("flores200-test", list(SUB), seen, ["a", "b"])
    assert is_multiway("flores200-test") and is_multiway("ntrex128") and not is_multiway("tatoeba")
    assert s.multiway and s.restricted and s.models == ("a", "b")
    assert s.unseen == ("acm_Arab", "npi_Deva", "rus_Cyrl", "yor_Latn") == s.answered  # npi: b unknown
    assert (s.status("a", "deu_Latn"), s.status("a", "rus_Cyrl"), s.status("b", "npi_Deva")) == (
        True,
        False,
        None,
    )
    notes = " ".join(scope_notes(s))
    assert "On FLORES-200 (test split), 2 of the 6 evaluated languages are training languages" in notes
    assert "over the 4 languages no compared model trained on" in notes
    assert "Training languages unknown (counted as not trained on): b (1 of the 6)" in notes
    # Tatoeba is not multi-way: the answer covers every language whatever the models saw.
    t = answer_scope("tatoeba", ["deu", "amh"], seen.assign(lang=seen.lang.str[:3]), ["a", "b"])
    assert not t.restricted and t.answered == ("amh", "deu")


def test_multiway_headline_names_the_dataset_and_the_unseen_languages_or_says_it_falls_back():
    from core.findings import findings_answer

    rows = _multiway_rows()
    every = pd.DataFrame({"encoder": "a", "lang": list(SUB), "seen_in_training": True})
    some = every.assign(seen_in_training=[lang in ("deu_Latn", "rus_Cyrl") for lang in SUB])
    ans, groups = findings_answer(rows, ("a",), dataset="flores200", seen=some)
    assert groups == {"low": ["amh_Ethi", "npi_Deva", "yor_Latn"], "high": []}  # deu and rus were trained on
    line = headlines(ans)["low"]
    assert line.startswith("On FLORES-200, over the 4 of 6 languages that no compared model trained on, "
                           "low-resource (3 of them), noise level 0.2")  # fmt: skip
    assert headlines(ans)["high"].endswith(
        "high-resource (0 of them): no queries in this group; nothing to compare."
    )
    ans, groups = findings_answer(rows, ("a",), dataset="flores200", seen=every)
    assert groups["high"] == ["deu_Latn", "rus_Cyrl"]  # none left unseen: every language, and it says so
    assert headlines(ans)["high"].startswith("On FLORES-200, over all 6 languages, seen in training included "
                                             "(none is left that no compared model trained on), high-resource")  # fmt: skip
    tatoeba, _ = findings_answer(rows.assign(lang=rows.lang.str[:3]), ("a",), dataset="tatoeba", seen=None)
    assert headlines(tatoeba)["low"].startswith("On Tatoeba, low-resource, noise level 0.2")
    assert tatoeba.breakdown is None  # the per-language panel is for multi-way data only
    assert findings_answer(rows, ("a",))[0].scope is None  # no dataset given: sentences as before
    assert headlines(findings_answer(rows, ("a",))[0])["low"].startswith("Low-resource, noise level 0.2")


def test_language_breakdown_equals_hand_computed_drops_and_rank_correlation():
    from core.metrics import relative_drop_ci
    from core.research import answer_scope, breaking_languages, language_breakdown

    rows = _multiway_rows()
    seen = pd.DataFrame(
        {"encoder": "a", "lang": list(SUB), "seen_in_training": [lang == "deu_Latn" for lang in SUB]}
    )
    scope = answer_scope("flores200", list(SUB), seen.assign(seen_in_training=lambda f: f.seen_in_training.where(
        f.lang != "acm_Arab", None).astype(object)), ["a"])  # fmt: skip
    b = language_breakdown(rows, scope, noises=("substitute", "delete"), n_boot=300, seed=4)
    d = b.drops.set_index(["lang", "noise"])
    for lang, drop in DROPS.items():
        assert d.loc[(lang, "substitute"), "drop"] == pytest.approx(drop, abs=1e-12)
        assert d.loc[(lang, "mean"), "drop"] == pytest.approx(drop / 2, abs=1e-12)  # delete loses nothing
        clean = [10] * M if lang == "yor_Latn" else [1] * M
        e = relative_drop_ci(clean, SUB[lang], n_boot=300, seed=4)  # the same query draws
        assert (d.loc[(lang, "substitute"), "low"], d.loc[(lang, "substitute"), "high"]) == (e.low, e.high)
    assert d.loc[("yor_Latn", "substitute"), "floor"] and not d.loc[("deu_Latn", "substitute"), "floor"]
    assert (
        d.loc[("deu_Latn", "substitute"), "seen"] is True
        and d.loc[("npi_Deva", "substitute"), "seen"] is False
    )
    assert (
        d.loc[("amh_Ethi", "substitute"), "script"],
        d.loc[("amh_Ethi", "substitute"), "resource_class"],
    ) == ("Ethi", 2)
    assert np.isnan(d.loc[("acm_Arab", "substitute"), "resource_class"])
    assert b.meta["rus_Cyrl"] == ("Cyrl", 4) and b.meta["acm_Arab"] == ("Arab", None)
    # rho over npi (1), amh (2), rus (4), deu (5) with drops .5, .25, .05, .1: rank differences -3, -1, 2, 2
    # -> 1 - 6 * 18 / (4 * 15) = -0.8; yor (floor) and acm (no class) are left out and counted.
    c = b.correlations.set_index("noise")
    assert c.loc["substitute", "rho"] == pytest.approx(-0.8, abs=1e-12) and c.loc[
        "mean", "rho"
    ] == pytest.approx(-0.8)
    assert (c.loc["substitute", "n"], c.loc["substitute", "floor"], c.loc["substitute", "unclassified"]) == (
        4,
        1,
        1,
    )
    assert c.loc["substitute", "low"] <= c.loc["substitute", "high"]
    assert np.isnan(c.loc["delete", "rho"])  # nobody loses anything under delete: no ranking to correlate
    ext = breaking_languages(b, k=2)  # default: the mean of the noise types at the highest level
    # yor is at the floor: not listed; acm (no class) is listed, it only stays out of the correlation.
    assert ext[ext.end == "most"]["lang"].tolist() == ["npi_Deva", "acm_Arab"]
    assert ext[ext.end == "least"]["lang"].tolist() == ["rus_Cyrl", "deu_Latn"]
    assert breaking_languages(b, "substitute", 0.2, k=1)["lang"].tolist() == ["npi_Deva", "rus_Cyrl"]
    again = language_breakdown(rows, scope, noises=("substitute", "delete"), n_boot=300, seed=4)
    pd.testing.assert_frame_equal(b.correlations, again.correlations, check_exact=True)  # deterministic
