"""Precompute overhead: wall time of a cold-cache grid run over the encoder's own load + encode time.

Baseline, per encoder: load it and encode the grid's unique texts (corpus documents, clean queries, noisy
queries) once, sorted by length, 512 per call (each encoder batches inside a call: minilm 64, muse3 32,
e5-small 256), with nothing else. Pipeline: ``run_grid`` of the grid restricted to that encoder, on a fresh
cache and a fresh DB (noise, cache reads and writes, exact ranking, DuckDB writes included).
Target (issue 13): ratio <= 1.1 for every encoder.

The default grid is issue 13's (benchmarks/overhead.toml: 6 languages, pair, substitute and delete at 0,
0.05, 0.1, 0.2, every query; ~19k unique texts): several minutes per encoder on 2 cores. ``--quick`` keeps
200 queries of two languages (under 3 minutes for the three encoders).

    CLIR_DATA_DIR=... python benchmarks/overhead.py [--grid benchmarks/overhead.toml] [--encoders minilm]
        [--quick] [--profile out.prof] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
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
        help="rounds of (baseline, pipeline) per encoder; the "
        "median ratio is reported (this VM's speed drifts by 10-15%% from minute to minute)",
    )
    args = ap.parse_args()

    from core.encoders import load_encoder
    from core.pipeline import load_grid, run_grid

    grid = load_grid(args.grid)
    if args.encoders:
        grid = dataclasses.replace(grid, encoders=tuple(args.encoders.split(",")))
    if args.languages:
        grid = dataclasses.replace(grid, languages=tuple(args.languages.split(",")))
    if args.quick:
        grid = dataclasses.replace(grid, languages=("amh", "deu"), max_queries=200)
    texts = sorted(unique_texts(grid), key=len)  # the baseline's best case: batches of similar lengths
    print(f"grid {args.grid}{' (quick)' if args.quick else ''}: {len(grid.encoders)} encoders, "
          f"{len(grid.languages)} languages, {len(texts)} unique texts; load average {os.getloadavg()[0]:.1f}")  # fmt: skip

    total_base = total_pipe = 0.0
    medians = {}
    for name, _round in ((n, r) for n in grid.encoders for r in range(args.repeat)):
        # Each side gets a fresh cache: both encode every unique text exactly once.
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["CLIR_CACHE_DIR"] = str(Path(tmp) / "cache-alone")
            t0, c0 = time.perf_counter(), time.process_time()
            enc = load_encoder(name)
            for i in range(0, len(texts), 512):
                enc.encode(texts[i : i + 512])
            alone, alone_cpu = time.perf_counter() - t0, time.process_time() - c0
            del enc
            os.environ["CLIR_CACHE_DIR"] = str(Path(tmp) / "cache-pipeline")
            one = dataclasses.replace(grid, encoders=(name,))
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            t0, c0 = time.perf_counter(), time.process_time()
            report = run_grid(one, Path(tmp) / "b.duckdb", progress=False)
            pipe, pipe_cpu = time.perf_counter() - t0, time.process_time() - c0
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(f"{args.profile}.{name}")
        total_base, total_pipe = total_base + alone, total_pipe + pipe
        # CPU seconds (every thread of this process) as well: on a busy machine wall time mostly measures
        # the neighbours, CPU time much less so.
        print(
            f"  {name:10s} baseline (load + encode {len(texts)} texts once) {alone:7.1f} s   pipeline "
            f"({report.cells_written} cells, {report.texts_encoded} texts) {pipe:7.1f} s   ratio {pipe / alone:.3f}"
            f"   | CPU s: baseline {alone_cpu:.1f}, pipeline {pipe_cpu:.1f}, ratio {pipe_cpu / alone_cpu:.3f}",
            flush=True,
        )
        medians.setdefault(name, []).append(pipe / alone)
    if args.repeat > 1:
        for name, ratios in medians.items():
            print(f"  {name:10s} median ratio of {len(ratios)} rounds {statistics.median(ratios):.3f} "
                  f"(min {min(ratios):.3f}, max {max(ratios):.3f})")  # fmt: skip
    print(f"overall ratio pipeline / baseline = {total_pipe / total_base:.3f}  (target <= 1.1 per encoder); "
          f"load average now {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
