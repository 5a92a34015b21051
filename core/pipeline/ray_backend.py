"""The Ray backend of :func:`core.pipeline.runner.run_grid`: the same plan, computed by actors of a cluster.

Division of labour:

* The driver (the process running ``run_grid``) plans exactly as the local backend does, owns the DuckDB
  file and is its only writer: every result goes through the same :class:`~core.pipeline.runner.ResultSink`,
  which stores each cell with its rows in one ``write_cells`` transaction. So a run is resumable (kill the
  driver anywhere; a rerun computes only the cells not stored), incremental, and a finished grid starts no
  actor, loads no model and encodes nothing.
* Per encoder, one actor per worker CPU (``--workers``, at most the cluster's CPUs) loads the model once and
  computes whole groups (one language x condition, every mode) with the shared
  :func:`~core.pipeline.runner.compute_group`: noise, encode, rank, rows. Noise is deterministic by (seed,
  qid, type), so where it is computed does not matter; a condition's noisy queries are computed once and
  passed to the next encoders' groups.
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

import logging
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from core.encoders import load_encoder
from core.errors import BackendUnavailable, EncoderUnavailable
from core.paths import REPO_ROOT
from core.pipeline.runner import (
    Group,
    GroupResult,
    ResultSink,
    RunPlan,
    compute_group,
    document_vectors,
    record_encoder,
    skip_encoder,
)

log = logging.getLogger(__name__)

MAX_TRIES = 3  # a job lost with its worker this many times ends the run (it is likely what kills them)
IN_FLIGHT = 2  # jobs queued per actor: the next one is already there when the current one returns
START_TIMEOUT_S = 600.0  # no usable worker for this long (no free CPU, or its model loads no faster): fail
_ENV = ("CLIR_DATA_DIR", "CLIR_CACHE_DIR", "CLIR_MODELS_DIR", "HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM")


class RaySession:
    """This run's use of Ray: checked before the database is touched, started only when there is work,
    closed at the end.

    Uses the Ray instance this process is already connected to (a test, a notebook: left as it is);
    otherwise joins the cluster at ``address``, or starts a private one on this machine with ``workers``
    CPUs (default: every core), no dashboard, node address 127.0.0.1 and its logs in a temporary folder,
    and shuts down at the end what it started.
    """

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address, self.workers = address, workers
        self.ray = None
        self.own = False  # this session called ray.init (and so calls ray.shutdown)
        self.temp_dir: str | None = None  # set when this session started a local Ray

    def check(self) -> None:
        """Fail fast, in one line, when Ray cannot run: ``ray`` is missing, or the cluster at ``address``
        accepts no connection or refuses this driver. Joins the cluster (a second); starts nothing.

        Raises:
            BackendUnavailable: with what to do about it.
        """
        try:
            import ray
        except ImportError as exc:
            raise BackendUnavailable(
                f"the ray backend needs the 'ray' package ({exc}); pip install -r requirements.txt, or use "
                "--backend local"
            ) from exc
        self.ray = ray
        if ray.is_initialized() or not self.address:
            return
        if self.address != "auto":
            host, _, port = self.address.removeprefix("ray://").rpartition(":")
            if not host or not port.isdigit():
                raise BackendUnavailable(f"--address {self.address!r} is not host:port (e.g. 127.0.0.1:6379)")
            try:
                socket.create_connection((host, int(port)), timeout=5).close()
            except OSError as exc:
                raise BackendUnavailable(
                    f"cannot reach the Ray cluster at {self.address} ({exc.strerror or exc}); start it with "
                    "'ray start --head' or fix --address"
                ) from exc
        self._init(address=self.address)

    def ensure(self):
        """The ``ray`` module, connected: starts the private local Ray if nothing is connected yet."""
        if self.ray is None:
            self.check()
        if not self.ray.is_initialized():
            # A short path: Ray's unix sockets live under it and must fit in 107 characters.
            self.temp_dir = tempfile.mkdtemp(prefix="clir-ray-")
            env = {k: os.environ[k] for k in _ENV if k in os.environ}
            # Workers import this repository whatever the driver's working folder.
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p
            )
            # address="local": a new private instance, even when RAY_ADDRESS names another cluster.
            self._init(address="local", num_cpus=self.workers or os.cpu_count() or 1, _node_ip_address="127.0.0.1",
                       _temp_dir=self.temp_dir, runtime_env={"env_vars": env})  # fmt: skip
        return self.ray

    @property
    def local(self) -> bool:
        """Whether this session started the Ray it uses (a private one on this machine)."""
        return self.temp_dir is not None

    def _init(self, **kwargs) -> None:
        t0 = time.monotonic()
        try:
            self.ray.init(
                include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING, **kwargs
            )
        except Exception as exc:  # noqa: BLE001 - whatever Ray raises here is a setup problem, said in one line
            where = f"join the Ray cluster at {self.address}" if self.address else "start Ray on this machine"
            hint = ""
            if self.address and os.environ.get("RAY_AUTH_MODE") != "token":
                hint = " (a cluster with token authentication needs RAY_AUTH_MODE=token and its token here)"
            raise BackendUnavailable(f"cannot {where}: {_first_line(exc)}{hint}") from exc
        self.own = True
        log.info("ray: %s in %.1f s", "joined" if self.address else "started", time.monotonic() - t0)

    def close(self, ok: bool = True) -> None:
        """Shut down what this session started or joined; keep the logs of a failed local run."""
        if not self.own:
            return
        self.ray.shutdown()
        self.own = False
        if self.temp_dir and ok:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        elif self.temp_dir:
            log.warning("Ray logs of this run are kept in %s", self.temp_dir)


class EncoderWorker:
    """A Ray actor: one loaded encoder and the run's tasks; computes document vectors and groups.

    It never touches the database; its embedding cache is its node's ``$CLIR_CACHE_DIR``.
    """

    def __init__(self, name: str, expected_fp: str, tasks, data_fp, top_k: int, run_id: str, threads):
        if threads:
            # A worker may use the cores its CPUs stand for (one worker on a 2-core machine: 2 threads),
            # instead of the single thread Ray gives a 1-CPU actor.
            for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                os.environ[var] = str(threads)
        self.name, self.tasks, self.data_fp, self.top_k, self.run_id = name, tasks, data_fp, top_k, run_id
        self.encoder, self.reason = None, None
        try:
            self.encoder = load_encoder(name)
        except EncoderUnavailable as exc:
            self.reason = f"{exc.reason} (on node {platform.node()})"
            return
        if threads and "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        if self.encoder.fingerprint != expected_fp:
            # Another model under the same name on this node: its rows must not mix with the planned ones.
            self.reason = (
                f"node {platform.node()} loads fingerprint {self.encoder.fingerprint}, the driver planned "
                f"{expected_fp}; install the same model on every node"
            )
            self.encoder = None

    def ready(self) -> tuple[str | None, dict | None]:
        """(why this worker cannot compute, or None; the encoder's spec)."""
        return self.reason, None if self.encoder is None else self.encoder.spec

    def documents(self, task: int) -> tuple[np.ndarray, int]:
        """Document vectors of task ``task``'s corpus, and how many texts were encoded now."""
        return document_vectors(self.encoder, self.tasks[task])

    def compute(self, group: Group, noisy, *doc_vectors: np.ndarray) -> GroupResult:
        """One group's rows; ``doc_vectors`` follow the order of the corpora of ``group.tasks``."""
        tasks = [self.tasks[i] for i in group.tasks]
        docs = dict(zip(_corpus_order(tasks), doc_vectors))
        return compute_group(
            self.name, self.encoder, tasks, [self.data_fp[i] for i in group.tasks], group.cond, docs,
            top_k=self.top_k, run_id=self.run_id, noisy=noisy,
        )  # fmt: skip


def _corpus_order(tasks) -> list[str]:
    return list(dict.fromkeys(t.corpus.corpus_id for t in tasks))


class _Unavailable(Exception):
    """Every worker of an encoder reported that it cannot load it (the reason is the first one)."""


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
    for name, groups in plan.groups.items():
        if not groups:
            continue

        def make(name=name):
            return remote.remote(name, plan.fingerprints[name], tasks_ref, fp_ref, plan.grid.top_k,
                                 sink.report.run_id, threads)  # fmt: skip

        done: set[Group] = set()
        try:
            _run_encoder(ray, plan, name, groups, make, n_workers, sink, db_path, done)
        except _Unavailable as exc:
            skip_encoder(name, str(exc), sink.report, say)
            sink.skip([g for g in groups if g not in done])
        except ray.exceptions.RayError as exc:
            # Ray itself failed (the head node or this driver's connection lost): one line; the cells
            # stored so far are kept and a rerun computes the rest.
            raise BackendUnavailable(
                f"Ray failed while computing encoder {name}: {_first_line(exc)}"
            ) from exc
        sink.flush()


def _run_encoder(ray, plan: RunPlan, name: str, groups: list[Group], make, n_workers: int, sink: ResultSink,
                 db_path, done: set[Group]) -> None:  # fmt: skip
    """Compute one encoder's groups on its own actors: document vectors first, then the groups."""
    from ray.exceptions import ObjectLostError, RayActorError, RayTaskError, WorkerCrashedError

    lost_errors = (RayActorError, ObjectLostError, WorkerCrashedError)
    corpora = plan.corpora(groups)
    pool = _Pool(ray, make, min(n_workers, len(groups) + len(corpora)), lost_errors)
    try:
        first = True

        def on_ready(spec: dict) -> None:
            nonlocal first
            if first:  # the driver records the encoder once, from the first worker that loaded it
                record_encoder(db_path, name, plan.fingerprints[name], spec, sink.report.run_id, plan.langs)
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

        def submit(actor, g: Group):
            cids = _corpus_order([plan.tasks[i] for i in g.tasks])
            return actor.compute.remote(g, sink.noisy_for(plan, g), *[doc_refs[c] for c in cids])

        def group_done(g: Group, result: GroupResult) -> None:
            noise, level, seed = g.cond
            sink.bar.set_postfix_str(f"{name} {g.lang} {noise}@{level:g} s{seed} ({pool.n_live} workers)",
                                     refresh=False)  # fmt: skip
            sink.add(plan, g, result)
            done.add(g)

        pool.drain(list(groups), submit, group_done, on_ready)
        log.info("ray: %s: %d groups in %.1f s", name, len(groups), time.monotonic() - t0)
    except RayTaskError as exc:
        # A failure inside the computation (not a lost worker): the original error is what the user sees.
        cause = getattr(exc, "cause", None)
        raise (cause if isinstance(cause, BaseException) else exc) from None
    finally:
        pool.close()


class _Pool:
    """Actors of one encoder and a queue of jobs; a job lost with its actor goes back to the queue."""

    def __init__(self, ray, make, n: int, lost_errors: tuple):
        self.ray, self.make, self.lost_errors = ray, make, lost_errors
        self.live: dict = {}  # actor -> jobs in flight
        self.starting: dict = {}  # ready() ref -> actor
        self.replacements = n * MAX_TRIES  # bounded: a model that kills its worker must not loop forever
        self.reason: str | None = None
        for _ in range(n):
            self._start()

    @property
    def n_live(self) -> int:
        """Actors that loaded the encoder and take jobs."""
        return len(self.live)

    def _start(self) -> None:
        actor = self.make()
        self.starting[actor.ready.remote()] = actor

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
                    log.warning("a Ray worker died while loading its encoder: %s", _first_line(exc))
                    self._lost(actor)
                    continue
                if reason:
                    self.reason = self.reason or reason
                    self.ray.kill(actor)
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
                        f"a job was lost with its Ray worker {MAX_TRIES} times; last: {_first_line(exc)}"
                    ) from exc
                log.warning("a Ray worker was lost, its job goes back to the queue: %s", _first_line(exc))
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
        """Kill every actor of this encoder (frees its CPUs and its model's memory for the next one)."""
        for actor in [*self.live, *self.starting.values()]:
            try:
                self.ray.kill(actor)
            except Exception as exc:  # noqa: BLE001 - an actor already gone needs no killing
                log.debug("could not kill a Ray actor: %s", exc)
        self.live.clear()
        self.starting.clear()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def _last_line(exc: BaseException) -> str:
    """The last line of a remote traceback: the exception's type and message."""
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[-1].strip()
