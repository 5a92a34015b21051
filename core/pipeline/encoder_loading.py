"""How a run loads its encoders, says the ones it cannot load, and records the ones it used.

The driver records each encoder it computes with (:func:`record_encoder`: its spec and the languages it saw in
training) and reports each it cannot load (:func:`skip_encoder`: its cells are counted unavailable, the rest
of the grid runs). The local backend loads in the driver (:func:`load_or_skip`); a backend's worker process
loads by name with :func:`load_on_worker`, which also refuses a model that is not the one the driver planned.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable

from core.datasets.codes import same_language
from core.encoders import Encoder, load_encoder, seen_languages
from core.encoders.process import load_for_run
from core.errors import EncoderUnavailable
from core.pipeline.sink import RunReport
from core.store import connect
from core.store import writes as w


def load_or_skip(name: str, report: RunReport, say: Callable[[str], None]) -> Encoder | None:
    """Load ``name`` as the local backend uses it (:func:`core.encoders.process.load_for_run`), or report it
    skipped (the reason said once) and return None."""
    try:
        return load_for_run(name)
    except EncoderUnavailable as exc:
        skip_encoder(name, exc.reason, report, say)
        return None


def skip_encoder(name: str, reason: str, report: RunReport, say: Callable[[str], None]) -> None:
    """Record that encoder ``name`` cannot load (``reason``) and say it in the usual one line."""
    report.skipped_encoders[name] = reason
    say(str(EncoderUnavailable(name, reason)))


def load_on_worker(
    name: str, expected_fp: str, threads: int | None = None
) -> tuple[Encoder | None, str | None]:
    """Load encoder ``name`` in a worker process of a run: ``(encoder, None)``, or ``(None, why it cannot
    compute here)`` when it cannot load on this machine or loads another model than the driver planned
    (fingerprint ``expected_fp``), so that its rows never mix with the planned ones.

    ``threads`` is the cores the worker may use (None: ``$OMP_NUM_THREADS`` if set, else the encoder's
    default), given to encoders that take a count and to torch.
    """
    try:
        # The worker's share of the cores (on a cluster: the OMP_NUM_THREADS Ray gives an actor, its CPUs)
        # for encoders that take a count: muse3 defaults to every core, and two workers on two cores
        # would run four BLAS threads.
        share = threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or None
        encoder = load_encoder(name, threads=share)
    except EncoderUnavailable as exc:
        return None, f"{exc.reason} (on node {platform.node()})"
    if threads and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if encoder.fingerprint != expected_fp:
        # Another model under the same name on this node: its rows must not mix with the planned ones.
        return None, (
            f"node {platform.node()} loads fingerprint {encoder.fingerprint}, the driver planned "
            f"{expected_fp}; install the same model on every node"
        )
    return encoder, None


def record_encoder(
    db_path, name: str, fingerprint: str, spec: dict, run_id: str, langs: list[str], *, multiway: bool = False
) -> None:
    """Store a loaded encoder's spec and, per language, whether it saw it in training (driver only).

    A Tatoeba code is seen when the model trained on that very code; a multi-way set's code (``arb_Arab``,
    ``fas``) when it names the same ISO 639-3 language or macrolanguage as a training code
    (:func:`core.datasets.codes.same_language`: ``arb_Arab`` and Tatoeba's ``ara``).
    """
    seen = seen_languages(name)

    def saw(lang: str) -> bool | None:
        if seen is None:
            return None
        return same_language(lang, seen) if multiway else lang in seen

    with connect(db_path) as conn:
        w.record_encoder(
            conn, name, fingerprint, json.dumps(spec), run_id, {lang: saw(lang) for lang in langs}
        )
