"""Status of a database's background job: one file beside the database, one writer, any number of readers;
and whether the process of a stored run is still alive (:func:`run_is_dead`).

The file is ``<db>.background.json`` beside the database it describes: derived from the database path alone,
so a page never shows another database's job. It holds ``stage, done, total, message, updated_at, pid``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path


def status_path(db: str | Path) -> Path:
    """Where the background job of database ``db`` reports (``<db file name>.background.json`` beside it)."""
    db = Path(db)
    return db.with_name(db.name + ".background.json")


def write_status(db: str | Path, stage: str, done: int = 0, total: int = 0, message: str = "") -> None:
    """Atomically replace the status of ``db``'s job: readers see the old or the new file, never half."""
    path = status_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({
        "stage": stage, "done": done, "total": total, "message": message,
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid(),
    }), encoding="utf-8")  # fmt: skip
    tmp.replace(path)


def read_status(db: str | Path) -> dict | None:
    """The last status written for ``db``'s job; None when none was; ``{"error": ...}`` when unreadable."""
    path = status_path(db)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"error": f"{path}: {exc}"}
    return data if isinstance(data, dict) else {"error": f"{path}: not a JSON object"}


# --- Is a run's process alive? ------------------------------------------------------------------------------
# A run killed with SIGKILL (or a lost machine) cannot mark its own row; whoever reads the row later decides
# from what the row recorded: the host, the PID and the PID's start time (a PID is reused once its process is
# gone, so a live process with that PID is the run only if it started at the same moment).


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start identity) of ``pid`` from Linux's ``/proc``; None where there is no such file."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except (OSError, ValueError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ")": split after the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], f"{boot}:{fields[19]}"  # fields 3 (state) and 22 (start, clock ticks since boot)


def process_start(pid: int) -> str | None:
    """An identity of the start of process ``pid``, equal for the same process on every call and different
    for another process that reuses the PID later; None when no such process exists (or it cannot be told).

    Linux: the boot id and the start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), exact and
    stable across reboots. Elsewhere: psutil's creation time when psutil is installed; otherwise None, and a
    reader then never takes a live PID's run for dead (see :func:`run_is_dead`).
    """
    if Path("/proc/self/stat").exists():
        stat = _proc_stat(pid)
        return stat[1] if stat else None
    try:
        import psutil

        return f"psutil:{psutil.Process(int(pid)).create_time():.6f}"
    except ImportError:
        return None
    except Exception:  # noqa: BLE001 - psutil's NoSuchProcess, AccessDenied...: the start cannot be told
        return None


def this_process() -> dict:
    """``host``, ``pid`` and ``pid_start`` (:func:`process_start`) of the calling process, as a run records
    them."""
    return {"host": platform.node(), "pid": os.getpid(), "pid_start": process_start(os.getpid())}


def run_is_dead(host: str | None, pid: int | None, pid_start: str | None) -> bool:
    """Whether the process recorded for a run (``host``, ``pid``, ``pid_start``) is surely gone.

    True only for a run of this host (same ``platform.node()``) whose PID no longer exists, has exited (a
    zombie awaiting its parent), or now belongs to another process (its start differs from ``pid_start``).
    False whenever it cannot be told: another host, no PID recorded (a run from before schema v7), or a live
    PID whose start this platform cannot read. So a running run is never taken for dead; a dead one of
    another machine stays ``running`` until a run or a page on that machine sees it.
    """
    try:
        pid = int(pid)  # NULL read by pandas: None, NaN or pd.NA, none of which is a PID
    except (TypeError, ValueError):
        return False
    if not isinstance(host, str) or host != platform.node() or pid <= 0:
        return False
    known = isinstance(pid_start, str) and bool(pid_start)
    stat = _proc_stat(pid) if Path("/proc/self/stat").exists() else None
    if stat is not None:
        state, start = stat
        return state in ("Z", "X") or (known and start != pid_start)
    now = process_start(pid)
    if now is not None:
        return known and now != pid_start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, owned by another user
    return False  # it exists; whether it is the run's process cannot be told here
