"""Issue 25, item 8: the Ray backend never hangs on a wrong address, and its private Ray neither listens
beyond the loopback nor outlives its driver.

(a) ``--address`` naming an open port that is not Ray (a listener that accepts and says nothing, an HTTP
server) hung for more than 500 s in Ray's own retries: it is now one ``error:`` line and exit 2 within a
bounded time (a gRPC probe of at most ``PROBE_TIMEOUT_S``), the database untouched.
(b) A driver that started a private Ray and was killed with SIGKILL left two Ray agents alive, one of them
listening on a non-loopback interface: every server of the private Ray now listens on 127.0.0.1 only, and a
reaper kills every process of it within seconds of the driver's death.

Real subprocesses (``python -m precompute run --backend ray``), real Ray; every process a test sees is found
through the driver's process tree (a Ray agent's environment is partly overwritten by its title, so a
marker variable alone misses it) and killed by PID at the end.
"""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.hostile, pytest.mark.slow]
pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
GRID = """[dataset]
name = "tatoeba"
languages = ["deu", "fra"]
max_queries = 300
[grid]
encoders = ["muse3"]
noise = ["delete", "substitute"]
levels = [0.1, 0.2, 0.3]
seeds = [0]
"""


def _grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(GRID, encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**base, "PYTHONPATH": str(REPO), **extra}


# --- (a) an address that is not Ray ---------------------------------------------------------------------------


@contextlib.contextmanager
def silent_listener():
    """A TCP port on 127.0.0.1 that accepts every connection and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


@contextlib.contextmanager
def http_server():
    """A plain HTTP/1 server on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["silent", "http"])
def test_an_address_that_is_not_ray_is_one_error_line_within_a_bounded_time(tmp_path, kind, data_dir):
    db = tmp_path / "r.duckdb"
    with (silent_listener if kind == "silent" else http_server)() as port:
        t0 = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "precompute", "run", "--grid", str(_grid(tmp_path)), "--db", str(db), "--quiet",
             "--backend", "ray", "--address", f"127.0.0.1:{port}"],
            cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        seconds = time.monotonic() - t0
    assert out.returncode == 2, (out.stdout, out.stderr[-2000:])
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: 127.0.0.1:{port} is not a Ray cluster"), (
        out.stderr
    )
    assert seconds < 40, seconds
    assert not db.exists()


# --- (b) the private Ray ------------------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time in clock ticks) of every live process (zombies excluded)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] not in ("Z", "X"):
                out[int(entry.name)] = (int(fields[1]), fields[19])
    return out


def _tree(root: int, known: dict[int, str]) -> dict[int, str]:
    """``known`` (pid -> start) plus the live descendants of ``root`` and of every live process in ``known``
    (a process reparented when its parent died is still found through the parent seen before)."""
    table = _proc_table()
    found = {pid: start for pid, start in known.items() if table.get(pid, (0, None))[1] == start}
    if root in table:
        found.setdefault(root, table[root][1])
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = table[child][1]
                todo.append(child)
    return {**known, **found}


def _alive(procs: dict[int, str]) -> list[int]:
    table = _proc_table()
    return sorted(pid for pid, start in procs.items() if table.get(pid, (0, None))[1] == start)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _listeners(pids: set[int]) -> list[tuple[str, str]]:
    """(local address, process) of every TCP listener of ``pids``, from ``ss -ltnp``."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, timeout=30).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 6 and any(f"pid={pid}," in parts[-1] for pid in pids):
            found.append((parts[3], parts[-1]))
    return found


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]").removeprefix("::ffff:")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*" or "0.0.0.0": every interface


def _kill(procs: dict[int, str]) -> None:
    for pid in _alive(procs):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def ss_available():
    if subprocess.run(["ss", "-V"], capture_output=True).returncode != 0:
        pytest.skip("needs `ss` (iproute2)")


def test_a_killed_driver_leaves_no_ray_process_and_ray_listens_on_loopback_only(
    tmp_path, data_dir, ss_available
):
    db = tmp_path / "k.duckdb"
    # A cold cache of its own: the run computes long enough to be killed midway.
    env = _env(CLIR_CACHE_DIR=str(tmp_path / "cache"))
    driver = subprocess.Popen(
        [sys.executable, "-m", "precompute", "run", "--grid", str(_grid(tmp_path)), "--db", str(db), "--quiet",
         "--backend", "ray", "--workers", "1"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs: dict[int, str] = {}
    temp_dirs: set[str] = set()
    try:
        deadline, working_since = time.monotonic() + 300, None
        while True:
            procs = _tree(driver.pid, procs)
            titles = [_cmdline(p) for p in _alive(procs)]
            if working_since is None and any(t.startswith("ray::EncoderWorker") for t in titles):
                working_since = time.monotonic()
            # A second after the first encoder worker appears: Ray is up (agents too) and the run under way.
            if working_since is not None and time.monotonic() - working_since > 1.0:
                break
            assert driver.poll() is None, driver.stderr.read()[-3000:]
            assert time.monotonic() < deadline, titles
            time.sleep(0.2)
        ray_procs = {p: s for p, s in procs.items() if p != driver.pid}
        assert any("raylet" in _cmdline(p) for p in ray_procs), [_cmdline(p) for p in ray_procs]
        # The private Ray's temporary folder (its logs stay after a kill, by design): removed at the end.
        temp_dirs |= set(re.findall(r"/tmp/clir-ray-[A-Za-z0-9_]+", " ".join(_cmdline(p) for p in ray_procs)))
        listening = _listeners(set(_alive(procs)))
        assert listening, "the private Ray's servers listen somewhere"
        outside = [x for x in listening if not _loopback(x[0])]
        assert not outside, outside

        driver.send_signal(signal.SIGKILL)  # no handler runs, as when the machine runs out of memory
        driver.wait(timeout=30)
        t0 = time.monotonic()
        while _alive(procs) and time.monotonic() - t0 < 10:
            procs = _tree(driver.pid, procs)  # children reparented meanwhile are followed too
            time.sleep(0.2)
        left = {p: _cmdline(p) for p in _alive(procs)}
        assert not left, left
        assert not _listeners(set(procs))
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        _kill(procs)
        for folder in temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_finished_private_run_leaves_no_ray_process(tmp_path, data_dir):
    grid = tmp_path / "small.toml"
    grid.write_text(
        GRID.replace("max_queries = 300", "max_queries = 10").replace('["deu", "fra"]', '["deu"]')
    )
    driver = subprocess.Popen(
        [sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--db", str(tmp_path / "f.duckdb"),
         "--quiet", "--backend", "ray", "--workers", "1"],
        cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs: dict[int, str] = {}
    try:
        while driver.poll() is None:
            procs = _tree(driver.pid, procs)
            time.sleep(0.2)
        assert driver.returncode == 0, driver.stderr.read()[-3000:]
        t0 = time.monotonic()
        while _alive(procs) and time.monotonic() - t0 < 5:
            time.sleep(0.2)
        assert not _alive(procs), {p: _cmdline(p) for p in _alive(procs)}
    finally:
        _kill(procs)
