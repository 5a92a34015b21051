"""The losses of typo-contrastive and OT distillation against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from core.training.losses import content_mask, info_nce, ot_alignment_cost, sinkhorn

# 2 source tokens, 3 target tokens. With marginals (1/2, 1/2) and (1/3, 1/3, 1/3) the exact optimal plan is
# forced: row 0 is cheapest at column 0 (cost 0), row 1 at column 2 (cost 0); each can send only 1/3 there,
# and the remaining 1/6 of each row must go to column 1 (cost 1 from either row), which takes exactly 1/3.
COST = torch.tensor([[[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]])
A = torch.tensor([[0.5, 0.5]])
B = torch.full((1, 3), 1 / 3)
HAND_PLAN = torch.tensor([[[1 / 3, 1 / 6, 0.0], [0.0, 1 / 6, 1 / 3]]])
HAND_COST = 1 / 6 + 1 / 6  # <P, C>: the two 1/6 masses at cost 1


def test_sinkhorn_matches_the_hand_computed_plan_on_a_2x3_example():
    plan = sinkhorn(COST, A, B, epsilon=0.01, iterations=1000)
    torch.testing.assert_close(plan, HAND_PLAN, atol=2e-3, rtol=0)
    torch.testing.assert_close(plan.sum(2), A, atol=1e-4, rtol=0)
    torch.testing.assert_close(plan.sum(1), B, atol=1e-5, rtol=0)
    assert float((plan * COST).sum()) == pytest.approx(HAND_COST, abs=2e-3)


def test_sinkhorn_entropic_plan_by_hand():
    # Entropic OT's plan is diag(u) K diag(v) with the Gibbs kernel K = exp(-C / eps). For C = [[0, c], [c, 0]]
    # and uniform marginals, symmetry makes u and v constant, so P is K rescaled:
    # P = [[p, 1/2 - p], [1/2 - p, p]] with p / (1/2 - p) = exp(c / eps).
    c, eps = 1.0, 0.5
    plan = sinkhorn(
        torch.tensor([[[0.0, c], [c, 0.0]]]), torch.full((1, 2), 0.5), torch.full((1, 2), 0.5), eps, 200
    )
    r = math.exp(c / eps)
    p = 0.5 * r / (1 + r)
    torch.testing.assert_close(plan[0], torch.tensor([[p, 0.5 - p], [0.5 - p, p]]), atol=1e-5, rtol=0)


def test_constant_cost_gives_the_independent_plan_and_padding_gets_no_mass():
    cost = torch.full((1, 3, 2), 0.7)
    a = torch.tensor([[0.5, 0.5, 0.0]])  # the third source token is padding
    b = torch.tensor([[0.25, 0.75]])
    plan = sinkhorn(cost, a, b, epsilon=0.05, iterations=50)
    torch.testing.assert_close(plan[0], a[0, :, None] * b[0, None, :], atol=1e-6, rtol=0)
    assert float(plan[0, 2].sum()) == 0.0


def test_ot_alignment_cost_equals_the_hand_value_and_trains_only_the_student():
    # Unit vectors whose cosines reproduce COST = 1 - cos: source tokens e0, -e0 against targets
    # e0, e1, -e0 give cosines [[1, 0, -1], [-1, 0, 1]].
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    student = torch.stack([e0, -e0])[None].requires_grad_(True)
    teacher = torch.stack([e0, e1, -e0])[None]
    loss = ot_alignment_cost(
        student, torch.ones(1, 2), teacher, torch.ones(1, 3), epsilon=0.01, iterations=1000
    )
    assert float(loss.detach()) == pytest.approx(HAND_COST, abs=2e-3)
    loss.backward()
    assert student.grad is not None and float(student.grad.abs().sum()) > 0
    assert teacher.grad is None


def test_ot_alignment_cost_ignores_masked_tokens():
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    student = torch.stack([e0, e1])[None]
    teacher = torch.stack([e0, -e1])[None]
    # Only the first token on each side counts: both are e0, so the cost is 0 whatever the others are.
    loss = ot_alignment_cost(student, torch.tensor([[1, 0]]), teacher, torch.tensor([[1, 0]]))
    assert float(loss) == pytest.approx(0.0, abs=1e-6)
    full = ot_alignment_cost(
        student, torch.ones(1, 2), teacher, torch.ones(1, 2), epsilon=0.01, iterations=500
    )
    assert float(full) > 0.4


def test_info_nce_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # Row 0: logits (s, s), target 0 -> log 2. Row 1: logits (0, 0), target 1 -> log 2. a->b loss = log 2.
    # b->a: both rows of b are e0; logits (s, 0): row 0 target 0 -> log(1 + e^-s); row 1 target 1 -> log(1 + e^s).
    s = 3.0
    one_way = math.log(2)
    back = (math.log1p(math.exp(-s)) + math.log1p(math.exp(s))) / 2
    assert float(info_nce(a, b, s, symmetric=False)) == pytest.approx(one_way, abs=1e-6)
    assert float(info_nce(a, b, s)) == pytest.approx((one_way + back) / 2, abs=1e-6)


def test_content_mask_drops_specials_prompt_and_padding():
    # <s> q : w1 w2 </s> pad   |   <s> q : </s> pad pad pad (no content: keeps its attention mask)
    features = {"attention_mask": torch.tensor([[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0, 0]])}
    mask = content_mask(features, prefix_tokens=2)
    assert mask.tolist() == [[0, 0, 0, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0, 0]]


# --- labse-ams: LaBSE's additive margin softmax ---------------------------------------------------------------


def _ce(logits: list[float], target: int) -> float:
    """Cross-entropy of one row, by hand: log(sum exp) - the target's logit."""
    return math.log(sum(math.exp(x) for x in logits)) - logits[target]


def _ams_by_hand(cos: list[list[float]], scale: float, margin: float) -> float:
    """The bidirectional loss written out: the margin comes off each positive, rows then columns."""
    n = len(cos)
    shifted = [[scale * (cos[i][j] - (margin if i == j else 0.0)) for j in range(n)] for i in range(n)]
    forward = sum(_ce(shifted[i], i) for i in range(n)) / n
    backward = sum(_ce([shifted[i][j] for i in range(n)], j) for j in range(n)) / n
    return (forward + backward) / 2


# b's rows are unit vectors, so cos(a_i, b_j) = a_i . b_j with a the identity.
B2 = [[1.0, 0.0], [0.6, 0.8]]  # cosines [[1, .6], [0, .8]]
B3 = [[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.6, 0.8]]  # [[1, .6, 0], [0, .8, .6], [0, 0, .8]]


def test_additive_margin_loss_on_a_2x2_batch_equals_the_hand_computed_value():
    from core.training.losses import additive_margin_ranking

    a, b = torch.eye(2), torch.tensor(B2)
    # By hand, scale 1, margin 0.3: rows [0.7, 0.6] and [0, 0.5], columns [0.7, 0] and [0.6, 0.5].
    hand = (
        (math.log1p(math.exp(-0.1)) + math.log1p(math.exp(-0.5))) / 2
        + (math.log1p(math.exp(-0.7)) + math.log1p(math.exp(0.1))) / 2
    ) / 2
    assert float(additive_margin_ranking(a, b, scale=1.0, margin=0.3)) == pytest.approx(hand, abs=1e-6)
    # Margin off: rows [1, .6], [0, .8]; columns [1, 0], [.6, .8].
    off = (
        (math.log1p(math.exp(-0.4)) + math.log1p(math.exp(-0.8))) / 2
        + (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-0.2))) / 2
    ) / 2
    assert float(additive_margin_ranking(a, b, scale=1.0, margin=0.0)) == pytest.approx(off, abs=1e-6)
    assert hand > off  # the margin makes every positive harder to rank first


@pytest.mark.parametrize("margin", [0.0, 0.3])
@pytest.mark.parametrize("scale", [1.0, 20.0])
def test_additive_margin_loss_on_a_3x3_batch_equals_the_hand_computed_value(margin, scale):
    from core.training.losses import additive_margin_ranking

    cos = [[sum(x * y for x, y in zip(ai, bj, strict=True)) for bj in B3] for ai in torch.eye(3).tolist()]
    got = float(additive_margin_ranking(torch.eye(3), torch.tensor(B3), scale=scale, margin=margin))
    assert got == pytest.approx(_ams_by_hand(cos, scale, margin), rel=1e-5, abs=1e-6)


def test_margin_zero_is_the_symmetric_infonce_the_bitext_objective_trains_with():
    """With m = 0 and the same scale, labse-ams is exactly bitext's loss: sentence-transformers'
    MultipleNegativesRankingLoss in both directions, one softmax each (what core.training.simcse builds)."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from core.training.losses import additive_margin_ranking

    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 8, generator=gen), torch.randn(5, 8, generator=gen)
    mnrl = MultipleNegativesRankingLoss(
        torch.nn.Identity(),
        scale=20.0,
        directions=("query_to_doc", "doc_to_query"),
        partition_mode="per_direction",
    )
    bitext = float(mnrl.compute_loss_from_embeddings([a, b], None))
    assert float(additive_margin_ranking(a, b, scale=20.0, margin=0.0)) == pytest.approx(bitext, rel=1e-6)
    assert float(info_nce(a, b, scale=20.0)) == pytest.approx(bitext, rel=1e-6)
    assert float(additive_margin_ranking(a, b, scale=20.0, margin=0.3)) > bitext


def test_additive_margin_loss_trains_both_sides_of_the_shared_encoder():
    from core.training.losses import additive_margin_ranking

    a = torch.eye(3).requires_grad_(True)
    b = torch.tensor(B3).requires_grad_(True)
    additive_margin_ranking(a, b, scale=20.0, margin=0.3).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
