"""The Ray backend against the local one, on real Ray, real data and the offline encoders.

(a) Ray in this process (``ray.init(num_cpus=2)``): the same grid gives the same tables as the local backend,
a rerun starts no worker and encodes nothing, and a driver killed midway (a subprocess, SIGKILL after its
first flushed cells) loses nothing: the rerun finishes the rest and the table equals the local one.
(b) A two-node cluster of separate ``ray start`` processes on 127.0.0.1, each node with its own embedding
cache folder: the run survives the second node killed mid-run (its raylet and every process of that node,
by PID) and the table equals the local backend's.

Every process a test starts is stopped by PID at the end: each one is found by a marker variable in its
environment, which every Ray process it spawns inherits.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from core.pipeline import parse_grid, run_grid
from core.store import connect
from precompute.cli import main

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
GRID = """[dataset]
languages = ["swh", "xho"]
mode = ["pair", "pooled"]
max_queries = 50
[grid]
encoders = {encoders}
noise = ["substitute", "delete"]
levels = [0.1, 0.2]
seeds = [0]
"""
MUSE3 = GRID.format(encoders='["muse3"]')
BOTH = GRID.format(encoders='["muse3", "minilm"]')
N_CELLS = {
    MUSE3: 2 * 2 * 5,
    BOTH: 2 * 2 * 5 * 2,
}  # modes x languages x (clean + 2 noises x 2 levels) x encoders
MARKER = "CLIR_TEST_RAY_MARKER"
# Run in a subprocess: a driver whose every flushed group is printed, so the test knows what is stored.
DRIVER = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from core.pipeline import parse_grid, run_grid
grid = parse_grid(open(sys.argv[1]).read())
address = sys.argv[3] if len(sys.argv) > 3 else None
run_grid(grid, sys.argv[2], backend="ray", address=address, workers=None if address else 2, progress=False,
         flush_seconds=0, on_progress=lambda done, total: print(done, total, flush=True))
print("finished", flush=True)
"""

TABLES = {
    "ranks": "SELECT * EXCLUDE (run_id) FROM ranks ORDER BY ALL",
    "cells": "SELECT * EXCLUDE (run_id, seconds, completed_at) FROM cells ORDER BY ALL",
    "noisy_queries": "SELECT * FROM noisy_queries ORDER BY ALL",
    "inputs": "SELECT (SELECT count(*) FROM queries), (SELECT count(*) FROM documents), (SELECT count(*) FROM gold)",
    "encoders": "SELECT * EXCLUDE (first_run_id) FROM encoders ORDER BY ALL",
}


def tables(db: Path) -> dict[str, list]:
    with connect(db, read_only=True) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


def assert_same_tables(ray_db: Path, local_db: Path) -> None:
    got, want = tables(ray_db), tables(local_db)
    for name in TABLES:
        assert got[name] == want[name], name
    assert len(want["ranks"]) > 0


def n_cells(db: Path) -> int:
    with connect(db, read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM cells").fetchall()[0][0]


def marked_pids(value: str) -> list[int]:
    """PIDs of every live process whose environment carries ``MARKER=value`` (what a test started)."""
    needle = f"{MARKER}={value}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return pids


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_marked(value: str) -> None:
    """SIGKILL every process carrying the marker, until none is left (a dying raylet may spawn none)."""
    for _ in range(50):
        pids = marked_pids(value)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    raise AssertionError(f"processes still alive: {marked_pids(value)}")


def short_tmp() -> Path:
    # Ray's unix sockets live under its temp folder and must fit in 107 characters: pytest's are too long.
    return Path(tempfile.mkdtemp(prefix="clir-t-", dir="/tmp"))


def write_grid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local_dbs(tmp_path_factory, data_dir) -> dict[str, Path]:
    """The local backend's databases of both grids (the reference every Ray run must equal)."""
    root = tmp_path_factory.mktemp("local")
    out = {}
    for text in (MUSE3, BOTH):
        db = root / f"{len(out)}.duckdb"
        report = run_grid(parse_grid(text), db, progress=False, say=lambda _m: None)
        assert report.cells_written == N_CELLS[text]
        out[text] = db
    return out


@pytest.fixture(scope="module")
def ray_here():
    """Ray in this process, 2 CPUs; stopped (and every process it started killed) at the end."""
    assert not ray.is_initialized()
    temp = short_tmp()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=str(temp))
    yield ray
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


# --- errors: one line, exit 2, nothing touched (no Ray started) ------------------------------------------


def test_unreachable_address_is_one_line_and_touches_nothing(tmp_path, capsys, data_dir):
    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        code = main(["run", "--grid", str(write_grid(tmp_path, MUSE3)), "--db", str(tmp_path / "r.duckdb"),
                     "--quiet", "--backend", "ray", "--address", f"127.0.0.1:{port}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot reach the Ray cluster") and err.count("\n") == 1, err
    assert not (tmp_path / "r.duckdb").exists()


def test_missing_ray_is_one_line(tmp_path, capsys, monkeypatch, data_dir):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees where it is not installed
    code = main(["run", "--grid", str(write_grid(tmp_path, MUSE3)), "--db", str(tmp_path / "r.duckdb"),
                 "--quiet", "--backend", "ray"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "needs the 'ray' package" in err and err.count("\n") == 1, err
    assert not (tmp_path / "r.duckdb").exists()


def test_ray_options_need_the_ray_backend(tmp_path, capsys, data_dir):
    grid = str(write_grid(tmp_path, MUSE3))
    for extra in (
        ["--workers", "2"],
        ["--address", "127.0.0.1:6379"],
        ["--backend", "ray", "--workers", "0"],
    ):
        assert main(["run", "--grid", grid, "--db", str(tmp_path / "r.duckdb"), "--quiet", *extra]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "r.duckdb").exists()


# --- (a) Ray in this process ------------------------------------------------------------------------------


@pytest.mark.slow
def test_ray_equals_local_and_a_finished_grid_starts_no_worker(tmp_path, local_dbs, ray_here, monkeypatch):
    db = tmp_path / "ray.duckdb"
    report = run_grid(parse_grid(BOTH), db, backend="ray", progress=False, say=lambda _m: None)
    assert (report.backend, report.cells_written) == ("ray", N_CELLS[BOTH])
    # One machine: the workers read the driver's cache, which the local run filled.
    assert report.texts_encoded == 0
    assert_same_tables(db, local_dbs[BOTH])

    from core.pipeline.backends import ray as ray_backend

    def no_workers(*_a, **_k):
        raise AssertionError("a finished grid must start no worker")

    monkeypatch.setattr(ray_backend, "run_plan", no_workers)
    again = run_grid(parse_grid(BOTH), db, backend="ray", progress=False)
    assert (again.cells_written, again.texts_encoded, again.cells_skipped) == (0, 0, N_CELLS[BOTH])
    assert_same_tables(db, local_dbs[BOTH])


@pytest.mark.slow
def test_driver_killed_midway_then_rerun_equals_local(tmp_path, local_dbs, ray_here):
    db, grid = tmp_path / "k.duckdb", write_grid(tmp_path, MUSE3)
    marker, temp = uuid.uuid4().hex, short_tmp()
    env = {**os.environ, "PYTHONPATH": str(REPO), MARKER: marker, "TMPDIR": str(temp)}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(grid), str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO)  # fmt: skip
    try:
        # The driver flushes each group before it takes the next, so once the third group's cells are
        # reported, the first two groups are stored.
        for line in proc.stdout:
            if int(line.split()[0]) >= 5:
                break
        proc.kill()  # SIGKILL: no handler runs, as when a machine loses power
        proc.wait(timeout=30)
    finally:
        kill_marked(marker)  # the driver's private Ray (Ray's reaper should already have stopped it)
        shutil.rmtree(temp, ignore_errors=True)
    stored = n_cells(db)
    assert 4 <= stored < N_CELLS[MUSE3], stored
    with connect(db, read_only=True) as conn:
        assert conn.execute("SELECT status FROM runs").fetchall() == [("running",)]  # killed, never marked

    report = run_grid(parse_grid(MUSE3), db, backend="ray", progress=False)
    assert report.cells_written == N_CELLS[MUSE3] - stored
    assert_same_tables(db, local_dbs[MUSE3])


# --- (b) a two-node cluster of separate processes ----------------------------------------------------------


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Cluster:
    """A head and a worker node started with ``ray start``, each with its own temp folder, ports, cache
    folder and marker; :meth:`stop` kills every process of both by PID."""

    def __init__(self, root: Path, cache: Path):
        self.root, self.id = root, uuid.uuid4().hex
        ports = free_ports(14)
        self.port = ports[0]
        self.address = f"127.0.0.1:{self.port}"
        # Not RAY_ADDRESS: an in-process Ray of another test must not be joined instead.
        base = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        self.env = {**base, "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "token"}
        head = ["--head", "--port", str(self.port), "--include-dashboard", "false"]
        self._start("head", head, ports[1:7], cache)
        self._start("worker", ["--address", self.address], ports[7:13], cache)

    def marker(self, node: str) -> str:
        return f"{self.id}-{node}"

    def _start(self, node: str, args: list[str], ports: list[int], cache: Path) -> None:
        temp = self.root / node
        temp.mkdir()
        node_cache = self.root / f"cache-{node}"
        # Each node has its own cache folder, as nodes without a shared filesystem would: a copy of the warm
        # cache, so its vectors (and so the rows) are the local run's.
        shutil.copytree(cache, node_cache)
        env = {**self.env, MARKER: self.marker(node), "CLIR_CACHE_DIR": str(node_cache)}
        cmd = [
            str(Path(sys.executable).with_name("ray")), "start", *args, "--num-cpus", "1",
            "--node-ip-address", "127.0.0.1", "--temp-dir", str(temp), "--object-store-memory", str(200 << 20),
            "--node-manager-port", str(ports[0]), "--object-manager-port", str(ports[1]),
            "--dashboard-agent-listen-port", str(ports[2]), "--dashboard-agent-grpc-port", str(ports[3]),
            "--runtime-env-agent-port", str(ports[4]), "--metrics-export-port", str(ports[5]),
            "--disable-usage-stats",
        ]  # fmt: skip
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, cwd=REPO)
        assert p.returncode == 0, p.stdout + p.stderr

    def raylet(self, node: str) -> int:
        pids = [p for p in marked_pids(self.marker(node)) if "raylet/raylet" in cmdline(p)]
        assert len(pids) == 1, pids
        return pids[0]

    def busy_worker(self, node: str) -> bool:
        """Whether an encoder worker on ``node`` is running a job (Ray titles it ``ray::Class.method``; not
        ``__init__``: Ray itself reschedules an actor whose node dies before it is created)."""
        jobs = ("ray::EncoderWorker.compute", "ray::EncoderWorker.documents")
        return any(cmdline(p).startswith(jobs) for p in marked_pids(self.marker(node)))

    def kill(self, node: str) -> None:
        """Lose a node: its raylet first, then every other process of that node."""
        os.kill(self.raylet(node), signal.SIGKILL)
        kill_marked(self.marker(node))

    def stop(self) -> None:
        for node in ("worker", "head"):
            kill_marked(self.marker(node))
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.mark.slow
def test_two_node_cluster_survives_a_lost_node(tmp_path, local_dbs, request):
    cluster = Cluster(short_tmp(), Path(os.environ["CLIR_CACHE_DIR"]))
    request.addfinalizer(cluster.stop)
    grid = write_grid(tmp_path, BOTH)
    env = {**cluster.env, MARKER: cluster.marker("driver")}
    request.addfinalizer(lambda: kill_marked(cluster.marker("driver")))
    # Lose the worker node while a worker there is running a job (so jobs are in flight on it). With a warm
    # cache a job takes tens of milliseconds, and on a fresh node the worker process starts (imports) in
    # seconds: the head's worker often finishes the first run's grid alone (2 runs in 3 here). A run that
    # ends before a job is seen on the worker node is run again on a fresh database (the node's worker
    # processes are warm then), up to four times.
    for attempt in range(4):
        db = tmp_path / f"c{attempt}.duckdb"
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(grid), str(db), cluster.address],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)  # fmt: skip
        lines: list[str] = []
        reader = threading.Thread(target=lines.extend, args=(proc.stdout,), daemon=True)
        reader.start()
        deadline = time.monotonic() + 600
        while not cluster.busy_worker("worker") and proc.poll() is None:
            assert time.monotonic() < deadline, "".join(lines) + proc.stderr.read()
            time.sleep(0.005)
        if proc.poll() is None:
            break
        assert proc.returncode == 0, proc.stderr.read()[-3000:]
        reader.join(timeout=30)
    else:
        pytest.fail("four runs ended before a job was seen on the worker node")
    done_at_kill = len(lines)
    cluster.kill("worker")
    err = proc.stderr.read()
    assert proc.wait(timeout=600) == 0, err[-3000:]
    reader.join(timeout=30)
    # Ray may print a raylet's last words on the driver's stdout: keep the driver's own lines.
    progress = [line.split() for line in lines if re.fullmatch(r"\d+ \d+\n", line)]
    assert done_at_kill < N_CELLS[BOTH], "the run ended before the node could be lost"
    assert progress[-1] == [str(N_CELLS[BOTH])] * 2 and "finished\n" in lines, lines[-3:]
    # The loss was seen: jobs in flight on the lost node went back to the queue, or its worker died loading.
    assert "goes back to the queue" in err or "died while loading" in err, (
        err[-3000:],
        "".join(lines)[-3000:],
    )
    assert_same_tables(db, local_dbs[BOTH])


# --- jobs ---------------------------------------------------------------------------------------------------


def test_language_jobs_cover_every_group_once_one_language_each(data_dir):
    from core.pipeline.backends import ray as ray_backend
    from core.pipeline.schedule import Group

    conds = [("clean", 0.0, 0)] + [(n, lv, 0) for n in ("delete", "substitute") for lv in (0.1, 0.2, 0.3)]
    groups = [Group("muse3", lang, c, (i,)) for i, lang in enumerate(["amh", "deu", "xho"]) for c in conds]
    for workers, want_jobs in ((1, 3), (2, 6), (4, 9), (64, 21)):
        jobs = ray_backend.language_jobs(groups, workers)
        assert [g for job in jobs for g in job] == groups  # every group once, in the plan's order
        assert all(len({g.lang for g in job}) == 1 for job in jobs)
        assert len(jobs) == want_jobs >= min(2 * workers, len(groups)), (workers, [len(j) for j in jobs])
    many = [Group("muse3", "amh", ("delete", i / 1000, 0), (0,)) for i in range(100)]
    jobs = ray_backend.language_jobs(many, 1)
    assert max(map(len, jobs)) <= ray_backend.MAX_JOB_GROUPS and sum(map(len, jobs)) == 100


@pytest.mark.parametrize(("threads", "omp", "want"), [(1, "", 1), (2, "", 2), (None, "1", 1), (None, "", 2)])
def test_a_worker_loads_muse3_with_its_share_of_the_cores(monkeypatch, threads, omp, want):
    """Two 1-CPU workers on two cores must not run muse3 with two BLAS threads each (four on two cores).
    The worker class is used as a plain object here: what it loads does not depend on Ray."""
    from core.encoders import encoder_fingerprint
    from core.pipeline.backends.ray import EncoderWorker

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, omp)  # restored after the test (the worker sets them for its process)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    worker = EncoderWorker([], [], 5, "r", threads)
    assert worker.load("muse3", encoder_fingerprint("muse3")) == (None, worker.encoder.spec)
    assert worker.encoder._model.threads == want


@pytest.mark.slow  # starts Ray and loads minilm in its workers: ~15-30 s
def test_ray_equals_local_on_multiway_data(tmp_path, ray_here):
    """NTREX-128's shared English side and its documents (windowed by minilm's rule) under Ray."""
    from tests.core.test_multiway_datasets import write_ntrex

    ntrex = write_ntrex(tmp_path / "ntrex")
    grid = parse_grid(
        f'[dataset]\nname = "ntrex128"\npath = "{ntrex}"\nmode = ["pair", "document"]\n'
        'languages = ["amh", "aze-Latn"]\n[grid]\nencoders = ["minilm"]\nnoise = ["keyboard"]\nlevels = [0.2]\n'
    )
    local, remote = tmp_path / "local.duckdb", tmp_path / "ray.duckdb"
    run_grid(grid, local, progress=False, say=lambda _m: None)
    report = run_grid(grid, remote, backend="ray", progress=False, say=lambda _m: None)
    assert report.backend == "ray" and report.cells_written == len(grid.cells())
    assert_same_tables(remote, local)
