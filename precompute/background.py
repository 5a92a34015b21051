"""The slow half of ``make demo``: complete the demo grid with the base model, train the missing SimCSE models,
then compute their cells, and last add LaBSE's when asked to (:func:`labse_choice`), storing the research
answer (core.findings) after each step.

Progress goes to the database's job status (:mod:`core.jobs`), which the dashboard's Runs page shows, so a
newcomer sees the work continue while browsing the first results.
"""

from __future__ import annotations

import dataclasses
import sys
import traceback
from pathlib import Path
from typing import Literal

from core.jobs import write_status
from precompute.errors import user_message

DEFAULT_BASES = ("minilm", "e5-small-torch")
LABSE = "labse"
LabseMode = Literal["auto", "yes", "no"]
LABSE_MODES: tuple[LabseMode, ...] = ("auto", "yes", "no")
LABSE_SIZE = "about 1.8 GB"  # sentence-transformers/LaBSE's safetensors weights, tokenizer and dense layer
# Training time of each base's default models on 2 cores, for the status line.
TRAINING_TIME = {"minilm": "about 10 minutes", "e5-small-torch": "about 45 minutes"}


def labse_choice(mode: LabseMode) -> tuple[tuple[str, ...], str]:
    """Whether the background job adds ``labse``'s cells: (the encoders to add, one line saying why).

    ``auto`` adds it when its snapshot is in the Hugging Face cache (nothing is downloaded) and otherwise says
    how to get it; ``yes`` adds it, downloaded by the job when not cached; ``no`` never adds it.
    Reads no database and writes nothing: with ``yes`` and neither the cache nor the hub, it fails before any
    work.

    Raises:
        ValueError: ``mode`` is not one of :data:`LABSE_MODES`.
        EncoderUnavailable: ``mode`` is ``yes`` and labse can be neither loaded from the cache nor downloaded.
    """
    if mode not in LABSE_MODES:
        raise ValueError(f"labse mode {mode!r} not one of {', '.join(LABSE_MODES)}")
    if mode == "no":
        return (), f"{LABSE}: not added (--labse no)"
    from core.encoders.hub import cached_snapshot
    from core.encoders.registry import encoder_fingerprint, resolve_spec

    try:
        cached = cached_snapshot(resolve_spec(LABSE)["model"])
    except (OSError, ValueError):
        # An unreadable cache must not stop `make demo`: auto goes on without labse, yes says why just below.
        cached = None
    if cached is not None:
        return (LABSE,), (
            f"{LABSE} (LaBSE) is in the Hugging Face cache (commit {cached.name[:12]}): the background job "
            "adds its cells last"
        )
    if mode == "auto":
        return (), (
            f"{LABSE} (LaBSE) is not in the Hugging Face cache: `make demo LABSE=1` downloads it ({LABSE_SIZE})"
        )
    encoder_fingerprint(LABSE)  # not cached: the hub must answer and have it, or this is the one error line
    line = f"{LABSE} (LaBSE): the background job downloads it ({LABSE_SIZE}) and adds its cells last"
    return (LABSE,), line


def _later_grid(path: str | Path):
    """The grid at ``path``, or one line saying why it is skipped (its data folder is missing).

    Raises:
        ConfigError, UnknownNameError: a malformed grid (a typo must not wait an hour to surface).
    """
    from core.errors import DataError
    from core.paths import data_dir
    from core.pipeline import load_grid

    try:
        grid = load_grid(path)
        data_dir(grid.path, grid.dataset)
    except DataError as exc:
        return f"{Path(path).name} skipped: {exc}"
    return grid


def run_background(
    grid_path: str | Path,
    db: str | Path,
    bases: tuple[str, ...] = DEFAULT_BASES,
    extra: tuple[str, ...] = (),
    seeds: tuple[int, ...] = (0,),
    after: tuple[str | Path, ...] = (),
) -> int:
    """Complete ``grid_path`` with the ``bases`` added, then for each base train its missing default models
    (core.training.defaults) and add their cells, then add the cells of the ``extra`` encoders (``labse``:
    :func:`labse_choice`).

    The bases' own cells come first: trained models are compared with the model they start from. The MiniLM
    models come before the e5 ones because they train faster (:data:`TRAINING_TIME`), so their results show
    sooner.
    The extra encoders come last, so that a download or a slow encoder never delays the trained models.
    ``seeds`` are the training seeds of every default model (``make study``: 0 1 2; seed k of ``NAME`` is
    ``NAME-s{k}``); seeds and bases are checked before any cell is computed.
    The ``after`` grids (other datasets: FLORES-200, NTREX-128) are read first (a malformed one fails before
    any work) and computed last, each with its own encoders; one whose data folder is missing is skipped with
    one line in the log and the status, and the job goes on.
    Returns the exit status (0 done, 2 a user error, 1 an unexpected failure); the status file says which.
    """
    from core.encoders.registry import trainable_fingerprint
    from core.findings import refresh_findings
    from core.pipeline import load_grid, run_grid
    from core.training import default_model_names, train_all_missing
    from core.training.defaults import check_seeds, seed_model_name

    def cells(stage: str, message: str, encoders: tuple[str, ...], of=None) -> None:
        of = of or grid
        full = dataclasses.replace(of, encoders=encoders)
        write_status(db, stage, 0, 0, f"{message}: {len(full.cells())} cells in the grid")
        run_grid(full, db, on_progress=lambda d, t: write_status(db, stage, d, t, message))
        # After each step, so the Findings page shows the new cells' answer without computing it itself.
        what = "storing the research answer for the Findings page"
        write_status(db, "findings", 0, 0, what)
        refresh_findings(db, datasets=[of.label], modes=of.modes,
                         on_progress=lambda d, t: write_status(db, "findings", d, t, what))  # fmt: skip

    try:
        grid = load_grid(grid_path)
        later = [_later_grid(p) for p in after]
        seeds = check_seeds(seeds)
        for base in bases:  # an untrainable base fails here, not after the whole grid is computed
            trainable_fingerprint(base)
        everything = tuple(dict.fromkeys([*grid.encoders, *bases]))
        cells("completing", f"completing the demo grid ({', '.join(everything)})", everything)
        for base in bases:
            names = [seed_model_name(n, s) for s in seeds for n in default_model_names(base).values()]
            took = f" ({TRAINING_TIME[base]})" if base in TRAINING_TIME else ""
            write_status(db, "training", 0, len(names), f"training {', '.join(names)}{took}")
            train_all_missing(base, progress=True, seeds=seeds)
            everything = tuple(dict.fromkeys([*everything, *names]))
            cells("precompute", f"computing the cells of {', '.join(names)}", everything)
        if extra:
            everything = tuple(dict.fromkeys([*everything, *extra]))
            cells("precompute", f"computing the cells of {', '.join(extra)}", everything)
        for path, other in zip(after, later):
            if isinstance(other, str):  # its data folder is missing: say so and go on
                print(other, flush=True)
                write_status(db, "precompute", 0, 0, other)
                continue
            cells("precompute", f"computing {Path(path).name} ({other.label})", other.encoders, of=other)
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
