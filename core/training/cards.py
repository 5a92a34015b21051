"""Reading trained models' cards back: the recipe table of docs/training.md is made from them, never by hand."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.encoders.registry import MODEL_CARD, read_card
from core.errors import ConfigError

# Per objective, the card fields beyond the shared recipe that make its loss what it is.
_LOSS_FIELDS = {
    "labse-ams": ("margin", "scale"),
    "typo-contrastive": ("typo_weight",),
    "ot-distill": ("ot_epsilon", "ot_sentence_weight"),
}


def read_cards(root: str | Path) -> list[dict]:
    """The published cards under ``root`` (one per model folder), sorted by base, objective, then seed.

    A card that cannot be read or is not a JSON object is skipped (the registry says why); never raises for
    one damaged card.
    """
    cards = []
    for path in sorted(Path(root).glob(f"*/{MODEL_CARD}")):
        try:
            # The registry's own check: a list, deep nesting or a field of the wrong type is skipped too.
            card = read_card(path)
        except ConfigError:
            continue
        cards.append({"name": path.parent.name, **card})
    return sorted(cards, key=lambda c: (str(c.get("base")), str(c.get("objective")), c.get("seed") or 0))


def recipe_markdown(cards: Sequence[dict]) -> str:
    """A Markdown table of every model's recipe as its card records it: base, objective, training seed, steps
    x batch = pairs seen, learning rate, training length, frozen embeddings, the loss's own parameters, and
    the training time. Missing fields show as ``-`` (cards from before a field existed).

    Example:
        >>> print(recipe_markdown([{"name": "m", "base": "b", "objective": "labse-ams", "seed": 0, "steps": 2,
        ...     "batch_size": 8, "learning_rate": 2e-5, "max_seq_length": 40, "freeze_embeddings": True,
        ...     "loss": {"margin": 0.3, "scale": 20.0}, "train_seconds": 3.0}]).splitlines()[2])
        | `m` | b | labse-ams | 0 | 2 x 8 = 16 | 2e-05 | 40 | yes | margin 0.3, scale 20 | 3 s |
    """
    lines = [
        "| model | base | objective | training seed | steps x batch = pairs seen | learning rate | max tokens "
        "| frozen word embeddings | loss parameters | train time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cards:
        steps, batch = c.get("steps"), c.get("batch_size")
        budget = f"{steps} x {batch} = {steps * batch}" if steps and batch else "-"
        loss = c.get("loss") or {}
        extra = ", ".join(f"{k.replace('_', ' ')} {loss[k]:g}" for k in _LOSS_FIELDS.get(c.get("objective"), ())
                          if isinstance(loss.get(k), (int, float)))  # fmt: skip
        seconds, lr = c.get("train_seconds"), c.get("learning_rate")
        lines.append(
            f"| `{c.get('name')}` | {c.get('base', '-')} | {c.get('objective', '-')} | {c.get('seed', '-')} "
            f"| {budget} | {f'{lr:g}' if isinstance(lr, (int, float)) else '-'} | {c.get('max_seq_length', '-')} "
            f"| {'yes' if c.get('freeze_embeddings') else 'no'} | {extra or '-'} "
            f"| {f'{seconds:.0f} s' if isinstance(seconds, (int, float)) else '-'} |"
        )
    return "\n".join(lines)
