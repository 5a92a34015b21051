"""``python -m precompute.train_simcse``: train a dual encoder (SimCSE, typo-contrastive, OT distillation) and
register it under ``models/``.

Every error the user can cause is printed as one line (``error: ...``) with exit status 2; a failed or
killed run leaves no model folder behind.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from precompute.errors import run_cli


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (exposed for tests and docs)."""
    from core.training import OBJECTIVES
    from core.training.simcse import DEFAULT_BATCH_SIZE, DEFAULT_MAX_PAIRS

    p = argparse.ArgumentParser(prog="python -m precompute.train_simcse", description=__doc__.splitlines()[0])
    p.add_argument(
        "--base",
        default="minilm",
        help="registry name, model folder or hub id (default: minilm; e5-small-torch)",
    )
    p.add_argument("--objective", required=True, choices=OBJECTIVES)
    p.add_argument("--out", type=Path, help="model folder (default: models/NAME)")
    p.add_argument(
        "--name",
        help="registry name of seed 0 (default: simcse-{unsup,bitext,noisy}-BASE, typo-BASE, optical-BASE, "
        "labse-BASE); training seed k > 0 is NAME-sk",
    )
    p.add_argument("--train-langs", nargs="+", metavar="LANG", help="default: a built-in multi-script list")
    p.add_argument("--eval-langs", nargs="+", metavar="LANG", help="default: the demo grid's languages")
    p.add_argument(
        "--dev-langs", nargs="*", metavar="LANG", help="held out for tuning (default: afr tgl ukr)"
    )
    p.add_argument("--allow-overlap", action="store_true", help="allow training on evaluation languages")
    recipe = "default: the base's recipe (core.training.defaults.RECIPES)"
    p.add_argument("--steps", type=int, help=recipe)
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument(
        "--max-pairs", type=int, default=DEFAULT_MAX_PAIRS, help="cap on training pairs (0: no cap)"
    )
    p.add_argument("--max-seq-length", type=int, help=recipe)
    p.add_argument("--learning-rate", type=float, help=recipe)
    p.add_argument(
        "--freeze-embeddings",
        action=argparse.BooleanOptionalAction,
        help=f"freeze the word embeddings ({recipe})",
    )
    p.add_argument(
        "--typo-weight", type=float, help="typo-contrastive: weight of the clean<->noisy term (1.0)"
    )
    p.add_argument("--ot-epsilon", type=float, help="ot-distill: Sinkhorn regularisation (0.05)")
    p.add_argument(
        "--margin", type=float, help="labse-ams: additive margin on the positive's cosine (0.3, LaBSE's)"
    )
    p.add_argument(
        "--ot-sentence-weight",
        type=float,
        help="ot-distill: weight of the sentence InfoNCE (1.0; 0: OT only)",
    )
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        metavar="SEED",
        help="training seeds, one model each, trained one after the other (default: 0); e.g. --seeds 0 1 2",
    )
    seeds.add_argument("--seed", type=int, help="one training seed (the same as --seeds SEED)")
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto (default): CUDA when torch sees a GPU, else the CPU",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: see TrainConfig.threads)"
    )
    p.add_argument("--data-dir", help="Tatoeba folder (default: $CLIR_DATA_DIR)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _run(args: argparse.Namespace) -> int:
    from core.datasets import available_languages
    from core.encoders.registry import MODEL_CARD, trainable_fingerprint
    from core.errors import ConfigError
    from core.paths import models_dir
    from core.training import default_model_names, make_split, train_simcse
    from core.training.defaults import check_seeds, recipe_config, seed_model_name
    from core.training.simcse import check_target, training_device

    seeds = check_seeds([0] if args.seeds is None and args.seed is None else
                        [args.seed] if args.seed is not None else args.seeds)  # fmt: skip
    if args.out is not None and len(seeds) > 1:
        raise ConfigError("--out names one folder; with several --seeds each model goes to models/NAME-sK")
    if args.margin is not None and args.objective != "labse-ams":
        raise ConfigError(f"--margin is labse-ams's; objective {args.objective} has no margin")
    split = make_split(
        args.train_langs,
        args.eval_langs,
        args.dev_langs,
        allow_overlap=args.allow_overlap,
        available=available_languages("tatoeba", args.data_dir),
    )
    family = args.name or default_model_names(args.base, (args.objective,))[args.objective]
    configs = []
    for seed in seeds:
        name = seed_model_name(family, seed)
        config = recipe_config(
            args.base,
            args.objective,
            name,
            split,
            seed=seed,
            steps=args.steps,
            batch_size=args.batch_size,
            max_pairs=args.max_pairs,
            max_seq_length=args.max_seq_length,
            learning_rate=args.learning_rate,
            freeze_embeddings=args.freeze_embeddings,
            typo_weight=args.typo_weight,
            ot_epsilon=args.ot_epsilon,
            ot_sentence_weight=args.ot_sentence_weight,
            margin=args.margin,
            threads=args.threads,
            device=args.device,
            data_dir=args.data_dir,
        )
        if args.max_pairs == 0:  # 0 means no cap (None would mean "the default" to recipe_config)
            config = dataclasses.replace(config, max_pairs=None)
        out = args.out or models_dir() / name
        check_target(name, out, args.overwrite)  # every seed's target, before the first one trains
        configs.append((config, out))
    trainable_fingerprint(args.base)  # an untrainable or unknown base fails here, before any banner or data
    training_device(args.device)  # so does --device cuda where torch sees no GPU
    print(
        f"training {', '.join(c.name for c, _ in configs)} ({args.objective} on {args.base}): "
        f"{len(split.train_langs)} training languages, evaluation languages {' '.join(split.eval_langs)} "
        "held out"
    )
    import json

    for config, out in configs:
        path = train_simcse(config, out, progress=not args.quiet, overwrite=args.overwrite)
        card = json.loads((path / MODEL_CARD).read_text(encoding="utf-8"))
        print(
            f"saved {path}: training seed {card['seed']}, {card['pairs_seen']} pairs seen "
            f"({card['steps']} steps x {card['batch_size']}), {card['dropped_leaking_pairs']} leaking pairs "
            f"dropped, {card['train_seconds']:.0f}s"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 on bad input, with a one-line message on stderr)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: _run(args), interrupted="no model was saved")


if __name__ == "__main__":
    raise SystemExit(main())
