"""Where a run's cells are computed: the :class:`Backend` interface every backend implements.

A backend gets the run's plan (:class:`~core.pipeline.schedule.RunPlan`: what to compute, decided before any
model loads) and its sink (:class:`~core.pipeline.sink.ResultSink`: the only writer), computes each group
with the shared functions of :mod:`core.pipeline.compute` and hands every result to the sink. So every
backend gives the same rows, and the run stays resumable whatever computes it. The backends here: ``local``
(:mod:`.local`, this process) and ``ray`` (:mod:`.ray`, actors of a Ray cluster). A new backend is one
module: a subclass of :class:`Backend` with a ``name`` and a :meth:`~Backend.run`, passed to
:func:`core.pipeline.run.run_grid`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.paths import cache_dir
from core.pipeline.schedule import RunPlan
from core.pipeline.sink import ResultSink


@dataclass(frozen=True)
class RunContext:
    """What a backend may use of its run besides the plan and the sink."""

    db_path: str | Path  # the run's database: only for record_encoder (the sink writes every cell)
    say: Callable[[str], None]  # one line to the user (an encoder skipped, a replacement...)
    progress: bool  # whether to draw progress bars


class Backend(Protocol):
    """Computes a run's planned groups. Subclass it and define ``name`` and :meth:`run`; the other methods
    have defaults for a backend that holds nothing outside this process.

    :meth:`run`'s contract, which gives every backend the same rows:

    * each group of ``plan.groups`` is computed by :func:`core.pipeline.compute.compute_batch` (or
      :func:`~core.pipeline.compute.encode_batch` and :func:`~core.pipeline.compute.rank_batch`) with
      ``top_k=plan.grid.top_k`` and ``run_id=sink.report.run_id``, and its result handed to
      ``sink.add(plan, group, result)``, on the calling thread: nothing else writes;
    * an encoder is recorded once, by the driver, before its first result is added
      (:func:`core.pipeline.encoder_loading.record_encoder`); one that cannot load is reported with
      :func:`~core.pipeline.encoder_loading.skip_encoder` and its groups with ``sink.skip(groups)``;
    * errors propagate: the caller stores the cells added so far and marks the run failed or interrupted.
    """

    name: str  # the run report's backend (RunReport.backend)

    def run(self, plan: RunPlan, sink: ResultSink, ctx: RunContext) -> None:
        """Compute every group of ``plan`` into ``sink`` (see the class's contract)."""
        ...

    def check(self) -> None:
        """Fail fast, before the data or the database is read, when this backend cannot run (default: it
        always can).

        Raises:
            BackendUnavailable: with what to do about it.
        """

    def close(self, ok: bool) -> None:
        """Release what the backend holds once the run ended (``ok``: it succeeded); default: nothing."""

    def cache_description(self) -> str:
        """The embedding cache the run reads and fills, as its ``runs`` row records it (default: this
        process's, :func:`this_process_cache`)."""
        return this_process_cache()


def this_process_cache() -> str:
    """This process's embedding cache folder, ``$CLIR_CACHE_DIR`` (or ``<repo>/cache``), as an absolute path."""
    try:
        return str(cache_dir().absolute())
    except OSError:  # cannot be created here: the run says so when it first needs it, not now
        return os.environ.get("CLIR_CACHE_DIR") or "<repo>/cache"
