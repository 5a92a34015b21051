"""The slow half of ``make demo``: complete the demo grid with the base model, train the missing SimCSE models,
then compute their cells, storing the research answer (core.findings) after each step.

Progress goes to the database's job status (:mod:`core.jobs`), which the dashboard's Runs page shows, so a
newcomer sees the work continue while browsing the first results.
"""

from __future__ import annotations

import dataclasses
import sys
import traceback
from pathlib import Path

from core.jobs import write_status
from precompute.errors import user_message

DEFAULT_BASES = ("minilm", "e5-small-torch")


def run_background(grid_path: str | Path, db: str | Path, bases: tuple[str, ...] = DEFAULT_BASES) -> int:
    """Complete ``grid_path`` with the ``bases`` added, then for each base train its missing default models
    (core.training.defaults) and add their cells.

    The bases' own cells come first: trained models are compared with the model they start from. The MiniLM
    models come before the e5 ones because they train in a third of the time, so their results show sooner.
    Returns the exit status (0 done, 2 a user error, 1 an unexpected failure); the status file says which.
    """
    from core.findings import refresh_findings
    from core.pipeline import load_grid, run_grid
    from core.training import default_model_names, train_all_missing

    def cells(stage: str, message: str, encoders: tuple[str, ...]) -> None:
        full = dataclasses.replace(grid, encoders=encoders)
        write_status(db, stage, 0, 0, f"{message}: {len(full.cells())} cells in the grid")
        run_grid(full, db, on_progress=lambda d, t: write_status(db, stage, d, t, message))
        # After each step, so the Findings page shows the new cells' answer without computing it itself.
        what = "storing the research answer for the Findings page"
        write_status(db, "findings", 0, 0, what)
        refresh_findings(db, datasets=[grid.dataset], modes=grid.modes,
                         on_progress=lambda d, t: write_status(db, "findings", d, t, what))  # fmt: skip

    try:
        grid = load_grid(grid_path)
        everything = tuple(dict.fromkeys([*grid.encoders, *bases]))
        cells("completing", f"completing the demo grid ({', '.join(everything)})", everything)
        for base in bases:
            names = list(default_model_names(base).values())
            minutes = "about 30 minutes" if base == "e5-small-torch" else "about 10 minutes"
            write_status(db, "training", 0, len(names), f"training {', '.join(names)} ({minutes})")
            train_all_missing(base, progress=True)
            everything = tuple(dict.fromkeys([*everything, *names]))
            cells("precompute", f"computing the cells of {', '.join(names)}", everything)
        write_status(db, "done", message="demo grid complete")
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
