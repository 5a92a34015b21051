"""The run's single writer: the results of every backend go through one :class:`ResultSink` into the database.

Each flush stores whole cells with their rank rows and noisy queries in one ``write_cells`` transaction, on a
writer thread while the run computes on, so a run killed at any moment loses at most the cells buffered
since its last flush (at the latest after ``flush_seconds`` or :data:`FLUSH_CELLS` cells), and the next run
recomputes exactly those. :class:`RunReport` is what a run did; the sink keeps its counters.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
from tqdm.auto import tqdm

from core.pipeline.compute import GroupResult, noisy_key
from core.pipeline.schedule import Group, RunPlan
from core.store import connect
from core.store import writes as w

NOISY_MEMO_SIZE = 64  # noisy query sets kept for the next encoder (a run's memory must not grow per cell)
FLUSH_CELLS = 200  # buffered cells written at the latest after this many (and after flush_seconds)


@dataclass
class RunReport:
    """What a run did: cells written, cells already stored (``cells_skipped``), cells of encoders that could
    not load here (``cells_unavailable``: not computed, not stored), encoders skipped with the reason, texts
    encoded (by this process and by the run's workers), and the backend that computed it."""

    run_id: str
    cells_written: int = 0
    cells_skipped: int = 0
    cells_unavailable: int = 0
    texts_encoded: int = 0
    skipped_encoders: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    backend: str = "local"


class ResultSink:
    """The driver's single writer: buffers group results and stores them through ``write_cells``.

    Every backend hands its results here and nothing else writes cells, so each flush stores whole cells
    with their rows in one transaction wherever they were computed. Also keeps the progress bar, the run's
    counters and a bounded memo of noisy query sets for the next encoders.

    Writes run on one background thread while the run computes on, one write at a time and in order: a
    flush first waits for the previous write (so at most one buffer is in flight, and a write that failed
    raises here), and :meth:`flush` with ``wait`` (the default) returns only once everything is stored.
    """

    def __init__(self, db_path, report: RunReport, n_todo: int, *, progress: bool, flush_seconds: float,
                 on_progress: Callable[[int, int], None] | None):  # fmt: skip
        self.db_path, self.report, self.n_todo = db_path, report, n_todo
        self.flush_seconds, self.on_progress = flush_seconds, on_progress
        self.bar = tqdm(
            total=n_todo, desc="cells", unit="cell", disable=not progress or not n_todo, dynamic_ncols=True
        )
        self._buffer: dict[str, list[pd.DataFrame]] = {"cells": [], "ranks": [], "noisy": []}
        self._last_flush = time.monotonic()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clir-writer")
        self._pending: Future | None = None
        # Noisy queries of recent conditions, reused by the next encoders; bounded so that a run's memory
        # does not grow with its number of cells (an evicted entry is simply recomputed, deterministically).
        self._noisy: OrderedDict[tuple, pd.DataFrame] = OrderedDict()

    def noisy_for(self, plan: RunPlan, group: Group) -> pd.DataFrame | None:
        """The memoised noisy query frame of ``group``'s condition, or None (clean, or not computed yet)."""
        key = noisy_key(plan.tasks[group.tasks[0]], group.cond)
        if key in self._noisy:
            self._noisy.move_to_end(key)
            return self._noisy[key]
        return None

    def add(self, plan: RunPlan, group: Group, result: GroupResult) -> None:
        """Take one computed group; flush when the buffer is old or large."""
        if result.noisy is not None:
            key = noisy_key(plan.tasks[group.tasks[0]], group.cond)
            self._buffer["noisy"].append(result.noisy)
            self._noisy[key] = result.noisy
            while len(self._noisy) > NOISY_MEMO_SIZE:
                self._noisy.popitem(last=False)
        self._buffer["cells"].append(result.cells)
        self._buffer["ranks"].append(result.ranks)
        self.report.texts_encoded += result.texts_encoded
        # Bounded in time and in size: a fast encoder must not pile up thousands of cells. Flushed before
        # the progress report, so that when a group is reported every earlier flushed group is stored.
        if (
            time.monotonic() - self._last_flush > self.flush_seconds
            or len(self._buffer["cells"]) >= FLUSH_CELLS
        ):
            self.flush(wait=False)
        for _ in range(len(result.cells)):
            self.report.cells_written += 1
            self.bar.update(1)
            if self.on_progress:
                self.on_progress(self.report.cells_written, self.n_todo)

    def skip(self, groups: list[Group]) -> None:
        """Count the cells of an encoder that could not load: unavailable in the report, done for the bar."""
        n = sum(len(g.tasks) for g in groups)
        self.report.cells_unavailable += n
        self.bar.update(n)

    def flush(self, wait: bool = True) -> None:
        """Store every buffered cell with its rank rows and noisy queries in one transaction, on the writer
        thread; with ``wait``, return once it (and every earlier write) is stored.

        Raises:
            StoreError: this write or an earlier one failed (the cells of earlier writes are stored).
        """
        self._wait()
        if self._buffer["cells"]:
            noisy = pd.concat(self._buffer["noisy"]) if self._buffer["noisy"] else pd.DataFrame()
            frames = pd.concat(self._buffer["cells"]), pd.concat(self._buffer["ranks"]), noisy
            self._pending = self._writer.submit(self._write, *frames)
        for v in self._buffer.values():
            v.clear()
        self._last_flush = time.monotonic()
        if wait:
            self._wait()

    def _write(self, cells: pd.DataFrame, ranks: pd.DataFrame, noisy: pd.DataFrame) -> None:
        with connect(self.db_path) as conn:
            w.write_cells(conn, cells, ranks, noisy)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Close the progress bar and the writer thread (the buffer is flushed by the caller; a write still in
        flight, after a failure, is waited for)."""
        self.bar.close()
        self._writer.shutdown(wait=True)
