"""Precompute overhead: wall time of a cold-cache grid run over the encoder's own load + encode time.

Baseline, per encoder: load it and encode the grid's unique texts (corpus documents, clean queries, noisy
queries) once, sorted by length, 512 per call (each encoder batches inside a call: minilm 64, muse3 32,
e5-small 256), with nothing else. Pipeline: ``run_grid`` of the grid restricted to that encoder, on a fresh
cache and a fresh DB (noise, cache reads and writes, exact ranking, DuckDB writes included). Each side runs
in its own fresh process; with ``--repeat``, their order alternates from round to round. For an encoder
that a run encodes in its own single-threaded processes (muse3: ``core.encoders.process``), a third side
encodes the same texts in those processes alone, so the report also shows what the pipeline adds over its
own way of encoding.
Target (issue 13): ratio <= 1.1 for every encoder.

The default grid is issue 13's (benchmarks/overhead.toml: 6 languages, pair, substitute and delete at 0,
0.05, 0.1, 0.2, every query; ~19k unique texts): several minutes per encoder on 2 cores. ``--quick`` keeps
200 queries of two languages (under 3 minutes for the three encoders).

    CLIR_DATA_DIR=... python benchmarks/overhead.py [--grid benchmarks/overhead.toml] [--encoders minilm]
        [--quick] [--profile out.prof] [--repeat 3] [--without noise,writes,puts,ranking]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
DEFAULT_GRID = Path(__file__).with_name("overhead.toml")


def unique_texts(grid) -> list[str]:
    """Every distinct text a cold run of ``grid`` encodes (documents, clean and noisy queries)."""
    from core.datasets import build_tasks, load_bitexts
    from core.noise import apply_noise_batch

    bts = load_bitexts(grid.dataset, grid.languages, grid.path)
    texts: dict[str, None] = {}
    for mode in grid.modes:
        for t in build_tasks(bts, mode, grid.max_queries):
            texts.update(dict.fromkeys(t.corpus.documents))
            texts.update(dict.fromkeys(t.queries))
            for noise, level, seed in grid.noisy_conditions:
                res = apply_noise_batch(
                    list(t.queries), noise, level, seed=seed, qids=t.qids.tolist(), langs=t.lang
                )
                texts.update(dict.fromkeys(res.noisy))
    return list(texts)


PARTS = ("noise", "writes", "puts", "ranking")


def _without(parts: set[str], grid) -> None:
    """Take ``parts`` of the pipeline's own work out of this process's run (for ``--without``): noisy queries
    computed before the timer, DuckDB writes and embedding-cache puts skipped, ranking replaced by constant
    ranks. The rows it stores are then wrong: only its time means anything."""
    import numpy as np

    import core.encoders.cache as cache
    import core.pipeline.backends.local as local
    import core.pipeline.compute as pipeline_compute
    import core.pipeline.sink as sink
    from core.datasets import build_tasks, load_bitexts
    from core.ranking import GoldRanks

    if "noise" in parts:
        frames, compute = {}, pipeline_compute.noisy_frame
        for mode in grid.modes:
            for t in build_tasks(
                load_bitexts(grid.dataset, grid.languages, grid.path), mode, grid.max_queries
            ):
                for cond in grid.noisy_conditions:
                    frames[(t.lang, *cond)] = compute(t, *cond)
        # The local backend's look-ahead thread computes noise too: both names are replaced.
        pipeline_compute.noisy_frame = local.noisy_frame = lambda task, noise, level, seed: frames[
            (task.lang, noise, level, seed)
        ]
    if "writes" in parts:
        sink.ResultSink._write = lambda self, *frames: None
    if "puts" in parts:
        cache.EmbeddingCache.put = lambda self, texts, vectors: None
    if "ranking" in parts:

        def constant(queries, docs, gold, *, k=5, block=512):
            n, k = len(queries), min(k, len(docs))
            return GoldRanks(np.ones(n, np.int64), np.ones(n, np.float32), np.zeros((n, k), np.int64),
                             np.zeros((n, k), np.float32))  # fmt: skip

        pipeline_compute.gold_ranks = constant


def _cpu() -> float:
    """CPU seconds of this process and of its children reaped so far (an encoder's own processes)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _measure(side: str, grid, name: str, profile: str | None, without: set[str] = frozenset()) -> dict:
    """One side of a round, in this (fresh) process: wall and CPU seconds, cells and texts."""
    from core.encoders import load_encoder
    from core.paths import cache_dir
    from core.pipeline import run_grid

    with tempfile.TemporaryDirectory() as tmp:
        # A cold embedding cache (every text is encoded), with the noise module's Unicode tables, which a
        # machine computes once (core.noise.segment), copied from this machine's cache as any later run finds
        # them.
        tables = cache_dir() / "noise"
        if tables.is_dir():
            shutil.copytree(tables, Path(tmp) / "cache" / "noise")
        os.environ["CLIR_CACHE_DIR"] = str(Path(tmp) / "cache")
        if side in ("baseline", "processes"):
            texts = sorted(unique_texts(grid), key=len)  # the baseline's best case: similar lengths together
            t0, c0 = time.perf_counter(), _cpu()
            if side == "baseline":
                enc = load_encoder(name)
            else:
                from core.encoders.process import load_in_processes

                enc = load_in_processes(name)
            for i in range(0, len(texts), 512):
                enc.encode(texts[i : i + 512])
            if side == "processes":
                enc.close()  # its children's CPU is counted once they are reaped
            return {"wall": time.perf_counter() - t0, "cpu": _cpu() - c0, "texts": len(texts)}
        _without(set(without), grid)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t0, c0 = time.perf_counter(), _cpu()
        report = run_grid(grid, Path(tmp) / "b.duckdb", progress=False)
        out = {"wall": time.perf_counter() - t0, "cpu": _cpu() - c0,
               "cells": report.cells_written, "texts": report.texts_encoded}  # fmt: skip
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{name}")
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default=str(DEFAULT_GRID))
    ap.add_argument("--encoders", help="comma-separated encoders to measure instead of the grid's")
    ap.add_argument("--languages", help="comma-separated languages instead of the grid's")
    ap.add_argument("--quick", action="store_true", help="200 queries of amh and deu only (a fast check)")
    ap.add_argument("--profile", help="write a cProfile of each pipeline run to PROFILE.<encoder>")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of (baseline, pipeline) per encoder, their order alternating; the median ratio is "
        "reported (this VM's speed drifts by 10-15%% from minute to minute)",
    )
    ap.add_argument(
        "--without",
        default="",
        help=f"comma-separated parts of the pipeline's own work to leave out ({', '.join(PARTS)}): what the "
        "ratio would be without them (the stored rows are then meaningless)",
    )
    ap.add_argument(
        "--side", choices=("baseline", "pipeline", "processes"), help=argparse.SUPPRESS
    )  # one measurement
    args = ap.parse_args()
    without = {p for p in args.without.split(",") if p}
    if without - set(PARTS):
        ap.error(
            f"--without: unknown part(s) {', '.join(sorted(without - set(PARTS)))}; known: {', '.join(PARTS)}"
        )

    from core.pipeline import load_grid

    grid = load_grid(args.grid)
    if args.encoders:
        grid = dataclasses.replace(grid, encoders=tuple(args.encoders.split(",")))
    if args.languages:
        grid = dataclasses.replace(grid, languages=tuple(args.languages.split(",")))
    if args.quick:
        grid = dataclasses.replace(grid, languages=("amh", "deu"), max_queries=200)
    if args.side:
        (name,) = grid.encoders
        print("RESULT " + json.dumps(_measure(args.side, grid, name, args.profile, without)), flush=True)
        return

    from core.noise.segment import _tables

    _tables()  # computed and stored once under $CLIR_CACHE_DIR/noise if this machine has not yet
    print(f"grid {args.grid}{' (quick)' if args.quick else ''}: {len(grid.encoders)} encoders, "
          f"{len(grid.languages)} languages, {args.repeat} round(s) each{f'; pipeline without {args.without}' if args.without else ''}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    from core.encoders.registry import runs_in_own_processes

    total_base = total_pipe = 0.0
    medians: dict[str, dict[str, list[float]]] = {}
    for name, rnd in ((n, r) for n in grid.encoders for r in range(args.repeat)):
        # Each side in a fresh process (imports, model load, first noisy text: each pays its own, nothing
        # carries over), the order alternating from round to round so that a drift favours neither.
        sides = ["baseline", "pipeline"]
        if runs_in_own_processes(name):
            # The run encodes in the encoder's own single-threaded processes (core.encoders.process): the
            # same texts encoded that way alone show what the pipeline adds over its own encoding.
            sides.append("processes")
        sides = sides[rnd % len(sides) :] + sides[: rnd % len(sides)]
        got = {side: _run_side(args, name, side) for side in sides}
        base, pipe = got["baseline"], got["pipeline"]
        total_base, total_pipe = total_base + base["wall"], total_pipe + pipe["wall"]
        # CPU seconds (every thread of the process, and its encoder processes) as well: on a busy machine
        # wall time mostly measures the neighbours, CPU time much less so.
        line = (
            f"  {name:10s} baseline (load + encode {base['texts']} texts once) {base['wall']:7.1f} s   pipeline "
            f"({pipe['cells']} cells, {pipe['texts']} texts) {pipe['wall']:7.1f} s   ratio {pipe['wall'] / base['wall']:.3f}"
            f"   | CPU s: baseline {base['cpu']:.1f}, pipeline {pipe['cpu']:.1f}, ratio {pipe['cpu'] / base['cpu']:.3f}"
        )
        ratios = medians.setdefault(name, {})
        ratios.setdefault("baseline", []).append(pipe["wall"] / base["wall"])
        if "processes" in got:
            own = got["processes"]
            line += f"\n  {'':10s} encoder alone in its own processes {own['wall']:7.1f} s: pipeline / that {pipe['wall'] / own['wall']:.3f}"
            ratios.setdefault("processes", []).append(pipe["wall"] / own["wall"])
        print(line, flush=True)
    if args.repeat > 1:
        for name, by in medians.items():
            for against, r in by.items():
                what = "" if against == "baseline" else " against its own processes alone"
                print(f"  {name:10s} median ratio{what} of {len(r)} rounds {statistics.median(r):.3f} "
                      f"(min {min(r):.3f}, max {max(r):.3f})")  # fmt: skip
    print(f"overall ratio pipeline / baseline = {total_pipe / total_base:.3f}  (target <= 1.1 per encoder); "
          f"load average now {os.getloadavg()[0]:.1f}")  # fmt: skip


def _run_side(args, name: str, side: str) -> dict:
    cmd = [sys.executable, __file__, "--grid", args.grid, "--encoders", name, "--side", side]
    if args.languages:
        cmd += ["--languages", args.languages]
    if args.quick:
        cmd.append("--quick")
    if args.profile and side == "pipeline":
        cmd += ["--profile", args.profile]
    if args.without and side == "pipeline":
        cmd += ["--without", args.without]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"{side} run of {name} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


if __name__ == "__main__":
    main()
