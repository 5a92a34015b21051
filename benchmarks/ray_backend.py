"""Ray backend cost: wall time of ``precompute run`` with the local backend vs the Ray backend (1 worker).

Each run is the real command in a fresh process (imports, model loads and, for Ray, starting Ray included),
on a fresh database, on the same grid. Warm: every vector is in the cache (filled by the cold local run,
which is timed too). ``--cold`` also times Ray on an empty cache. Then the grid runs on a two-node cluster
on 127.0.0.1 (``ray start`` twice, 1 CPU each, each node with its own copy of the warm cache) through
``--address``. Target: Ray (1 worker) / local <= 1.2.

    CLIR_DATA_DIR=... python benchmarks/ray_backend.py [--grid G] [--cold] [--no-cluster]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = """[dataset]
languages = ["swh", "xho"]
mode = ["pair", "pooled"]
max_queries = 50
[grid]
encoders = ["muse3", "minilm"]
noise = ["substitute", "delete"]
levels = [0.1, 0.2]
seeds = [0]
"""
MARKER = "CLIR_BENCH_RAY_MARKER"


def run(grid: Path, db: Path, cache: Path, *extra: str, env: dict | None = None) -> float:
    """Wall time of one ``precompute run`` in a fresh process; fails loudly if the run fails."""
    env = {**(env or os.environ), "CLIR_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--db", str(db),
                        "--quiet", *extra], env=env, cwd=REPO, capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"run failed ({' '.join(extra) or 'local'}): {p.stderr[-2000:]}")
    line = next(line for line in p.stdout.splitlines() if line.startswith("run "))
    print(f"    {line}")
    return took


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def kill_marked(value: str) -> None:
    """SIGKILL every process whose environment carries ``MARKER=value`` (what this script started)."""
    needle = f"{MARKER}={value}".encode()
    for _ in range(50):
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and needle in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def two_node_run(grid: Path, db: Path, warm_cache: Path, root: Path) -> tuple[float, float]:
    """(seconds to start the two nodes, wall time of the run through --address); stops both nodes."""
    marker = uuid.uuid4().hex
    ports = free_ports(13)
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "token", MARKER: marker}
    ray = str(Path(sys.executable).with_name("ray"))
    t0 = time.perf_counter()
    try:
        for i, node in enumerate(("head", "worker")):
            p = ports[1 + 6 * i : 7 + 6 * i]
            cache = root / f"cache-{node}"  # each node its own cache folder, as without a shared filesystem
            shutil.copytree(warm_cache, cache)
            (root / node).mkdir()
            first = ["--head", "--port", str(ports[0]), "--include-dashboard", "false"] if node == "head" else [
                "--address", f"127.0.0.1:{ports[0]}"]  # fmt: skip
            cmd = [ray, "start", *first, "--num-cpus", "1", "--node-ip-address", "127.0.0.1",
                   "--temp-dir", str(root / node), "--object-store-memory", str(200 << 20),
                   "--node-manager-port", str(p[0]), "--object-manager-port", str(p[1]),
                   "--dashboard-agent-listen-port", str(p[2]), "--dashboard-agent-grpc-port", str(p[3]),
                   "--runtime-env-agent-port", str(p[4]), "--metrics-export-port", str(p[5]),
                   "--disable-usage-stats"]  # fmt: skip
            out = subprocess.run(
                cmd, env={**env, "CLIR_CACHE_DIR": str(cache)}, capture_output=True, text=True
            )
            if out.returncode != 0:
                raise SystemExit(f"ray start ({node}) failed: {out.stderr[-2000:]}")
        started = time.perf_counter() - t0
        took = run(grid, db, root / "driver-cache", "--backend", "ray", "--address", f"127.0.0.1:{ports[0]}",
                   env=env)  # fmt: skip
        return started, took
    finally:
        kill_marked(marker)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=Path, help="grid TOML (default: 2 languages, muse3 + minilm, 2 noises)")
    ap.add_argument("--cold", action="store_true", help="also time the Ray backend on an empty cache")
    ap.add_argument("--no-cluster", action="store_true", help="skip the two-node cluster run")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="clir-b-", dir="/tmp"))  # short: Ray's socket paths live under it
    try:
        grid = args.grid or root / "grid.toml"
        if not args.grid:
            grid.write_text(GRID, encoding="utf-8")
        print(f"grid {args.grid or 'built-in (swh, xho; pair + pooled; muse3, minilm; 2 noises x 2 levels)'}")
        warm = root / "cache-warm"
        local_cold = run(grid, root / "a.duckdb", warm)
        print(f"  cold cache   local {local_cold:7.1f} s")
        if args.cold:
            ray_cold = run(
                grid, root / "b.duckdb", root / "cache-cold-ray", "--backend", "ray", "--workers", "1"
            )
            print(
                f"  cold cache   ray (1 worker) {ray_cold:7.1f} s   ratio ray / local {ray_cold / local_cold:.2f}"
            )
        local_warm = run(grid, root / "c.duckdb", warm)
        ray_warm = run(grid, root / "d.duckdb", warm, "--backend", "ray", "--workers", "1")
        print(f"  warm cache   local {local_warm:7.1f} s   ray (1 worker) {ray_warm:7.1f} s   "
              f"ratio ray / local {ray_warm / local_warm:.2f}  (target <= 1.2)")  # fmt: skip
        if not args.no_cluster:
            started, took = two_node_run(grid, root / "e.duckdb", warm, root)
            print(f"  two nodes on 127.0.0.1 (1 CPU each, warm caches): started in {started:.1f} s, "
                  f"run {took:.1f} s")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
