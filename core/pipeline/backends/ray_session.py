"""The Ray backend's connection to Ray: join a cluster, or start (and surely stop) a private one here.

:class:`RaySession` is checked before the run reads its data or database (a missing ``ray``, an unreachable
address or one that does not speak Ray's protocol fails in seconds, in one line: :func:`speaks_grpc`), is
started only when there is work, and closed at the end. A private Ray listens on the loopback only and
has a reaper (:mod:`core.pipeline.ray_reaper`) that kills every process of it once the driver ends,
however it ends.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager

from core.errors import BackendUnavailable
from core.paths import REPO_ROOT
from core.pipeline import ray_reaper

log = logging.getLogger(__name__)

_ENV = ("CLIR_DATA_DIR", "CLIR_CACHE_DIR", "CLIR_MODELS_DIR", "HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM")


class RaySession:
    """This run's use of Ray: checked before the database is touched, started only when there is work,
    closed at the end.

    Uses the Ray instance this process is already connected to (a test, a notebook: left as it is);
    otherwise joins the cluster at ``address`` (after checking, within :data:`PROBE_TIMEOUT_S`, that it
    speaks Ray's protocol), or starts a private one on this machine with ``workers`` CPUs (default: every
    core), no dashboard, node address 127.0.0.1 (every server it starts listens on the loopback only) and its
    logs in a temporary folder, and shuts down at the end what it started. A private Ray has a reaper
    (:mod:`core.pipeline.ray_reaper`) that kills every process of it once this process ends, however it ends.
    """

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address, self.workers = address, workers
        self.ray = None
        self.own = False  # this session called ray.init (and so calls ray.shutdown)
        self.temp_dir: str | None = None  # set when this session started a local Ray
        self.reaper = None  # the private Ray's reaper process (core.pipeline.ray_reaper), while it runs

    def check(self) -> None:
        """Fail fast, in one line, when Ray cannot run: ``ray`` is missing, or the cluster at ``address``
        accepts no connection, does not speak Ray's protocol (:func:`speaks_grpc`: an HTTP server, a silent
        port; Ray itself would retry for minutes) or refuses this driver. Joins the cluster (a second);
        starts nothing.

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
            host = host.removeprefix("[").removesuffix("]")
            try:
                socket.create_connection((host, int(port)), timeout=5).close()
            except OSError as exc:
                raise BackendUnavailable(
                    f"cannot reach the Ray cluster at {self.address} ({exc.strerror or exc}); start it with "
                    "'ray start --head' or fix --address"
                ) from exc
            # Ray itself retries a port that accepts but does not speak its protocol for many minutes.
            if why := speaks_grpc(host, int(port)):
                raise BackendUnavailable(
                    f"{self.address} is not a Ray cluster ({why}); give the address that 'ray start --head' "
                    "printed (its GCS port, 6379 by default)"
                )
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
            # Before Ray starts: its processes carry the reaper's marker, and go when this driver goes,
            # however it ends (Ray's own fate-sharing leaves the raylet's agents alive after a SIGKILL).
            self.reaper, marker = ray_reaper.start()
            try:
                with _private_ray_env(marker):
                    # address="local": a new private instance, even when RAY_ADDRESS names another cluster.
                    self._init(address="local", num_cpus=self.workers or os.cpu_count() or 1,
                               _node_ip_address="127.0.0.1", dashboard_host="127.0.0.1", _temp_dir=self.temp_dir,
                               runtime_env={"env_vars": env})  # fmt: skip
            except BaseException:
                self._stop_reaper()  # reaps whatever had started
                raise
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
            raise BackendUnavailable(f"cannot {where}: {first_line(exc)}{hint}") from exc
        self.own = True
        log.info("ray: %s in %.1f s", "joined" if self.address else "started", time.monotonic() - t0)

    def _stop_reaper(self) -> None:
        if self.reaper is not None:
            ray_reaper.stop(self.reaper)
            self.reaper = None

    def close(self, ok: bool = True) -> None:
        """Shut down what this session started or joined (a private Ray: every process of it, agents
        included, by its reaper); keep the logs of a failed local run."""
        if not self.own:
            self._stop_reaper()
            return
        try:
            self.ray.shutdown()
        finally:
            self._stop_reaper()
        self.own = False
        if self.temp_dir and ok:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        elif self.temp_dir:
            log.warning("Ray logs of this run are kept in %s", self.temp_dir)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


# An HTTP/2 client's connection preface and an empty SETTINGS frame: a gRPC server (Ray's GCS, the Ray Client
# server) answers with a SETTINGS frame of its own (frame type 4, RFC 9113 section 3.4).
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
PROBE_TIMEOUT_S = 10.0


def speaks_grpc(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the server at ``host:port`` answers as a gRPC server does (every Ray address is one);
    otherwise why not, in a few words: it said nothing within ``timeout`` seconds, closed the connection,
    or answered something that is not HTTP/2 (an HTTP/1 server, a database...). Bounded by ``timeout``.

    A cluster with TLS (``RAY_USE_TLS``) is not probed (None): it would not answer in clear text.
    """
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
        return None
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_H2_PREFACE)
            head = b""
            while len(head) < 9:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    return "it closed the connection without answering"
                head += chunk
    except TimeoutError:
        return f"it accepted the connection but said nothing within {timeout:.0f} s"
    except OSError as exc:
        return f"the connection failed: {exc.strerror or exc}"
    if head[3] != 4:  # a frame header: 3 bytes length, 1 byte type
        return f"it answered {head.decode('latin-1')!r}..., not HTTP/2"
    return None


@contextmanager
def _private_ray_env(marker: str):
    """While a private Ray starts: its processes inherit :data:`core.pipeline.ray_reaper.MARKER` (the
    reaper's), and its node address stays 127.0.0.1 so that every server it starts listens on the loopback
    only. Why the second: ``ray.init`` replaces a ``_node_ip_address`` of 127.0.0.1 with this machine's
    outward address (Ray's servers then listen on every interface), unless clusters are off, which Ray
    reads from ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` (in its processes) and ``ENABLE_RAY_CLUSTER`` (in this
    one, already imported). Both are restored afterwards, so a later cluster run in this process is
    unaffected."""
    from ray._private import ray_constants

    saved = {k: os.environ.get(k) for k in (ray_reaper.MARKER, _CLUSTERS_VAR)}
    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[ray_reaper.MARKER], os.environ[_CLUSTERS_VAR] = marker, "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_CLUSTERS_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
