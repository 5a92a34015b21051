"""Choose a recipe's free settings on the dev languages only: train each variant, report dev MRR.

Usage:
    python benchmarks/dev_choices.py [--choice ot-sentence-weight] [--values 0 1] [--models-dir DIR]

Each variant is trained with the base's recipe (core.training.defaults) except the setting under study, into
``--models-dir`` (default: a temporary folder beside the built port), then evaluated in pair mode on the dev
languages of the default split (never the evaluation languages): clean MRR and MRR under substitute, keyboard
and delete at 0.2, next to the base. The evaluation languages are not read at all.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHOICES = {  # choice -> (objective, TrainConfig field)
    "ot-sentence-weight": ("ot-distill", "ot_sentence_weight"),
    "typo-weight": ("typo-contrastive", "typo_weight"),
    "learning-rate": ("bitext", "learning_rate"),
}
NOISES = ("substitute", "keyboard", "delete")


def dev_table(encoders: list[str], langs: list[str], level: float, max_queries: int) -> dict:
    """Encoder -> lang -> {condition: MRR} in pair mode, exact ranks; queries through each encoder's query side."""
    import torch

    from core.datasets import build_tasks, load_bitexts
    from core.encoders import document_side, load_encoder, query_side
    from core.metrics import mrr
    from core.noise import apply_noise
    from core.ranking import gold_ranks

    torch.set_num_threads(1)
    tasks = build_tasks(load_bitexts("tatoeba", langs), "pair", max_queries)
    noisy = {
        (t.lang, n): [
            apply_noise(x, n, level, seed=0, qid=int(i), lang=t.lang).noisy for x, i in zip(t.queries, t.qids)
        ]
        for t in tasks
        for n in NOISES
    }
    out: dict = {}
    for name in encoders:
        enc = load_encoder(name)
        out[name] = {}
        for t in tasks:
            docs = document_side(enc).encode(t.corpus.documents)
            row = {"clean": mrr(gold_ranks(query_side(enc).encode(t.queries), docs, t.gold).rank)}
            for n in NOISES:
                row[n] = mrr(gold_ranks(query_side(enc).encode(noisy[(t.lang, n)]), docs, t.gold).rank)
            out[name][t.lang] = row
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--choice", choices=sorted(CHOICES), default="ot-sentence-weight")
    p.add_argument("--values", nargs="+", type=float, default=[0.0, 1.0])
    p.add_argument("--base", default="e5-small-torch")
    p.add_argument(
        "--models-dir", type=Path, help="default: a temporary folder (the built port is linked in)"
    )
    p.add_argument("--level", type=float, default=0.2)
    p.add_argument("--max-queries", type=int, default=300)
    args = p.parse_args()

    from core.paths import private_models_dir

    root = private_models_dir(args.models_dir or Path(tempfile.mkdtemp(prefix="dev-choices-")))
    os.environ["CLIR_MODELS_DIR"] = str(root)

    from core.encoders.registry import MODEL_CARD
    from core.training import make_split, train_simcse
    from core.training.defaults import recipe_config

    split = make_split()
    objective, field = CHOICES[args.choice]
    names = []
    for value in args.values:
        name = f"dev-{objective}-{field}-{value:g}".replace(".", "p")
        names.append(name)
        if (root / name / MODEL_CARD).is_file():
            continue
        t0 = time.perf_counter()
        train_simcse(recipe_config(args.base, objective, name, split, **{field: value}), root / name)
        print(f"{name}: trained in {time.perf_counter() - t0:.0f}s", flush=True)
    langs = list(split.dev_langs)
    table = dev_table([args.base, *names], langs, args.level, args.max_queries)
    conds = ["clean", *NOISES]
    print(
        f"\ndev languages {' '.join(langs)} (pair, first {args.max_queries} queries, noise at {args.level:g})"
    )
    print(f"{'encoder':<44}" + "".join(f"{c:>11}" for c in conds) + f"{'mean drop':>11}")
    for name in table:
        mean = {c: sum(table[name][x][c] for x in langs) / len(langs) for c in conds}
        drop = sum(1 - mean[n] / mean["clean"] for n in NOISES) / len(NOISES)
        print(f"{name:<44}" + "".join(f"{mean[c]:>11.4f}" for c in conds) + f"{drop:>11.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
