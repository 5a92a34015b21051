"""Time the default trainings of a base and compare clean MRR (pair mode) against the base encoder.

Usage:
    python benchmarks/train_simcse_time.py [--models-dir DIR] [--base minilm|e5-small-torch] [--langs ...]
                                           [--no-train]

Trains each default model of the base missing from ``--models-dir`` (default: a fresh temporary folder, so
the real ``models/`` is untouched; the built e5 port is linked in, not rebuilt) one after the other with the
base's recipe, prints each training's wall time and pairs seen (every objective of a base sees the same
number: the equal-budget rule) and the total against the budget (MiniLM: 10 minutes for its three models;
e5-small-torch: 45 minutes for its six), then the clean MRR of the base and of every trained model on the
evaluation languages (never used for tuning) and the dev languages (the only ones tuning may look at), and
each model's share of the base's clean MRR on the evaluation languages. Asymmetric models encode queries with
the student and documents with the teacher. The base is built and loaded once before the clock starts (the
e5 port's first build is not training time). ``--steps N`` times N steps per model instead and projects the
recipe's time from them (the quick way to a quiet figure on a machine that is rarely quiet for long).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGET_S = {"minilm": 600, "e5-small-torch": 2700}


def clean_mrr(
    names: list[str], langs: list[str], max_queries: int | None = 300
) -> dict[str, dict[str, float]]:
    """Encoder -> language -> clean pair-mode MRR (exact cosine ranks)."""
    import torch

    from core.datasets import build_tasks, load_bitexts
    from core.encoders import document_side, load_encoder, query_side
    from core.metrics import mrr
    from core.ranking import gold_ranks

    # One thread: on a shared 2-core machine OpenMP's spin-waiting makes 2 threads several times slower.
    torch.set_num_threads(1)
    tasks = build_tasks(load_bitexts("tatoeba", langs), "pair", max_queries)
    out: dict[str, dict[str, float]] = {}
    for name in names:
        enc = load_encoder(name)
        out[name] = {}
        for task in tasks:
            queries = query_side(enc).encode(task.queries)
            ranks = gold_ranks(queries, document_side(enc).encode(task.corpus.documents), task.gold).rank
            out[name][task.lang] = mrr(ranks)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", type=Path, help="default: a temporary folder")
    p.add_argument("--base", default="minilm")
    p.add_argument("--langs", nargs="+", help="default: evaluation + dev languages of the default split")
    p.add_argument("--no-train", action="store_true", help="only evaluate what is in --models-dir")
    p.add_argument("--max-queries", type=int, default=300, help="first N queries per language (0: all)")
    p.add_argument(
        "--steps",
        type=int,
        help="time N steps of each model instead of the recipe's and project the recipe's time as fixed "
        "costs (loading, saving) + loop time(N) x recipe steps / N, from the card's train_seconds and "
        "train_loop_seconds; no evaluation (the models are not the recipe's)",
    )
    args = p.parse_args()
    from core.paths import private_models_dir

    root = private_models_dir(args.models_dir or Path(tempfile.mkdtemp(prefix="simcse-bench-")))
    os.environ["CLIR_MODELS_DIR"] = str(root)

    import json

    from core.encoders.registry import MODEL_CARD
    from core.training import default_model_names, make_split
    from core.training.defaults import train_all_missing

    split = make_split()
    names = default_model_names(args.base)
    if not args.no_train:
        from core.encoders.registry import load_trainable

        load_trainable(args.base, 40)  # builds the e5 port on first use: not training time
        t0 = time.perf_counter()
        short = {"steps": args.steps} if args.steps else {}
        trained = train_all_missing(args.base, progress=True, **short)
        total = time.perf_counter() - t0
        for path in trained:
            card = json.loads((path / MODEL_CARD).read_text(encoding="utf-8"))
            print(f"{card['name']:<26} {card['train_seconds']:7.1f}s  ({card['pairs_seen']} pairs seen = "
                  f"{card['steps']} steps x {card['batch_size']}; {card['objective']})", flush=True)  # fmt: skip
        from core.training.cards import read_cards, recipe_markdown

        print("\nrecipes, as the cards record them (docs/training.md):")
        print(recipe_markdown([c for c in read_cards(root) if c["name"] in {p.name for p in trained}]))
        budget = BUDGET_S.get(args.base)
        print(f"total wall time {total:.1f}s for {len(trained)} models"
              + (f" (budget {budget}s for all {len(names)})" if budget else ""))  # fmt: skip
        if args.steps:
            from core.training.defaults import recipe

            projected = 0.0
            for path in trained:
                card = json.loads((path / MODEL_CARD).read_text(encoding="utf-8"))
                full = recipe(args.base, card["objective"]).get("steps", card["steps"])
                loop = card["train_loop_seconds"]
                one = card["train_seconds"] - loop + loop * full / args.steps
                projected += one
                print(f"{card['name']:<26} projected {one:7.1f}s for the recipe's {full} steps "
                      f"({card['train_seconds'] - loop:.1f}s fixed + {loop / args.steps:.2f}s per step)")  # fmt: skip
            print(f"projected total {projected:.1f}s = {projected / 60:.1f} min"
                  + (f" (budget {budget}s)" if budget else ""))  # fmt: skip
            return 0
    langs = args.langs or list(split.eval_langs + split.dev_langs)
    encoders = [args.base] + [n for n in names.values() if (root / n / MODEL_CARD).is_file()]
    table = clean_mrr(encoders, langs, args.max_queries or None)
    print(f"\nclean MRR, pair mode, first {args.max_queries or 'all'} queries "
          f"(eval: {' '.join(split.eval_langs)}; dev: {' '.join(split.dev_langs)})")  # fmt: skip
    print(f"{'lang':<10}" + "".join(f"{e:>20}" for e in encoders))
    for lang in langs:
        tag = "dev" if lang in split.dev_langs else "eval"
        print(f"{lang:<10}" + "".join(f"{table[e][lang]:>20.4f}" for e in encoders) + f"  {tag}")
    for tag, group in (("eval", split.eval_langs), ("dev", split.dev_langs)):
        group = [x for x in group if x in langs]
        if group:
            means = [sum(table[e][x] for x in group) / len(group) for e in encoders]
            print(f"{'mean ' + tag:<10}" + "".join(f"{m:>20.4f}" for m in means))
            shares = [m / means[0] for m in means]  # against the base (the first column)
            print(f"{'% of base':<10}" + "".join(f"{s:>20.1%}" for s in shares))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
