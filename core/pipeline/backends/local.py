"""The local backend: every cell computed in this process, encoder after encoder, in plan order.

Each encoder is loaded once (in this process, or in its own single-threaded child processes for the kinds
that ask for them: :mod:`core.encoders.process`). Two look-ahead threads keep it busy: the next language's
noisy queries are computed while the current one encodes, and an encoder in child processes encodes the
next language while this thread ranks the current one. Noise is deterministic, so the rows are the same
as computed one after the other, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from core.conditions import CLEAN_NOISE
from core.encoders import Encoder
from core.encoders.process import RemoteEncoder, release
from core.pipeline.backends import Backend, RunContext
from core.pipeline.compute import (
    EncodedBatch,
    document_vectors,
    encode_batch,
    encode_through_cache,
    noisy_frame,
    rank_batch,
)
from core.pipeline.encoder_loading import load_or_skip, record_encoder
from core.pipeline.schedule import Group, RunPlan, by_language
from core.pipeline.sink import ResultSink


class LocalBackend(Backend):
    """Computes the plan in this process (:func:`run_local`)."""

    name = "local"

    def run(self, plan: RunPlan, sink: ResultSink, ctx: RunContext) -> None:
        """Compute every group of ``plan`` here, into ``sink``."""
        run_local(plan, sink, say=ctx.say, db_path=ctx.db_path, progress=ctx.progress)


def run_local(plan: RunPlan, sink: ResultSink, *, say, db_path, progress: bool) -> None:
    """Compute every group of ``plan`` in this process into ``sink``: each encoder loaded once (here, or in
    its own single-threaded child processes for the kinds that ask for them: :mod:`core.encoders.process`),
    its groups computed in plan order, language by language."""
    report = sink.report

    def encode(encoder: Encoder, texts: list[str], label: str) -> tuple[np.ndarray, int]:
        return encode_through_cache(encoder, texts, label, progress)

    # The next language's noisy queries are computed on a second thread while this one encodes (the
    # encoders' matrix products release the GIL), the first language's while the encoder loads and encodes
    # the documents; noise is deterministic, so the rows are the same. Ranking stays on this thread: its
    # one-BLAS-thread limit is process-wide and would slow an encoder running in this process.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clir-noise") as noiser:
        for name, groups in plan.groups.items():
            if not groups:
                continue
            batches = list(by_language(groups).values())
            ahead = _noise_ahead(noiser, plan, sink, batches[0])
            encoder = load_or_skip(name, report, say)
            if encoder is None:
                sink.skip(groups)
                continue
            try:
                record_encoder(db_path, name, encoder.fingerprint, encoder.spec, report.run_id, plan.langs,
                               multiway=plan.multiway)  # fmt: skip
                doc_vectors: dict[str, np.ndarray] = {}
                for cid, i in plan.corpora(groups).items():
                    doc_vectors[cid], n_new = document_vectors(encoder, plan.tasks[i], encode)
                    report.texts_encoded += n_new
                _encode_and_rank(name, encoder, plan, batches, ahead, noiser, doc_vectors, sink, progress)
            finally:
                release(encoder)
            sink.flush(wait=False)  # stored while the next encoder loads


def _encode_and_rank(name: str, encoder: Encoder, plan: RunPlan, batches: list[list[Group]], ahead: Future,
                     noiser: ThreadPoolExecutor, doc_vectors: Mapping[str, np.ndarray], sink: ResultSink,
                     progress: bool) -> None:  # fmt: skip
    """Each language batch of one encoder: its encoding pass, then its ranking into ``sink``. ``ahead`` is
    the first batch's noise (:func:`_noise_ahead`); each batch starts the next one's.

    An encoder in child processes (:class:`RemoteEncoder`) encodes the next batch (on a second thread,
    which only waits for the children) while this thread ranks the current one, so the children never
    wait for the ranking; the rows are the same, in the same order.
    """

    def start(b: int) -> tuple[list, list[Group], list]:
        nonlocal ahead
        known, fresh = ahead.result()
        if b + 1 < len(batches):
            ahead = _noise_ahead(noiser, plan, sink, batches[b + 1])
        return fresh, batches[b], [k if k is not None else f for k, f in zip(known, fresh)]

    if not isinstance(encoder, RemoteEncoder):
        for b in range(len(batches)):
            fresh, groups, frames = start(b)
            batch = encode_batch(encoder, plan.tasks, groups, frames, progress=progress)
            _rank_and_add(name, encoder, plan, batch, fresh, doc_vectors, sink)
        return
    feeder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clir-encode")
    try:

        def submit(b: int) -> tuple[list, Future]:
            fresh, groups, frames = start(b)
            return fresh, feeder.submit(encode_batch, encoder, plan.tasks, groups, frames, progress=progress)

        pending = submit(0)
        for b in range(len(batches)):
            fresh, future = pending
            batch = future.result()
            if b + 1 < len(batches):
                pending = submit(b + 1)
            _rank_and_add(name, encoder, plan, batch, fresh, doc_vectors, sink)
    finally:
        # On a failure the caller then stops the children, which ends an encoding still in flight there.
        feeder.shutdown(wait=False, cancel_futures=True)


def _rank_and_add(name: str, encoder: Encoder, plan: RunPlan, batch: EncodedBatch, fresh: list,
                  doc_vectors: Mapping[str, np.ndarray], sink: ResultSink) -> None:  # fmt: skip
    """Rank ``batch`` and hand its groups to ``sink``; ``fresh[i]`` is group i's noisy frame if computed
    ahead (never stored yet: stored with its cells)."""
    rows = rank_batch(name, encoder, plan.tasks, plan.data_fp, batch, doc_vectors, top_k=plan.grid.top_k,
                      run_id=sink.report.run_id)  # fmt: skip
    for (g, result), new in zip(rows, fresh):
        if new is not None:
            result.noisy = new
        noise, level, seed = g.cond
        sink.bar.set_postfix_str(f"{name} {g.lang} {noise}@{level:g} s{seed}", refresh=False)
        sink.add(plan, g, result)


def _noise_ahead(noiser: ThreadPoolExecutor, plan: RunPlan, sink: ResultSink, groups: list[Group]) -> Future:
    """Start computing the noisy query frames ``groups`` lack: a future of (frames the sink's memo holds,
    frames computed now), one entry per group, None where not applicable."""
    known = [sink.noisy_for(plan, g) for g in groups]  # read now, on this thread: the memo is not shared

    def compute() -> tuple[list, list]:
        fresh = [
            None
            if k is not None or g.cond[0] == CLEAN_NOISE
            else noisy_frame(plan.tasks[g.tasks[0]], *g.cond)
            for g, k in zip(groups, known)
        ]
        return known, fresh

    return noiser.submit(compute)
