"""Exact ranks and metrics against hand-computed values and a brute-force reference."""

import numpy as np
import pytest

from core.metrics import bootstrap_ci, mrr, per_query, recall_at
from core.ranking import gold_ranks, rank_of, run_order, top_k


def _unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_rank_counts_strictly_higher_scores():
    docs = _unit([[1, 0], [0, 1], [1, 1]])
    q = _unit([[1, 0.1], [1, 0.1], [0, 1]])
    r = gold_ranks(q, docs, np.array([0, 1, 1]), k=2)
    # q0: doc0 best -> 1; q1: doc1 has the lowest of three scores -> 3; q2: doc1 exact -> 1
    assert r.rank.tolist() == [1, 3, 1]
    assert r.top_ids[0].tolist() == [0, 2]
    assert np.all(np.diff(r.top_scores, axis=1) <= 0)


def test_ties_go_to_the_gold():
    docs = _unit([[1, 0], [1, 0], [0, 1]])
    r = gold_ranks(_unit([[1, 0]]), docs, np.array([1]))
    assert r.rank.tolist() == [1]


def test_matches_brute_force_on_random_data():
    rng = np.random.default_rng(0)
    docs, q = _unit(rng.normal(size=(300, 16))), _unit(rng.normal(size=(1100, 16)))
    gold = rng.integers(0, 300, size=1100)
    got = gold_ranks(q, docs, gold, block=128).rank
    scores = q @ docs.T
    want = [1 + int((s > s[g]).sum()) for s, g in zip(scores, gold)]
    assert got.tolist() == want


def test_top_k_orders_ties_by_doc_id_even_at_the_cut():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=(200, 30)).astype(np.float32)  # many ties, at every k-th place too
    for k in (1, 5, 29, 30, 40):
        want = [np.lexsort((np.arange(30), -s))[:k].tolist() for s in scores]
        assert top_k(scores, k).tolist() == want
        assert top_k(scores[7], k).tolist() == want[7]
    assert top_k(scores, 0).shape == (200, 0)


def test_stored_top_ids_follow_top_k():
    docs = _unit(np.repeat(np.eye(4), 3, axis=0))  # every document three times: ties everywhere
    q = _unit(np.random.default_rng(2).normal(size=(50, 4)))
    r = gold_ranks(q, docs, np.zeros(50, int), k=4)
    assert r.top_ids.tolist() == top_k(q @ docs.T, 4).tolist()


def test_run_order_puts_the_gold_at_its_rank_and_never_cuts_it():
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    for gold in range(5):
        rank = rank_of(scores, gold)
        order = run_order(scores, gold, rank, depth=2)
        assert order[rank - 1] == gold and len(order) == max(rank, 2) and len(set(order)) == len(order)
    assert run_order(scores, 3, 2, depth=4).tolist() == [0, 3, 1, 2]
    with pytest.raises(ValueError):
        run_order(scores, 0, 6, depth=1)


@pytest.mark.parametrize(
    "bad", [(np.zeros((2, 3)), np.zeros((4, 2)), [0, 0]), (np.zeros((2, 2)), np.zeros((4, 2)), [0, 9])]
)
def test_bad_shapes_raise(bad):
    with pytest.raises(ValueError):
        gold_ranks(*bad)


def test_metric_values_by_hand():
    ranks = [1, 2, 4, 20]
    assert mrr(ranks) == pytest.approx((1 + 0.5 + 0.25 + 0.05) / 4)
    assert mrr(ranks, k=10) == pytest.approx((1 + 0.5 + 0.25) / 4)
    assert recall_at(ranks, 1) == 0.25
    assert recall_at(ranks, 5) == 0.75
    assert per_query(ranks, "recall@5").tolist() == [1, 1, 1, 0]
    with pytest.raises(ValueError):
        mrr([0, 1])
    with pytest.raises(ValueError, match="unknown metric"):
        per_query(ranks, "ndcg@3")


def test_bootstrap_is_seeded_and_brackets_the_mean():
    ranks = np.random.default_rng(1).integers(1, 50, size=400)
    a, b = bootstrap_ci(ranks, seed=3), bootstrap_ci(ranks, seed=3)
    assert a == b
    assert a.low < a.value < a.high and a.n == 400
    assert bootstrap_ci(ranks, seed=4) != a


def test_relative_drop_is_paired_and_matches_hand_values():
    from core.metrics import relative_drop_ci

    clean, noisy = [1, 1, 2, 2], [1, 2, 2, 4]
    # MRR clean = (1+1+.5+.5)/4 = .75, noisy = (1+.5+.5+.25)/4 = .5625 -> drop .25
    e = relative_drop_ci(clean, noisy, seed=3)
    assert abs(e.value - 0.25) < 1e-12 and e.n == 4 and e.low <= e.value <= e.high
    assert relative_drop_ci(clean, noisy, seed=3) == e  # same seed, same interval
    # Pairing: identical clean and noisy ranks give exactly zero drop in every resample.
    same = relative_drop_ci([1, 3, 7, 2, 9], [1, 3, 7, 2, 9])
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    import pytest

    with pytest.raises(ValueError, match="differ in length"):
        relative_drop_ci([1, 2], [1])


def test_doctests_in_core_run():
    """Every docstring example in core/ is executed (they document guarantees, so they must hold)."""
    import doctest
    import importlib
    import pkgutil

    import core

    failed, tried = 0, 0
    for mod in pkgutil.walk_packages(core.__path__, "core."):
        if mod.name.endswith("__main__") or ".training" in mod.name:
            continue  # CLIs parse argv on import; training imports torch (covered by its own tests)
        result = doctest.testmod(importlib.import_module(mod.name), optionflags=doctest.ELLIPSIS)
        failed, tried = failed + result.failed, tried + result.attempted
    assert tried >= 3 and failed == 0
