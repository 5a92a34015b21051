"""The slow half of ``make demo``: train the missing SimCSE models, then compute their cells.

Progress goes to ``<db folder>/background.json`` ({stage, done, total, message, updated_at, pid}), which
the dashboard's Runs page shows, so a newcomer sees the work continue while browsing the first results.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path

from precompute.errors import user_message


def status_path(db: str | Path) -> Path:
    """Where the background job of ``db`` writes its status."""
    return Path(db).parent / "background.json"


def write_status(db: str | Path, stage: str, done: int = 0, total: int = 0, message: str = "") -> None:
    """Atomically replace the status file (readers never see half a JSON document)."""
    path = status_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({
        "stage": stage, "done": done, "total": total, "message": message,
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid(),
    }))  # fmt: skip
    tmp.replace(path)


def run_background(grid_path: str | Path, db: str | Path, base: str = "minilm") -> int:
    """Train the default SimCSE models of ``base`` that are missing, then run the grid with them added.

    Returns the exit status (0 done, 2 a user error, 1 an unexpected failure); the status file says which.
    """
    from core.pipeline import load_grid, run_grid
    from core.training import default_model_names, train_all_missing

    try:
        grid = load_grid(grid_path)
        names = list(default_model_names(base).values())
        write_status(db, "training", 0, len(names), f"training {', '.join(names)} (about 10 minutes)")
        train_all_missing(base, progress=True)
        grid = dataclasses.replace(grid, encoders=tuple(dict.fromkeys([*grid.encoders, *names])))
        write_status(db, "precompute", 0, 0, "computing the SimCSE models' cells")
        report = run_grid(
            grid, db, on_progress=lambda d, t: write_status(db, "precompute", d, t, "computing SimCSE cells")
        )
        write_status(db, "done", report.cells_written, report.cells_written,
                     f"{report.cells_written} cells added in {report.seconds:.0f}s")  # fmt: skip
        return 0
    except KeyboardInterrupt:
        write_status(db, "interrupted", message="interrupted; run it again to finish")
        print("interrupted: completed cells are stored; run it again to finish", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the status file must say that the job died, and why
        message = user_message(exc)
        if message is not None:
            write_status(db, "failed", message=message)
            print(f"error: {message}", file=sys.stderr)
            return 2
        write_status(db, "failed", message=f"{exc.__class__.__name__}: {exc}")
        traceback.print_exc()
        return 1
