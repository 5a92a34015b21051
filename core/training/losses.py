"""Losses of the objectives beyond plain SimCSE: LaBSE's additive margin, typo-contrastive and OT distillation.

Both are ``torch.nn.Module`` s with the sentence-transformers loss contract ``loss(features, labels)``, where
``features`` is one tokenised batch per dataset column, so the same trainer runs every objective.

* :class:`AdditiveMarginRankingLoss` is LaBSE's (Feng et al. 2022, arXiv 2007.01852) bidirectional in-batch
  translation ranking loss with additive margin softmax (Yang et al. 2019, arXiv 1902.08564): the margin ``m``
  is subtracted from each positive's cosine before the softmax, in both directions.
* :class:`TypoContrastiveLoss` carries Sidiropoulos & Kanoulas (SIGIR 2022, arXiv 2205.02303) to
  cross-lingual retrieval: bitext InfoNCE between each *noisy* source sentence and its English side, plus
  ``typo_weight`` times an InfoNCE that pulls each clean source sentence toward its own noisy copy (the other
  noisy copies of the batch are the negatives).
* :class:`OTDistillLoss` is OPTICAL's (Huang, Yu & Allan, arXiv 2301.12566) token alignment: a frozen teacher
  encodes the English side; the student encodes the source side; the cost between a student token and a
  teacher token is ``1 - cosine``; the loss is the Frobenius inner product ``<P, C>`` of the entropic
  (Sinkhorn) transport plan ``P`` and the cost matrix ``C``, optionally plus a sentence-level InfoNCE
  between the student's source vector and the teacher's English vector.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def info_nce(a: torch.Tensor, b: torch.Tensor, scale: float, symmetric: bool = True) -> torch.Tensor:
    """In-batch InfoNCE where ``a[i]`` and ``b[i]`` are positives and every other row is a negative.

    Rows are L2-normalised first, so the logits are ``scale * cosine``. ``symmetric`` averages the a->b and
    b->a cross-entropies, each with its own softmax.

    Example:
        >>> x = torch.eye(3)
        >>> round(float(info_nce(x, x, scale=20.0)), 6)  # perfectly separated: loss ~ 2 exp(-20)
        0.0
    """
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = scale * a @ b.T
    target = torch.arange(len(a), device=a.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = (loss + F.cross_entropy(logits.T, target)) / 2
    return loss


def additive_margin_ranking(
    a: torch.Tensor, b: torch.Tensor, scale: float, margin: float, symmetric: bool = True
) -> torch.Tensor:
    """LaBSE's in-batch translation ranking loss with additive margin softmax, ``a[i]`` and ``b[i]`` positives.

    With ``phi = cos``, the a->b loss is ``-mean_i log(exp(s (phi(a_i, b_i) - m)) / (exp(s (phi(a_i, b_i) - m))
    + sum_{j != i} exp(s phi(a_i, b_j))))``; the b->a loss is the same on the transposed score matrix (the
    margin stays on the positives); ``symmetric`` averages the two.

    Guarantees: with ``margin = 0`` it equals :func:`info_nce` with the same ``scale`` (the symmetric InfoNCE
    the ``bitext`` objective trains with), so the two objectives differ only by the margin.

    Example:
        >>> x = torch.eye(2)
        >>> round(float(additive_margin_ranking(x, x, scale=1.0, margin=0.0)), 4)  # log(1 + e^-1)
        0.3133
    """
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    cos = a @ b.T
    logits = scale * (cos - margin * torch.eye(len(a), dtype=cos.dtype, device=cos.device))
    target = torch.arange(len(a), device=a.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = (loss + F.cross_entropy(logits.T, target)) / 2
    return loss


def sinkhorn(
    cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor, epsilon: float = 0.05, iterations: int = 100
) -> torch.Tensor:
    """Entropic optimal-transport plans, batched, computed in the log domain (stable for small ``epsilon``).

    Args:
        cost: ``(B, n, m)`` cost matrices.  a: ``(B, n)`` source marginals; b: ``(B, m)`` target marginals,
            each row summing to 1; a zero weight marks padding (that row or column of the plan is 0).
        epsilon: entropic regularisation; as it goes to 0 the plan goes to the exact (unregularised) one.
        iterations: Sinkhorn iterations (each one a row and a column normalisation).

    Returns:
        ``(B, n, m)`` plans ``P`` with ``P.sum(2) ~ a`` and ``P.sum(1) = b`` (the last update is the column
        one), minimising ``<P, C> - epsilon * H(P)``.

    Example:
        >>> c = torch.tensor([[[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]])
        >>> p = sinkhorn(c, torch.tensor([[0.5, 0.5]]), torch.full((1, 3), 1 / 3), epsilon=0.01, iterations=500)
        >>> [[round(float(v), 3) for v in row] for row in p[0]]
        [[0.333, 0.167, 0.0], [0.0, 0.167, 0.333]]
    """
    log_a = torch.where(a > 0, a.clamp_min(1e-30).log(), torch.full_like(a, float("-inf")))
    log_b = torch.where(b > 0, b.clamp_min(1e-30).log(), torch.full_like(b, float("-inf")))
    k = -cost / epsilon
    f = torch.zeros_like(a)
    g = torch.zeros_like(b)
    for _ in range(iterations):
        f = log_a - torch.logsumexp(k + g[:, None, :], dim=2)
        g = log_b - torch.logsumexp(k + f[:, :, None], dim=1)
    return torch.exp(k + f[:, :, None] + g[:, None, :])


def ot_alignment_cost(
    student: torch.Tensor,
    student_mask: torch.Tensor,
    teacher: torch.Tensor,
    teacher_mask: torch.Tensor,
    epsilon: float = 0.05,
    iterations: int = 50,
) -> torch.Tensor:
    """Mean over the batch of ``<P, C>``: ``C = 1 - cos(student token, teacher token)``, ``P`` the Sinkhorn plan.

    Tokens where a mask is 0 carry no mass. ``P`` is computed from a detached ``C``: at the optimum the
    gradient of the transport cost with respect to ``C`` is ``P`` itself (envelope theorem), so
    differentiating through the iterations is unnecessary. Gradients reach ``student`` only when the
    teacher is frozen by the caller.

    Args:
        student: ``(B, n, d)`` token vectors.  student_mask: ``(B, n)`` 1 for tokens to align.
        teacher: ``(B, m, d)``.  teacher_mask: ``(B, m)``.
    """
    s = F.normalize(student, dim=-1)
    t = F.normalize(teacher, dim=-1)
    cost = 1.0 - s @ t.transpose(1, 2)
    a = student_mask.to(cost.dtype)
    b = teacher_mask.to(cost.dtype)
    a = a / a.sum(1, keepdim=True).clamp_min(1.0)
    b = b / b.sum(1, keepdim=True).clamp_min(1.0)
    with torch.no_grad():
        plan = sinkhorn(cost.detach(), a, b, epsilon, iterations)
    return (plan * cost).sum((1, 2)).mean()


def content_mask(features: dict, prefix_tokens: int) -> torch.Tensor:
    """Which tokens of a tokenised batch are content: not padding, not ``<s>``/``</s>``, not the prompt.

    Token layout is ``<s> prompt... content... </s> pad...`` (truncation keeps ``</s>``). A text with no
    content token left keeps its whole attention mask, so every row has mass to transport.
    """
    mask = features["attention_mask"].clone()
    lengths = mask.sum(1)
    mask[:, : 1 + prefix_tokens] = 0
    mask[torch.arange(len(mask)), (lengths - 1).clamp_min(0)] = 0
    empty = mask.sum(1) == 0
    mask[empty] = features["attention_mask"][empty]
    return mask


class AdditiveMarginRankingLoss(nn.Module):
    """Columns: (source, English), both through ``model`` (LaBSE's shared-weight dual encoder); see
    :func:`additive_margin_ranking`."""

    def __init__(self, model, scale: float = 20.0, margin: float = 0.3):
        super().__init__()
        self.model, self.scale, self.margin = model, scale, margin

    def forward(self, features, labels=None) -> torch.Tensor:
        source, english = (self.model(f)["sentence_embedding"] for f in features)
        return additive_margin_ranking(source, english, self.scale, self.margin)


class TypoContrastiveLoss(nn.Module):
    """Columns: (noisy source, English, clean source). See the module docstring."""

    def __init__(self, model, scale: float = 20.0, typo_weight: float = 1.0):
        super().__init__()
        self.model, self.scale, self.typo_weight = model, scale, typo_weight

    def forward(self, features, labels=None) -> torch.Tensor:
        noisy, english, clean = (self.model(f)["sentence_embedding"] for f in features)
        retrieval = info_nce(noisy, english, self.scale)
        typo = info_nce(clean, noisy, self.scale)
        return retrieval + self.typo_weight * typo


class OTDistillLoss(nn.Module):
    """Columns: (source, English). The student is ``model``; ``teacher`` is frozen and kept out of the module
    tree (so neither the optimizer nor ``state_dict`` ever sees it).
    """

    def __init__(
        self,
        model,
        teacher,
        *,
        prefix_tokens: int,
        epsilon: float = 0.05,
        iterations: int = 50,
        ot_weight: float = 1.0,
        sentence_weight: float = 1.0,
        scale: float = 20.0,
    ):
        super().__init__()
        self.model = model
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        object.__setattr__(self, "_teacher", teacher)
        self.prefix_tokens, self.epsilon, self.iterations = prefix_tokens, epsilon, iterations
        self.ot_weight, self.sentence_weight, self.scale = ot_weight, sentence_weight, scale

    def forward(self, features, labels=None) -> torch.Tensor:
        source, english = features
        out = self.model(source)
        teacher = self._teacher
        device = out["sentence_embedding"].device
        if next(teacher.parameters()).device != device:  # the trainer moves the student only (e.g. to CUDA)
            teacher.to(device)
        with torch.no_grad():
            ref = teacher(english)
        loss = self.ot_weight * ot_alignment_cost(
            out["token_embeddings"],
            content_mask(source, self.prefix_tokens),
            ref["token_embeddings"],
            content_mask(english, self.prefix_tokens),
            self.epsilon,
            self.iterations,
        )
        if self.sentence_weight:
            loss = loss + self.sentence_weight * info_nce(
                out["sentence_embedding"], ref["sentence_embedding"], self.scale
            )
        return loss
