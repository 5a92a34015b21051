"""Peak memory of one precompute run against its number of cells: it must stay flat.

    python benchmarks/run_memory.py                # 1k and 20k cells (a few minutes on 2 cores)
    python benchmarks/run_memory.py --cells 1000 5000

Each size runs in a fresh subprocess (so peaks do not carry over) on the cheapest real path: the offline
``muse3`` encoder, one language (xho), two queries per cell (``max_queries = 2``), pair and pooled modes, and
as many (level, seed) conditions as needed to reach the number of cells. The cost of a cell is then almost
only the runner's own bookkeeping (noisy queries, buffers, progress, writes), which is what could grow.
Prints, per size: cells computed, seconds, peak RSS, and the growth of RSS after the first 500 cells.

Measured here (2 busy cores; seconds depend on the load, memory does not):

    before (41ed33b)   1002 cells: peak 330 MB, +25.7 MB after 500 cells
                       5002 cells: peak 398 MB, +92.1 MB   (about 16 KB more per cell, without bound)
    now                1002 cells: peak 315 MB, +12.9 MB
                      20002 cells: peak 351 MB, +39.9 MB   (Python heap flat per tracemalloc; the rest is
                                                          DuckDB's native allocations)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child(cells: int, root: Path) -> None:
    sys.path.insert(0, str(REPO))
    from core.pipeline import parse_grid, run_grid

    # cells = 2 modes x (1 clean + levels x seeds)
    conditions = max(1, math.ceil(cells / 2) - 1)
    n_levels = min(100, conditions)
    n_seeds = math.ceil(conditions / n_levels)
    levels = [round((i + 1) / n_levels, 4) for i in range(n_levels)]
    grid = parse_grid(
        "[dataset]\nlanguages = [\"xho\"]\nmode = [\"pair\", \"pooled\"]\nmax_queries = 2\n"
        f"[grid]\nencoders = [\"muse3\"]\nnoise = [\"delete\"]\nlevels = {levels}\nseeds = {list(range(n_seeds))}\n"
    )  # fmt: skip
    after_warmup: list[float] = []

    def progress(done: int, _total: int) -> None:
        if done == 500:
            after_warmup.append(_rss_mb())

    report = run_grid(grid, root / "m.duckdb", progress=False, say=lambda _m: None, on_progress=progress)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "cells": report.cells_written, "seconds": round(report.seconds, 1), "peak_rss_mb": round(peak, 1),
        "growth_after_500_cells_mb": round(peak - after_warmup[0], 1) if after_warmup else None,
    }))  # fmt: skip


def main() -> None:
    """Run each size in its own process and print one line per size."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, nargs="+", default=[1000, 20000])
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args.child, args.root)
        return
    for n in args.cells:
        with tempfile.TemporaryDirectory(prefix="run-memory-") as tmp:
            # A fresh embedding cache: every noisy query is encoded, as in a first run.
            env = {**os.environ, "CLIR_CACHE_DIR": str(Path(tmp) / "cache"), "PYTHONPATH": str(REPO)}
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n), "--root", tmp],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if out.returncode:
                sys.exit(f"error: {n} cells failed: {out.stderr.strip().splitlines()[-1:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r['cells']:>6} cells: {r['seconds']:>7.1f}s, peak RSS {r['peak_rss_mb']:.0f} MB, "
                  f"growth after the first 500 cells {r['growth_after_500_cells_mb']} MB")  # fmt: skip


if __name__ == "__main__":
    main()
