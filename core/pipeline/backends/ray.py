"""The Ray backend of :func:`core.pipeline.run.run_grid`: the same plan, computed by actors of a cluster.

Division of labour:

* The driver (the process running ``run_grid``) plans exactly as the local backend does, owns the DuckDB
  file and is its only writer: every result goes through the same :class:`~core.pipeline.sink.ResultSink`,
  which stores each cell with its rows in one ``write_cells`` transaction. So a run is resumable (kill the
  driver anywhere; a rerun computes only the cells not stored), incremental, and a finished grid starts no
  actor, loads no model and encodes nothing.
* One actor per worker CPU (``--workers``, at most the cluster's CPUs) serves the whole run: it loads each
  encoder in turn (the next one in place of the last) and computes jobs of one language's groups (every
  condition and mode; :func:`language_jobs`) with the shared :func:`~core.pipeline.compute.compute_batch`:
  noise, one length-sorted encoding pass through the cache, rank, rows. Noise is deterministic by (seed,
  qid, type), so where it is computed does not matter; a condition's noisy queries are computed once and
  passed to the next encoders' jobs.
* A corpus's document vectors are encoded once per encoder by one actor, fetched by the driver and
  ``ray.put`` in the driver's object store, which every group of that encoder reads (a lost worker node
  cannot take them with it).
* The embedding cache is per node: a worker reads and writes the cache of its own node
  (``$CLIR_CACHE_DIR`` of the environment its ``ray start`` was run in), the driver touches none. Nodes need
  no shared filesystem; a node with a warm cache encodes nothing, a node with a cold one encodes and fills
  its own. On one machine every worker shares the driver's cache (SQLite in WAL mode takes concurrent
  writers).
* A lost worker or node costs a retry: its actors' unfinished jobs go back to the queue (at most
  :data:`MAX_TRIES` times each), the surviving actors take them, and a replacement actor is started where the
  cluster has room.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from core.errors import BackendUnavailable
from core.pipeline.backends import Backend, RunContext, this_process_cache
from core.pipeline.backends.ray_session import RaySession, first_line
from core.pipeline.compute import GroupResult, compute_batch, document_vectors
from core.pipeline.encoder_loading import load_on_worker, record_encoder, skip_encoder
from core.pipeline.schedule import Group, RunPlan, by_language
from core.pipeline.sink import ResultSink

log = logging.getLogger(__name__)

MAX_TRIES = 3  # a job lost with its worker this many times ends the run (it is likely what kills them)
MAX_JOB_GROUPS = 32  # groups in one job at most (see language_jobs)
IN_FLIGHT = 2  # jobs queued per actor: the next one is already there when the current one returns
START_TIMEOUT_S = 600.0  # no usable worker for this long (no free CPU, or its model loads no faster): fail


class EncoderWorker:
    """A Ray actor: the run's tasks and one loaded encoder at a time; computes document vectors and batches.

    One actor per worker CPU serves the whole run: :meth:`load` swaps its encoder, so the next encoder costs a
    model load, not a new process (imports, the tasks) per encoder. It never touches the database; its
    embedding cache is its node's ``$CLIR_CACHE_DIR``.
    """

    def __init__(self, tasks, data_fp, top_k: int, run_id: str, threads: int | None):
        if threads:
            # A worker may use the cores its CPUs stand for (one worker on a 2-core machine: 2 threads),
            # instead of the single thread Ray gives a 1-CPU actor.
            for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                os.environ[var] = str(threads)
        self.tasks, self.data_fp, self.top_k, self.run_id = tasks, data_fp, top_k, run_id
        self.threads, self.name, self.encoder = threads, None, None

    def load(self, name: str, expected_fp: str) -> tuple[str | None, dict | None]:
        """Load encoder ``name`` in place of the previous one: (why it cannot compute, or None; its spec)."""
        self.name, self.encoder = name, None
        gc.collect()  # the previous model's memory, before the next one loads
        encoder, reason = load_on_worker(name, expected_fp, self.threads)
        if reason:
            return reason, None
        self.encoder = encoder
        return None, encoder.spec

    def documents(self, task: int) -> tuple[np.ndarray, int]:
        """Document vectors of task ``task``'s corpus, and how many texts were encoded now."""
        return document_vectors(self.encoder, self.tasks[task])

    def compute(self, groups: tuple[Group, ...], noisy: list, *doc_vectors: np.ndarray) -> list[GroupResult]:
        """The results of ``groups`` (one language; :func:`~core.pipeline.compute.compute_batch`), in order;
        ``noisy`` holds each group's known noisy frame or None; ``doc_vectors`` follow :func:`_corpus_order`
        of the groups' tasks."""
        docs = dict(zip(_corpus_order([self.tasks[i] for g in groups for i in g.tasks]), doc_vectors))
        batch = compute_batch(self.name, self.encoder, self.tasks, self.data_fp, groups, docs, noisy,
                              top_k=self.top_k, run_id=self.run_id)  # fmt: skip
        return [result for _g, result in batch]


def _corpus_order(tasks) -> list[str]:
    return list(dict.fromkeys(t.corpus.corpus_id for t in tasks))


def language_jobs(groups: list[Group], n_workers: int) -> list[tuple[Group, ...]]:
    """``groups`` cut into jobs of one language each: a language whole when that still gives every worker
    about two jobs, else in even parts; never over :data:`MAX_JOB_GROUPS` groups (a job's rows travel back
    in one message, and a lost worker costs a retry of its job)."""
    size = max(1, min(MAX_JOB_GROUPS, -(-len(groups) // (2 * max(1, n_workers)))))
    jobs = []
    for lang_groups in by_language(groups).values():
        n = -(-len(lang_groups) // size)
        bounds = np.linspace(0, len(lang_groups), n + 1).round().astype(int)
        jobs += [tuple(lang_groups[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
    return jobs


class _Unavailable(Exception):
    """Every worker of an encoder reported that it cannot load it (the reason is the first one)."""


class RayBackend(Backend):
    """Computes the plan on Ray (:func:`run_plan`): a cluster at ``address``, or a private Ray started here
    with ``workers`` CPUs (:class:`~core.pipeline.backends.ray_session.RaySession`)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.session = RaySession(address, workers)

    def check(self) -> None:
        """Fail in seconds when Ray cannot run (:meth:`RaySession.check`); starts nothing."""
        self.session.check()

    def run(self, plan: RunPlan, sink: ResultSink, ctx: RunContext) -> None:
        """Compute every group of ``plan`` on Ray's actors, into ``sink``."""
        run_plan(plan, sink, self.session, say=ctx.say, db_path=ctx.db_path)

    def close(self, ok: bool) -> None:
        """Shut down what the session started or joined (:meth:`RaySession.close`)."""
        self.session.close(ok)

    def cache_description(self) -> str:
        """On a cluster each node's own cache; a private Ray's workers share this process's."""
        if self.session.address:
            return f"each Ray node's own $CLIR_CACHE_DIR (cluster at {self.session.address})"
        return this_process_cache()


def run_plan(
    plan: RunPlan, sink: ResultSink, session: RaySession, *, say: Callable[[str], None], db_path
) -> None:
    """Compute every group of ``plan`` on Ray, handing each result to ``sink`` (the only writer).

    Raises:
        BackendUnavailable: Ray cannot start, the cluster has no CPU, no worker could start for
            :data:`START_TIMEOUT_S`, a worker cannot import this project, or a job was lost with its worker
            :data:`MAX_TRIES` times, or Ray itself fails (head node or connection lost).
    """
    ray = session.ensure()
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if cpus < 1:
        raise BackendUnavailable("the Ray cluster has no CPU to run workers on")
    n_workers = min(cpus, session.workers) if session.workers else cpus
    # Our own Ray on this machine: each worker may use its share of the cores. On a cluster a worker
    # stands for one CPU, so Ray's one thread per actor is right.
    threads = max(1, (os.cpu_count() or 1) // n_workers) if session.local else None
    tasks_ref, fp_ref = ray.put(plan.tasks), ray.put(plan.data_fp)
    remote = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(EncoderWorker)
    jobs = {name: language_jobs(groups, n_workers) for name, groups in plan.groups.items() if groups}
    if not jobs:
        return
    most = max(len(j) + len(plan.corpora(plan.groups[name])) for name, j in jobs.items())
    pool = _Pool(ray, lambda: remote.remote(tasks_ref, fp_ref, plan.grid.top_k, sink.report.run_id, threads),
                 min(n_workers, most))  # fmt: skip
    try:
        for name, encoder_jobs in jobs.items():
            groups = plan.groups[name]
            done: set[Group] = set()
            pool.bind(name, plan.fingerprints[name])
            try:
                _run_encoder(ray, plan, name, encoder_jobs, pool, sink, db_path, done)
            except _Unavailable as exc:
                skip_encoder(name, str(exc), sink.report, say)
                sink.skip([g for g in groups if g not in done])
            except ray.exceptions.RayError as exc:
                # Ray itself failed (the head node or this driver's connection lost): one line; the cells
                # stored so far are kept and a rerun computes the rest.
                raise BackendUnavailable(
                    f"Ray failed while computing encoder {name}: {first_line(exc)}"
                ) from exc
            sink.flush(wait=False)  # stored while the next encoder loads
    finally:
        pool.close()


def _run_encoder(ray, plan: RunPlan, name: str, jobs: list[tuple[Group, ...]], pool: _Pool, sink: ResultSink,
                 db_path, done: set[Group]) -> None:  # fmt: skip
    """Compute one encoder's jobs on the pool's actors (bound to it): document vectors first, then the
    jobs, each one language's groups."""
    from ray.exceptions import RayTaskError

    corpora = plan.corpora([g for job in jobs for g in job])
    try:
        first = True

        def on_ready(spec: dict) -> None:
            nonlocal first
            if first:  # the driver records the encoder once, from the first worker that loaded it
                record_encoder(db_path, name, plan.fingerprints[name], spec, sink.report.run_id, plan.langs,
                               multiway=plan.multiway)  # fmt: skip
                first = False

        doc_refs: dict[str, object] = {}

        def docs_done(cid: str, result: tuple[np.ndarray, int]) -> None:
            vectors, n_new = result
            sink.report.texts_encoded += n_new
            doc_refs[cid] = ray.put(vectors)  # owned by the driver: outlives any worker node

        t0 = time.monotonic()
        pool.drain(list(corpora), lambda a, cid: a.documents.remote(corpora[cid]), docs_done, on_ready)
        log.info("ray: %s: %d workers, documents of %d corpora in %.1f s", name, pool.n_live, len(corpora),
                 time.monotonic() - t0)  # fmt: skip
        t0 = time.monotonic()

        def submit(actor, job: tuple[Group, ...]):
            cids = _corpus_order([plan.tasks[i] for g in job for i in g.tasks])
            noisy = [sink.noisy_for(plan, g) for g in job]
            return actor.compute.remote(job, noisy, *[doc_refs[c] for c in cids])

        def job_done(job: tuple[Group, ...], results: list[GroupResult]) -> None:
            for g, result in zip(job, results, strict=True):
                noise, level, seed = g.cond
                sink.bar.set_postfix_str(f"{name} {g.lang} {noise}@{level:g} s{seed} ({pool.n_live} workers)",
                                         refresh=False)  # fmt: skip
                sink.add(plan, g, result)
                done.add(g)

        pool.drain(jobs, submit, job_done, on_ready)
        log.info("ray: %s: %d jobs in %.1f s", name, len(jobs), time.monotonic() - t0)
    except RayTaskError as exc:
        # A failure inside the computation (not a lost worker): the original error is what the user sees.
        cause = getattr(exc, "cause", None)
        raise (cause if isinstance(cause, BaseException) else exc) from None


class _Pool:
    """The run's actors and a queue of jobs; a job lost with its actor goes back to the queue.

    Actors outlive encoders: :meth:`bind` has each one load the next encoder in place of the previous one.
    An actor that cannot load an encoder waits, idle, for the next one.
    """

    def __init__(self, ray, make, n: int):
        from ray.exceptions import ObjectLostError, RayActorError, WorkerCrashedError

        self.ray, self.make, self.n = ray, make, n
        self.lost_errors = (RayActorError, ObjectLostError, WorkerCrashedError)
        self.live: dict = {}  # actor -> jobs in flight, for actors that loaded the bound encoder
        self.idle: list = []  # actors that could not load the bound encoder
        self.starting: dict = {}  # load() ref -> actor
        self.binding: tuple[str, str] | None = None  # (encoder name, its planned fingerprint)
        self.replacements = 0
        self.reason: str | None = None

    @property
    def n_live(self) -> int:
        """Actors that loaded the bound encoder and take jobs."""
        return len(self.live)

    def bind(self, name: str, fingerprint: str) -> None:
        """Have every actor load encoder ``name`` (expected ``fingerprint``); start actors up to the pool's
        size. Actors still loading the previous encoder load this one next (an actor runs calls in order)."""
        self.binding, self.reason = (name, fingerprint), None
        self.replacements = self.n * MAX_TRIES  # bounded: a model that kills its worker must not loop forever
        actors = [*self.live, *self.idle, *self.starting.values()]
        self.live, self.idle, self.starting = {}, [], {}
        for actor in actors:
            self.starting[actor.load.remote(*self.binding)] = actor
        for _ in range(self.n - len(actors)):
            self._start()

    def _start(self) -> None:
        actor = self.make()
        self.starting[actor.load.remote(*self.binding)] = actor

    def _lost(self, actor) -> None:
        self.live.pop(actor, None)
        if self.replacements > 0:
            self.replacements -= 1
            self._start()  # scheduled wherever the cluster has a free CPU; may wait for one

    def drain(self, jobs: list, submit, on_result, on_ready) -> None:
        """Run every job (``submit(actor, job)`` gives its ref) and call ``on_result(job, value)`` on the
        driver as each one finishes, in completion order."""
        queue, tries, in_flight = deque(jobs), dict.fromkeys(jobs, 0), {}
        waiting_since = time.monotonic()
        while queue or in_flight:
            for actor in self.live:
                while self.live[actor] < IN_FLIGHT and queue:
                    job = queue.popleft()
                    in_flight[submit(actor, job)] = (actor, job)
                    self.live[actor] += 1
            if not in_flight and not self.starting:
                if self.reason:
                    raise _Unavailable(self.reason)
                raise BackendUnavailable("every Ray worker of this run was lost and none could be replaced")
            timeout = None if in_flight else max(0.0, START_TIMEOUT_S - (time.monotonic() - waiting_since))
            ready, _ = self.ray.wait([*in_flight, *self.starting], num_returns=1, timeout=timeout)
            if not ready:
                raise BackendUnavailable(
                    f"no Ray worker could start within {START_TIMEOUT_S:.0f} s (no free CPU in the cluster?)"
                )
            ref = ready[0]
            if ref in self.starting:
                actor = self.starting.pop(ref)
                waiting_since = time.monotonic()
                try:
                    reason, spec = self.ray.get(ref)
                except self.lost_errors as exc:
                    if getattr(exc, "actor_init_failed", False):
                        # Not a lost node but a worker that cannot even start (e.g. no 'core' on a node's
                        # PYTHONPATH): every replacement would fail the same way.
                        raise BackendUnavailable(f"a Ray worker could not start: {_last_line(exc)}") from None
                    log.warning("a Ray worker died while loading its encoder: %s", first_line(exc))
                    self._lost(actor)
                    continue
                if reason:
                    self.reason = self.reason or reason
                    self.idle.append(actor)
                    continue
                on_ready(spec)
                self.live[actor] = 0
                continue
            actor, job = in_flight.pop(ref)
            try:
                value = self.ray.get(ref)
            except self.lost_errors as exc:
                tries[job] += 1
                if tries[job] >= MAX_TRIES:
                    raise BackendUnavailable(
                        f"a job was lost with its Ray worker {MAX_TRIES} times; last: {first_line(exc)}"
                    ) from exc
                log.warning("a Ray worker was lost, its job goes back to the queue: %s", first_line(exc))
                if actor in self.live:
                    self._lost(actor)
                queue.appendleft(job)
                waiting_since = time.monotonic()
                continue
            if actor in self.live:
                self.live[actor] -= 1
            waiting_since = time.monotonic()
            on_result(job, value)

    def close(self) -> None:
        """Kill every actor of the run (frees their CPUs and models' memory at once)."""
        for actor in [*self.live, *self.idle, *self.starting.values()]:
            try:
                self.ray.kill(actor)
            except Exception as exc:  # noqa: BLE001 - an actor already gone needs no killing
                log.debug("could not kill a Ray actor: %s", exc)
        self.live.clear()
        self.idle.clear()
        self.starting.clear()


def _last_line(exc: BaseException) -> str:
    """The last line of a remote traceback: the exception's type and message."""
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[-1].strip()
