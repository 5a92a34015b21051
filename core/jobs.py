"""Status of a database's background job: one file beside the database, one writer, any number of readers.

The file is ``<db>.background.json`` beside the database it describes: derived from the database path alone,
so a page never shows another database's job. It holds ``stage, done, total, message, updated_at, pid``.
"""

from __future__ import annotations

import json
import os
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
