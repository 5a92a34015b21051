"""A third backend in one file: a run's groups computed by a pool of worker processes on this machine.

Written against :class:`core.pipeline.backends.Backend` and the shared modules alone (the plan, the
computation, the encoder loading, the sink), as any new backend would be: each worker process holds the
plan's tasks, loads each encoder itself by name (:func:`core.pipeline.encoder_loading.load_on_worker`) and
computes one language's groups per job with :func:`core.pipeline.compute.compute_batch`; the driver records
each encoder and hands every result to the sink, in plan order. Used by ``test_process_backend.py`` to show
that such a backend gives the local backend's rows.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from core.pipeline.backends import Backend, RunContext
from core.pipeline.compute import GroupResult, compute_batch, document_vectors
from core.pipeline.encoder_loading import load_on_worker, record_encoder, skip_encoder
from core.pipeline.schedule import Group, RunPlan, by_language
from core.pipeline.sink import ResultSink

_state: dict = {}  # in each worker process: the plan's tasks, the run's settings, the loaded encoder


def _start_worker(tasks, data_fp, top_k: int, run_id: str) -> None:
    _state.update(tasks=tasks, data_fp=data_fp, top_k=top_k, run_id=run_id, name=None)


def _compute(
    name: str, fingerprint: str, groups: tuple[Group, ...], noisy: list
) -> tuple[str | None, dict | None, list[GroupResult], int]:
    """In a worker: (why encoder ``name`` cannot compute here or None, its spec, the groups' results in
    order, document texts encoded now). The encoder and its document vectors stay loaded for the next job."""
    if _state["name"] != name:
        _state.update(name=name, encoder=None, docs={})  # the previous model goes before the next loads
        _state["encoder"], _state["reason"] = load_on_worker(name, fingerprint, threads=1)
    encoder, tasks = _state["encoder"], _state["tasks"]
    if encoder is None:
        return _state["reason"], None, [], 0
    docs: dict[str, np.ndarray] = _state["docs"]
    n_new = 0
    for i in dict.fromkeys(i for g in groups for i in g.tasks):
        cid = tasks[i].corpus.corpus_id
        if cid not in docs:
            docs[cid], n = document_vectors(encoder, tasks[i])
            n_new += n
    rows = compute_batch(name, encoder, tasks, _state["data_fp"], groups, docs, noisy,
                         top_k=_state["top_k"], run_id=_state["run_id"])  # fmt: skip
    return None, encoder.spec, [result for _g, result in rows], n_new


class ProcessBackend(Backend):
    """Computes the plan in ``workers`` processes (``context``: a :mod:`multiprocessing` start method), one
    job per language of each encoder; encoders one after the other, as the other backends do."""

    name = "process"

    def __init__(self, workers: int = 2, context: str = "spawn"):
        self.workers, self.context = workers, context

    def run(self, plan: RunPlan, sink: ResultSink, ctx: RunContext) -> None:
        """Compute every group of ``plan`` in the pool, into ``sink``."""
        report = sink.report
        init = (plan.tasks, plan.data_fp, plan.grid.top_k, report.run_id)
        with ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(self.context),
                                 initializer=_start_worker, initargs=init) as pool:  # fmt: skip
            for name, groups in plan.groups.items():
                if not groups:
                    continue
                jobs = [tuple(job) for job in by_language(groups).values()]
                # The noisy queries of earlier encoders are passed on (as the Ray backend does), so a
                # condition's noisy queries are computed, and stored, once.
                futures = [
                    pool.submit(
                        _compute, name, plan.fingerprints[name], job, [sink.noisy_for(plan, g) for g in job]
                    )
                    for job in jobs
                ]
                recorded = False
                for j, (job, future) in enumerate(zip(jobs, futures)):
                    reason, spec, results, n_new = future.result()
                    if reason:
                        skip_encoder(name, reason, report, ctx.say)
                        sink.skip([g for later in jobs[j:] for g in later])
                        break
                    if not recorded:
                        record_encoder(ctx.db_path, name, plan.fingerprints[name], spec, report.run_id,
                                       plan.langs, multiway=plan.multiway)  # fmt: skip
                        recorded = True
                    report.texts_encoded += n_new
                    for g, result in zip(job, results, strict=True):
                        sink.add(plan, g, result)
                for future in futures:
                    future.cancel()  # after a skipped encoder: its jobs not started yet
                sink.flush(wait=False)
