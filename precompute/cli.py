"""``python -m precompute {run,plan,summary,export,background,migrate,findings}``: thin argument parsing over ``core``.

Every error the user can cause is printed as one line (``error: ...``) with exit status 2; nothing stored
is touched by a failed command.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from core.paths import default_db_path
from precompute.background import LABSE_MODES
from precompute.errors import run_cli


def _cmd_run(args: argparse.Namespace) -> int:
    from core.conditions import CLEAN_NOISE
    from core.errors import ConfigError
    from core.pipeline import load_grid, run_grid
    from precompute.report import print_summary

    if args.backend == "local" and (args.address or args.workers is not None):
        raise ConfigError("--address and --workers need --backend ray")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if not 0 <= args.flush_seconds <= 3600:
        raise ConfigError(f"--flush-seconds must lie in [0, 3600], got {args.flush_seconds:g}")
    grid = load_grid(args.grid)
    report = run_grid(grid, args.db, progress=not args.quiet, replace_changed=args.replace_changed,
                      backend=args.backend, address=args.address, workers=args.workers,
                      flush_seconds=args.flush_seconds)  # fmt: skip
    print(
        f"run {report.run_id}: {report.cells_written} cells computed, {report.cells_skipped} already stored, "
        + (
            f"{report.cells_unavailable} not computed (encoder unavailable), "
            if report.cells_unavailable
            else ""
        )
        + f"{report.texts_encoded} texts encoded, {report.seconds:.1f}s"
    )
    for name, reason in report.skipped_encoders.items():
        print(f"skipped: encoder {name} unavailable: {reason}")
    from core.findings import refresh_findings

    # The Findings page reads the stored answer; computing it here keeps the page's first paint fast.
    refresh_findings(args.db, datasets=[grid.label], modes=grid.modes)
    print_summary(args.db, noise=None if args.all_noise else [*grid.noise, CLEAN_NOISE])
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from core.pipeline import load_grid
    from core.pipeline.plan import format_plan, measure_grid, plan_grid

    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    grid = load_grid(args.grid)
    if args.measure:
        for m in measure_grid(grid, n_texts=args.sample):
            print(f"measured {m.encoder}: {m.texts_per_s:.1f} texts/s after a warm-up, load {m.load_s:.1f}s")
    print(format_plan(plan_grid(grid, args.db), args.workers, str(args.grid)))
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from precompute.report import print_summary

    print_summary(args.db, metric=args.metric)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from precompute.export import export
    from precompute.report import query_set_notice

    filters = {"encoder": args.encoder, "lang": args.lang, "noise": args.noise, "level": args.level,
               "mode": args.mode}  # fmt: skip
    for path in export(args.db, args.out, fmt=args.format, **filters):
        print(f"wrote {path}")
    # The export holds only the cells over each language's newest query set: say what it left out.
    notice = query_set_notice(args.db, **filters)
    if notice:
        print(f"notice: {notice}")
    return 0


def _cmd_background(args: argparse.Namespace) -> int:
    from precompute.background import labse_choice, run_background

    # Before any work: `--labse yes` with neither the cache nor the hub is one error line and exit 2.
    extra, line = labse_choice(args.labse)
    print(line, flush=True)
    if args.check:
        return 0
    return run_background(
        args.grid,
        args.db,
        bases=tuple(args.base),
        extra=extra,
        seeds=tuple(args.seeds),
        after=tuple(args.after),
    )


def _cmd_migrate(args: argparse.Namespace) -> int:
    from core.errors import StoreError
    from core.store import SCHEMA_VERSION, connect

    if not Path(args.db).is_file():
        # migrate upgrades an existing file; creating an empty one would hide a mistyped path.
        raise StoreError(f"database {str(args.db)!r} does not exist")
    # Every row is read back before any migration writes to the file, so a damaged file is refused as is.
    with connect(args.db, verify=True) as conn:
        from core.store.schema import verify

        counts = verify(conn, args.db)
    print(f"{args.db}: schema v{SCHEMA_VERSION}, {counts.get('cells', 0)} cells, {counts.get('ranks', 0)} "
          "rank rows, every row read back")  # fmt: skip
    return 0


def _cmd_findings(args: argparse.Namespace) -> int:
    from core.errors import StoreError
    from core.findings import refresh_findings

    if not Path(args.db).is_file():
        raise StoreError(f"database {str(args.db)!r} does not exist")
    n = refresh_findings(args.db, force=args.force)
    print(f"{args.db}: {n} research answers computed and stored")
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from core.search_index import prebuild

    for name in args.encoder:
        done = prebuild(name, args.corpus, kind=args.kind, progress=not args.quiet)
        print(f"{name}: {done.corpus} ready, {done.n_docs:,} documents ({done.encoded_now:,} encoded now), "
              f"{done.index.label}, {done.seconds:.1f}s")  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="python -m precompute", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    db = {
        "type": Path,
        "default": default_db_path(),
        "help": "DuckDB file (default: $CLIR_DB or results/demo.duckdb)",
    }

    r = sub.add_parser("run", help="compute every missing cell of a grid")
    r.add_argument("--grid", required=True, type=Path, help="grid TOML (see precompute/grids/demo.toml)")
    r.add_argument("--db", **db)
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--all-noise", action="store_true", help="summarise every noise type in the DB")
    r.add_argument(
        "--replace-changed",
        action="store_true",
        help="when the data or an encoder changed under stored cells, delete and recompute those cells "
        "(default: refuse, so results are never mixed)",
    )
    r.add_argument(
        "--backend", choices=("local", "ray"), default="local",
        help="local: this process (default); ray: actors of a Ray cluster (see README, 'Running on a cluster')",
    )  # fmt: skip
    r.add_argument(
        "--flush-seconds", type=float, default=2.0, metavar="S",
        help="store the finished cells at least every S seconds (default 2; 0: after every group): what a "
        "killed run can lose, and how often the dashboard sees progress",
    )  # fmt: skip
    r.add_argument("--address", help="Ray cluster to join, host:port of its head (default: start Ray here)")
    r.add_argument(
        "--workers", type=int,
        help="Ray workers (CPUs) per encoder; default: every CPU of the cluster (or of this machine)",
    )  # fmt: skip
    r.set_defaults(fn=_cmd_run)

    pl = sub.add_parser("plan", help="what a run of a grid will compute, and how long it should take")
    pl.add_argument("--grid", required=True, type=Path, help="grid TOML")
    pl.add_argument("--db", type=Path, help="database the run would add to (default: plan a new one)")
    pl.add_argument("--workers", type=int, default=1, help="also estimate hours on N workers (default 1)")
    pl.add_argument(
        "--measure", action="store_true",
        help="first measure each encoder's speed here (load, warm up, encode --sample texts) and store it",
    )  # fmt: skip
    pl.add_argument("--sample", type=int, default=256, help="texts to time with --measure (default 256)")
    pl.set_defaults(fn=_cmd_plan)

    s = sub.add_parser("summary", help="print MRR by encoder x language x level from the DB")
    s.add_argument("--db", **db)
    s.add_argument("--metric", choices=("mrr", "acc1"), default="mrr")
    s.set_defaults(fn=_cmd_summary)

    e = sub.add_parser("export", help="export ranks as Parquet or TREC run + qrels files")
    e.add_argument("--db", **db)
    e.add_argument("--out", required=True, type=Path, help="output folder")
    e.add_argument("--format", choices=("parquet", "trec"), default="parquet")
    for col in ("encoder", "lang", "noise", "mode"):
        e.add_argument(f"--{col}", action="append", help=f"only this {col} (repeatable)")
    e.add_argument("--level", action="append", type=float, help="only this level (repeatable)")
    e.set_defaults(fn=_cmd_export)

    b = sub.add_parser("background", help="train the missing SimCSE models, then add their cells to the DB")
    b.add_argument("--grid", required=True, type=Path)
    b.add_argument("--db", **db)
    b.add_argument(
        "--base", nargs="+", default=["minilm", "e5-small-torch"],
        help="base encoders whose default models are trained, in order (default: minilm e5-small-torch)",
    )  # fmt: skip
    b.add_argument(
        "--labse", choices=LABSE_MODES, default="auto",
        help="add labse's cells last: auto (default) when it is in the Hugging Face cache, yes (download it, "
        "about 1.8 GB, if not cached; no network and no cache: an error before any work), no",
    )  # fmt: skip
    b.add_argument(
        "--seeds", nargs="*", type=int, default=[0], metavar="SEED",
        help="training seeds of every default model (default: 0; make study: 0 1 2); seed k of NAME is NAME-sk",
    )  # fmt: skip
    b.add_argument(
        "--after", nargs="*", type=Path, default=[], metavar="GRID",
        help="grids computed last, each into the same DB (make demo: the FLORES-200 and NTREX-128 grids); one "
        "whose data folder is missing is skipped with one line",
    )  # fmt: skip
    b.add_argument(
        "--check",
        action="store_true",
        help="only say whether labse would be added (exit 2 when --labse yes cannot get it); writes nothing",
    )
    b.set_defaults(fn=_cmd_background)

    m = sub.add_parser("migrate", help="upgrade a database to the current schema (keeps every row)")
    m.add_argument("--db", **db)
    m.set_defaults(fn=_cmd_migrate)

    f = sub.add_parser("findings", help="(re)compute the stored research answers the Findings page shows")
    f.add_argument("--db", **db)
    f.add_argument("--force", action="store_true", help="recompute even the answers that are current")
    f.set_defaults(fn=_cmd_findings)

    x = sub.add_parser(
        "index", help="encode a live-search corpus into the embedding cache and build its index"
    )
    x.add_argument("--encoder", action="append", required=True, help="encoder name (repeatable)")
    x.add_argument("--corpus", default="all-eng", choices=["all-eng"], help="all-eng: every English side")
    x.add_argument("--kind", default="flat", choices=["flat", "hnsw"], help="flat: exact (default)")
    x.add_argument("--quiet", action="store_true", help="no progress bars")
    x.set_defaults(fn=_cmd_index)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 user error, 130 interrupted)."""
    logging.basicConfig(
        level=os.environ.get("CLIR_LOG", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    return run_cli(
        lambda: args.fn(args),
        interrupted="completed cells are stored; run the same command again to finish",
    )
