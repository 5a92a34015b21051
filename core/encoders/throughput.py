"""Measured encoder speed (texts per second) per encoder fingerprint and host, kept next to the cache.

``throughput.json`` under ``$CLIR_CACHE_DIR`` maps ``"<fingerprint>@<host>"`` to one measurement: the speed
of one machine says nothing about another's, and a new model (another fingerprint) must be measured again.
``python -m precompute plan --measure`` writes it; the plan reads it to estimate hours.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from core.encoders.base import document_side, query_side
from core.encoders.process import load_for_run, release
from core.errors import ConfigError
from core.paths import cache_dir

FILE_NAME = "throughput.json"
WARMUP_TEXTS = 32  # the first forward passes allocate buffers and JIT-pick kernels: never timed


@dataclass(frozen=True)
class Measurement:
    """One encoder's speed on one host: ``texts_per_s`` over ``n_texts`` texts after a warm-up, and the
    seconds ``load_s`` its loading took."""

    encoder: str
    fingerprint: str
    host: str
    texts_per_s: float
    load_s: float
    n_texts: int
    measured_at: str  # ISO 8601, UTC


def store_path(root: Path | None = None) -> Path:
    """The JSON file of measurements: ``throughput.json`` in the cache folder (or ``root``)."""
    return Path(root or cache_dir()) / FILE_NAME


def _key(fingerprint: str, host: str) -> str:
    return f"{fingerprint}@{host}"


def load_measurements(root: Path | None = None) -> dict[str, Measurement]:
    """Every stored measurement by ``"<fingerprint>@<host>"``; an absent file is no measurement.

    Raises:
        ConfigError: the file exists but is not a measurement file (it is left as it is).
    """
    path = store_path(root)
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {k: Measurement(**v) for k, v in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"throughput file {str(path)!r} is unreadable ({exc}); delete it and measure again"
        ) from exc


def lookup(fingerprint: str, host: str | None = None, root: Path | None = None) -> Measurement | None:
    """The measurement of ``fingerprint`` on ``host`` (default: this machine), or None."""
    return load_measurements(root).get(_key(fingerprint, host or platform.node()))


def save_measurement(m: Measurement, root: Path | None = None) -> Path:
    """Add or replace ``m`` in the store (atomically: a killed writer leaves the old file whole)."""
    path = store_path(root)
    data = {k: asdict(v) for k, v in load_measurements(root).items()}
    data[_key(m.fingerprint, m.host)] = asdict(m)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path


def measure(name: str, texts: Sequence[str]) -> Measurement:
    """Load ``name``, warm it up on a few texts, then time one ``encode`` of ``texts`` (the query side).

    An asymmetric encoder is timed on its query side (the side every noisy query goes through). The encoder
    runs as a run's local backend runs it: in its own single-threaded processes where its kind asks for them
    (:mod:`core.encoders.process`), else in this process.

    Raises:
        UnknownNameError / EncoderUnavailable: ``name`` cannot load.  ValueError: no texts.
    """
    if not texts:
        raise ValueError("no sample texts to measure the encoder on")
    t0 = time.perf_counter()
    encoder = load_for_run(name)
    try:
        load_s = time.perf_counter() - t0
        side = query_side(encoder)
        side.encode(list(texts[:WARMUP_TEXTS]))
        if document_side(encoder) is not side:
            document_side(encoder).encode(list(texts[:WARMUP_TEXTS]))
        t0 = time.perf_counter()
        side.encode(list(texts))
        seconds = max(time.perf_counter() - t0, 1e-9)
    finally:
        release(encoder)
    return Measurement(
        encoder=name,
        fingerprint=encoder.fingerprint,
        host=platform.node(),
        texts_per_s=len(texts) / seconds,
        load_s=load_s,
        n_texts=len(texts),
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
