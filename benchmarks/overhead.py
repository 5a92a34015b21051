"""Precompute overhead: wall time of a cold-cache grid run over the encoder's own load + encode time.

Baseline: for each encoder, load it and encode the grid's unique texts (corpus documents, clean queries,
noisy queries) once, in batches, with nothing else. Pipeline: ``run_grid`` on a fresh cache and a fresh DB
(noise generation, cache writes, exact ranking, DuckDB writes included). Target: ratio <= 1.3 (aim 1.1).

    CLIR_DATA_DIR=... python benchmarks/overhead.py [--grid precompute/grids/demo.toml]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def unique_texts(grid) -> list[str]:
    from core.datasets import build_tasks, load_bitexts
    from core.noise import apply_noise

    bts = load_bitexts(grid.dataset, grid.languages, grid.path)
    texts: dict[str, None] = {}
    for mode in grid.modes:
        for t in build_tasks(bts, mode, grid.max_queries):
            texts.update(dict.fromkeys(t.corpus.documents))
            texts.update(dict.fromkeys(t.queries))
            for noise, level, seed in grid.noisy_conditions:
                for qid, q in zip(t.qids.tolist(), t.queries):
                    texts[apply_noise(q, noise, level, seed=seed, qid=qid, lang=t.lang).noisy] = None
    return list(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="precompute/grids/demo.toml")
    ap.add_argument("--encoders", help="comma-separated encoders to measure instead of the grid's")
    ap.add_argument("--languages", help="comma-separated languages instead of the grid's")
    args = ap.parse_args()
    import dataclasses

    from core.pipeline import load_grid, run_grid

    grid = load_grid(args.grid)
    if args.encoders:
        grid = dataclasses.replace(grid, encoders=tuple(args.encoders.split(",")))
    if args.languages:
        grid = dataclasses.replace(grid, languages=tuple(args.languages.split(",")))
    texts = unique_texts(grid)
    print(f"grid {args.grid}: {len(grid.encoders)} encoders, {len(texts)} unique texts")

    from core.encoders import load_encoder

    total_base = total_pipe = 0.0
    for name in grid.encoders:
        # Each side gets a fresh cache: both encode every unique text exactly once.
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["CLIR_CACHE_DIR"] = str(Path(tmp) / "cache-alone")
            t0 = time.perf_counter()
            enc = load_encoder(name)
            for i in range(0, len(texts), 512):
                enc.encode(texts[i : i + 512])
            alone = time.perf_counter() - t0
            del enc
            os.environ["CLIR_CACHE_DIR"] = str(Path(tmp) / "cache-pipeline")
            t0 = time.perf_counter()
            report = run_grid(
                dataclasses.replace(grid, encoders=(name,)), Path(tmp) / "b.duckdb", progress=False
            )
            pipe = time.perf_counter() - t0
        total_base, total_pipe = total_base + alone, total_pipe + pipe
        print(
            f"  {name:10s} encoder alone (load + encode) {alone:7.1f} s   pipeline ({report.cells_written} cells) "
            f"{pipe:7.1f} s   ratio {pipe / alone:.3f}"
        )
    print(
        f"overhead ratio pipeline / encoder alone = {total_pipe / total_base:.3f}  (target <= 1.3, aim 1.1)"
    )


if __name__ == "__main__":
    main()
