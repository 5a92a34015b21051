"""Run a grid: noise the queries, encode through the cache, rank exactly, store one row per query.

Resumable and incremental by construction: the unit of work is a *cell* (dataset, mode, corpus, lang,
encoder, noise, level, seed); a cell's rows and its ``cells`` record are written in one transaction, and a
run skips every cell already stored with the same encoder fingerprint. A run killed at any moment loses at
most the cells buffered since its last flush, and the next run recomputes exactly those.

:func:`run_grid` wires the rooms of the pipeline, one path whatever computes the cells: the inputs are
checked against the database (:mod:`core.pipeline.inputs`), the work is decided once
(:mod:`core.pipeline.schedule`), a backend (:mod:`core.pipeline.backends`: local or Ray) computes it with the
shared computation (:mod:`core.pipeline.compute`), and the sink (:mod:`core.pipeline.sink`) is the only
writer.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from core.encoders import resolve_spec
from core.errors import UnknownNameError
from core.jobs import run_is_dead, this_process
from core.pipeline import inputs
from core.pipeline.backends import Backend, RunContext
from core.pipeline.backends.local import LocalBackend
from core.pipeline.grid import Grid, grid_tasks
from core.pipeline.schedule import plan_run
from core.pipeline.sink import ResultSink, RunReport
from core.provenance import versions
from core.store import CELL_KEY, connect
from core.store import writes as w

log = logging.getLogger(__name__)

BACKENDS = ("local", "ray")


def backend_named(name: str, address: str | None = None, workers: int | None = None) -> Backend:
    """The backend called ``name`` (:data:`BACKENDS`); ``address`` and ``workers`` are the Ray backend's
    (a cluster to join, or the CPUs of a Ray started here). Imports Ray's backend only when asked for.

    Raises:
        UnknownNameError: not one of :data:`BACKENDS`.
    """
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    if name == "ray":
        from core.pipeline.backends.ray import RayBackend

        return RayBackend(address, workers)
    return LocalBackend()


def run_grid(
    grid: Grid,
    db_path: str | Path,
    *,
    progress: bool = True,
    say: Callable[[str], None] = print,
    flush_seconds: float = 2.0,
    on_progress: Callable[[int, int], None] | None = None,
    replace_changed: bool = False,
    backend: str | Backend = "local",
    address: str | None = None,
    workers: int | None = None,
) -> RunReport:
    """Compute every missing cell of ``grid`` into ``db_path``.

    ``on_progress(done, total)`` is called after each computed cell (for status files and UIs).
    ``backend`` is ``"local"`` (this process) or ``"ray"`` (actors of a Ray cluster at ``address``, or of a
    Ray started here with ``workers`` CPUs; see :mod:`core.pipeline.backends.ray`), or any
    :class:`~core.pipeline.backends.Backend` object. All share the planning, the per-group computation
    (:func:`core.pipeline.compute.compute_group`) and the writer: the same grid gives the same rows.

    Guarantees: one ``ranks`` row per (cell, query); no cell twice; a second run over a finished grid
    loads no model and encodes nothing; an encoder that cannot load is reported through ``say`` and skipped
    while the rest of the grid runs. Nothing is mixed: a cell counts as done only under the same encoder
    fingerprint, data fingerprint (:func:`core.pipeline.inputs.data_fingerprint`), query count and noise
    version; when the data of a language changed under the database, or a stored cell was computed by
    another model under the same encoder name, the run refuses before computing anything, unless
    ``replace_changed``, which deletes and recomputes exactly those cells and says so. A grid whose query set
    of a language (e.g. its ``max_queries``) differs from the one of any cell stored for that language is
    refused the same way; ``replace_changed`` then recomputes every such cell on the new query set, those
    outside the grid too (:func:`core.pipeline.inputs.query_set_changes`). Cells stored before data
    fingerprints existed (schema < v3) are recomputed, with a message. The run's ``runs`` row ends ``done``,
    ``failed`` or ``interrupted`` on every path once it is written; a failure keeps every cell completed
    before it.

    Raises:
        UnknownNameError: unknown language, encoder or backend (before anything is computed).
        DataError: missing or malformed data.  StoreError: unreadable, damaged, foreign or locked database.
        DataChangedError: the data or an encoder changed under stored cells (without ``replace_changed``).
        BackendUnavailable: ``ray`` is not installed or its cluster cannot be reached.
    """
    if isinstance(backend, str):
        backend = backend_named(backend, address, workers)
    ok = False
    try:
        backend.check()  # fails in a second, before the data or the database is read
        report = _run_grid(grid, db_path, progress=progress, say=say, flush_seconds=flush_seconds,
                           on_progress=on_progress, replace_changed=replace_changed, backend=backend)  # fmt: skip
        ok = True
        return report
    finally:
        backend.close(ok)


def _run_grid(grid: Grid, db_path, *, progress, say, flush_seconds, on_progress, replace_changed,
              backend: Backend) -> RunReport:  # fmt: skip
    started = time.monotonic()
    tasks = grid_tasks(grid)
    for name in grid.encoders:
        resolve_spec(name)  # unknown names fail now, not after an hour of encoding
    report = RunReport(
        run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
        backend=backend.name,
    )
    data_fp = inputs.data_fingerprints(tasks)

    # Every stored row is read back once before anything is written: a damaged file is refused untouched.
    with connect(db_path, verify=True) as conn:
        mark_dead_runs(conn, say)
        w.record_run_start(conn, {
            "run_id": report.run_id, "grid_toml": Path(grid.source).read_text() if Path(grid.source).is_file() else "",
            "grid_json": json.dumps(grid.to_dict()), "versions_json": json.dumps(versions()),
            "argv": " ".join(sys.argv), **this_process(), "cache_dir": backend.cache_description(),
        })  # fmt: skip

    sink: ResultSink | None = None
    status = "failed"
    try:
        with connect(db_path) as conn:
            inputs.check_inputs(conn, tasks, grid.label, replace_changed, say, db_path)
            # Before any input is stored: a refused grid leaves the database as it was.
            extra = inputs.check_query_sets(conn, grid, tasks, data_fp, replace_changed, say, db_path)
            w.store_inputs(conn, *inputs.input_frames(tasks))
            done = {tuple(r[: len(CELL_KEY)]): tuple(r[len(CELL_KEY) :])
                    for r in w.completed_cells(conn).itertuples(index=False)}  # fmt: skip

        plan = plan_run(
            grid, tasks, data_fp, done, report.skipped_encoders, say, replace_changed, db_path, extra
        )
        # Cells of an encoder that cannot even be fingerprinted here are not in the plan: unavailable, not
        # "already stored".
        report.cells_unavailable = sum(1 for c in grid.cells() if c[3] in report.skipped_encoders)
        report.cells_skipped = len(grid.cells()) - (plan.n_todo - plan.n_extra) - report.cells_unavailable
        sink = ResultSink(db_path, report, plan.n_todo, progress=progress, flush_seconds=flush_seconds,
                          on_progress=on_progress)  # fmt: skip
        if plan.n_todo:
            backend.run(plan, sink, RunContext(db_path=db_path, say=say, progress=progress))
        sink.flush()
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        if sink is not None:
            _keep_completed(sink.flush)
        raise
    except BaseException:
        if sink is not None:
            _keep_completed(sink.flush)
        raise
    finally:
        if sink is not None:
            sink.close()
        report.seconds = time.monotonic() - started
        try:
            with connect(db_path) as conn:
                w.record_run_end(conn, report.run_id, status)
        except Exception as exc:
            if status == "done":
                raise
            # The run is already failing with its own error; that one is what the user must see (and on a
            # full disk it already says so: a second line would repeat it in DuckDB's words).
            from core.errors import is_disk_full

            (log.debug if is_disk_full(exc) else log.warning)(
                "could not mark run %s %s: %s", report.run_id, status, exc
            )
    return report


def _keep_completed(flush: Callable[[], None]) -> None:
    """Store the cells completed before a failure; if even that fails, the first error is what counts."""
    try:
        flush()
    except Exception as exc:  # noqa: BLE001 - the original failure is re-raised by the caller
        from core.errors import is_disk_full  # a full disk is the first error's own line already

        (log.debug if is_disk_full(exc) else log.warning)("could not store the last buffered cells: %s", exc)


def mark_dead_runs(conn, say: Callable[[str], None]) -> int:
    """Mark 'interrupted' the runs still 'running' whose process is surely gone (:func:`core.jobs.run_is_dead`:
    this host, PID gone or reused), saying so once; returns how many. A run killed with SIGKILL cannot mark
    its own row: the next run on its host does."""
    running = w.running_runs(conn)
    dead = [r.run_id for r in running.itertuples(index=False) if run_is_dead(r.host, r.pid, r.pid_start)]
    n = w.mark_interrupted(conn, dead)
    if n:
        say(f"marked {n} earlier run{'s' if n > 1 else ''} interrupted (process gone): {', '.join(dead)}")
    return n
