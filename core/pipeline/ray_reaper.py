"""The reaper of a private Ray: once the driver that started it is gone, every process of that Ray goes too.

Why: Ray ties its head processes (GCS, raylet) to the driver, but the agents the raylet starts
(``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) outlive a driver killed with SIGKILL, holding ports and
memory for good. :class:`core.pipeline.backends.ray_session.RaySession` therefore starts this reaper *before*
its private Ray, as a separate process in its own session (a Ctrl-C to the driver's terminal does not reach
it), and starts Ray with a marker variable in the environment, which every Ray process inherits (the raylet
passes its environment to everything it starts). The reaper notes those processes and their descendants every
second, waits until the driver closes its end of a pipe (at the end of the run, or by dying: the kernel closes
it) or is seen dead, then SIGKILLs every one of them still alive until none is left.

Run as a script (``python -I ray_reaper.py MARKER DRIVER_PID``), not as part of the package: it imports the
standard library only, so it starts in milliseconds. Linux reads ``/proc``; elsewhere psutil is used when
installed (otherwise the reaper can only wait).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

MARKER = "CLIR_RAY_SESSION"  # the environment variable that marks one private Ray's processes
REAP_S = 10.0  # keep killing for this long at most (a raylet that is still starting workers)


def _scan(value: str) -> dict[int, tuple[int, str, bool]]:
    """Every process: pid -> (parent pid, start time, carries ``MARKER=value``); Linux ``/proc``, else psutil
    (empty without it)."""
    needle, out = f"{MARKER}={value}".encode(), {}
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] in ("Z", "X"):
                    continue  # exited, awaiting its parent: nothing to kill
                try:
                    marked = needle in (entry / "environ").read_bytes().split(b"\0")
                except OSError:
                    marked = False  # not ours to read
                out[int(entry.name)] = (int(fields[1]), fields[19], marked)
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
        return out
    try:
        import psutil
    except ImportError:
        return out
    for p in psutil.process_iter():
        try:
            out[p.pid] = (p.ppid(), f"{p.create_time():.6f}", p.environ().get(MARKER) == value)
        except (psutil.Error, OSError):
            continue
    return out


def ray_processes(value: str, known: dict[int, str], exclude: set[int] = frozenset()) -> dict[int, str]:
    """The live processes of one private Ray (pid -> start time), but ``exclude``: those carrying
    ``MARKER=value``, those in ``known`` (pid -> start time, as this function returned earlier: a process
    whose PID now belongs to another start is not one) and every descendant of either.

    Why both: a process's environment is read from its memory, and Ray's ``ray::`` processes overwrite part of
    it with their title, so the marker alone misses some agents; the tree alone misses a process started by
    a raylet that died before it was seen.
    """
    procs = _scan(value)
    found = {pid: info[1] for pid, info in procs.items()
             if pid not in exclude and (info[2] or known.get(pid) == info[1])}  # fmt: skip
    children: dict[int, list[int]] = {}
    for pid, (ppid, _start, _m) in procs.items():
        children.setdefault(ppid, []).append(pid)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and child not in exclude:
                found[child] = procs[child][1]
                todo.append(child)
    return found


def reap(value: str, known: dict[int, str], exclude: set[int] = frozenset(), limit_s: float = REAP_S) -> int:
    """SIGKILL every process of the private Ray (:func:`ray_processes`) until none is left or ``limit_s``
    passed; returns how many kills were sent."""
    deadline, sent = time.monotonic() + limit_s, 0
    while time.monotonic() < deadline:
        pids = ray_processes(value, known, exclude)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                sent += 1
            except OSError:
                pass  # exited meanwhile
        time.sleep(0.1)
    return sent


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited process awaiting its parent, a zombie, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def main(argv: list[str]) -> int:
    """``MARKER_VALUE DRIVER_PID``: note the private Ray's processes every second until the driver's pipe
    (stdin) closes or the driver dies, then reap them."""
    value, driver = argv[0], int(argv[1])
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # only the driver's end decides; its terminal's signals do not
    fd, exclude, known = sys.stdin.fileno(), {os.getpid(), driver}, {}
    while True:
        known.update(ray_processes(value, known, exclude))
        # The pipe closes when the driver ends the session or dies; the PID check covers a pipe kept open by
        # a process the driver forked.
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready and not os.read(fd, 4096):
            break
        if not _alive(driver):
            break
    reap(value, known, exclude)
    return 0


def start() -> tuple[subprocess.Popen, str]:
    """Start a reaper for a private Ray this process is about to start: (the reaper, the marker value to
    put in Ray's environment as ``MARKER``). Close the reaper's stdin (:func:`stop`) to reap at once."""
    value = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-I", str(Path(__file__).resolve()), value, str(os.getpid())],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    return proc, value


def stop(proc: subprocess.Popen, timeout: float = REAP_S + 5) -> None:
    """Close the reaper's pipe and wait for it to have killed every marked process still alive."""
    with contextlib.suppress(OSError):
        proc.stdin.close()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
