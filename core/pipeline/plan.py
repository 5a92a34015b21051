"""What a grid run will compute, before computing it: cells, unique texts to encode, rows, and hours.

:func:`plan_grid` applies the runner's own rules without loading any model: a cell is done when it is
stored under the same encoder fingerprint, query count, data fingerprint and (noisy cells) noise version
(:func:`core.pipeline.run.run_grid`); texts are deduplicated per embedding-cache fingerprint as
:func:`core.encoders.encode_cached` does, and texts already in the cache are counted apart. Noisy queries
are computed (that is cheap); nothing is encoded, written or created.

Hours come from a speed per encoder: measured on this host (:mod:`core.encoders.throughput`, preferred),
else derived from the timings of the encoder's cells stored in the database; each estimate names its source.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from core.conditions import CLEAN_NOISE
from core.datasets import RetrievalTask
from core.datasets.codes import noise_language
from core.encoders import encoder_fingerprint, resolve_spec
from core.encoders.cache import cached_texts
from core.encoders.registry import side_fingerprints_of
from core.encoders.throughput import Measurement, lookup, measure, save_measurement
from core.errors import ConfigError, EncoderUnavailable, StoreError
from core.noise import NOISE_VERSION, apply_noise_batch
from core.pipeline.grid import Grid, grid_tasks
from core.pipeline.inputs import corpus_digest, data_fingerprint, outside_grid, query_set_changes
from core.store import CELL_KEY, connect
from core.store import queries as reads
from core.store import writes as w

#: Wall time of a run over its encoder's load + encode time (noise, cache, ranking, writes), the
#: target benchmarks/overhead.py checks; applied to every estimate.
PIPELINE_OVERHEAD = 1.1
SAMPLE_SEED = 0  # the sample texts of a throughput measurement are drawn with this seed


@dataclass(frozen=True)
class Speed:
    """An encoder's speed and where it comes from (said with every estimate)."""

    texts_per_s: float
    load_s: float
    source: str


@dataclass
class EncoderPlan:
    """One encoder's share of a grid: cells, unique texts by kind, rows to add, and its speed.

    Text counts are unique per embedding-cache fingerprint in the order documents, clean queries, noisy
    queries (a text is counted under the first kind it appears as); ``cached`` of them are in the cache
    already, so ``to_encode = documents + clean + noisy - cached`` is what the run encodes.
    ``unavailable`` holds the reason when the encoder cannot load here: a run skips it, so nothing of it is
    counted but ``cells_total``.
    """

    name: str
    fingerprint: str | None = None
    cells_total: int = 0
    cells_stored: int = 0
    cells_todo: int = 0
    other_model: int = 0  # stored under this name by another fingerprint: the run refuses or replaces them
    documents: int = 0
    clean: int = 0
    noisy: int = 0
    cached: int = 0
    rank_rows: int = 0
    speed: Speed | None = None
    unavailable: str | None = None

    @property
    def to_encode(self) -> int:
        """Texts the run will actually encode (unique, not cached)."""
        return self.documents + self.clean + self.noisy - self.cached

    def hours(self, workers: int = 1) -> float | None:
        """Estimated wall hours of this encoder's cells on ``workers`` machines like this one; None without
        a speed (0 when nothing is left to compute).

        Each worker loads the model once and encodes 1/``workers`` of the texts; the result includes
        :data:`PIPELINE_OVERHEAD`.
        """
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if not self.cells_todo:
            return 0.0
        if self.speed is None:
            return None
        encode_s = self.to_encode / self.speed.texts_per_s / workers
        return (self.speed.load_s + encode_s) * PIPELINE_OVERHEAD / 3600


@dataclass
class GridPlan:
    """A whole grid's plan: one :class:`EncoderPlan` per encoder, in grid order."""

    encoders: list[EncoderPlan] = field(default_factory=list)
    db: str | None = None
    # Stored cells of the grid's languages over another query set (:func:`query_set_changes`): a run refuses
    # them, or with --replace-changed recomputes them; ``other_outside`` of them are outside the grid.
    other_query_set: int = 0
    other_outside: int = 0
    other_langs: tuple[str, ...] = ()
    # corpus id -> (documents, languages ranked against it): a corpus is encoded once per encoder, however
    # many languages share it (a multi-way set's one English side).
    corpora: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def cells_total(self) -> int:
        """Every cell of the grid."""
        return sum(e.cells_total for e in self.encoders)

    @property
    def cells_stored(self) -> int:
        """Cells already stored (and current) in the database."""
        return sum(e.cells_stored for e in self.encoders)

    @property
    def cells_todo(self) -> int:
        """Cells the run will compute."""
        return sum(e.cells_todo for e in self.encoders)

    @property
    def rank_rows(self) -> int:
        """Rows the run adds to ``ranks`` (one per query of each cell to compute)."""
        return sum(e.rank_rows for e in self.encoders)

    def hours(self, workers: int = 1) -> float | None:
        """Sum of the encoders' estimates (encoders run one after another); None if any is unknown."""
        parts = [e.hours(workers) for e in self.encoders]
        return None if any(p is None for p in parts) else sum(parts)

    def missing_speed(self) -> list[str]:
        """Encoders with cells to compute but no known speed."""
        return [e.name for e in self.encoders if e.cells_todo and e.speed is None]


def sample_texts(tasks: Iterable[RetrievalTask], n: int = 256, seed: int = SAMPLE_SEED) -> list[str]:
    """``n`` texts of the tasks' languages for a speed measurement: queries and documents in equal parts,
    drawn with ``seed`` (the same grid always gives the same sample)."""
    pool = list(dict.fromkeys(text for t in tasks for text in (*t.queries, *t.corpus.documents)))
    if len(pool) <= n:
        return pool
    rng = np.random.default_rng(seed)
    return [pool[i] for i in sorted(rng.choice(len(pool), size=n, replace=False))]


def _stored(db: str | Path) -> tuple[dict[tuple, tuple], pd.DataFrame, pd.DataFrame]:
    """Stored cells (key -> (fingerprint, n_queries, data fingerprint, noise version)), cell timings and the
    cells themselves (:func:`core.store.writes.completed_cells`), read without writing anything."""
    if not Path(db).is_file():
        raise StoreError(f"database {str(db)!r} does not exist (leave out --db to plan a new one)")
    with connect(db, read_only=True) as conn:
        cells = w.completed_cells(conn)
        done = {tuple(r[: len(CELL_KEY)]): tuple(r[len(CELL_KEY) :]) for r in cells.itertuples(index=False)}
        timings = reads.cell_timings(conn)
    return done, timings, cells


def speed_from_cells(timings: pd.DataFrame, fingerprint: str, db: str | Path) -> Speed | None:
    """An encoder's speed from its stored cells: the query texts of its condition groups (each group once)
    plus each corpus once, over the groups' seconds; None when no cell of ``fingerprint`` is stored.

    A cell's ``seconds`` counts from the start of its (language, condition) group, so a group's time is its
    largest; the runner charges a language's one encoding pass to its first group, so the groups' times add
    up to the run's. Cells computed on a warm cache make the speed optimistic; the source says so.
    """
    t = timings[timings["fingerprint"] == fingerprint]
    if t.empty:
        return None
    group = ["run_id", "lang", "noise", "level", "seed"]
    per_group = t.groupby(group, dropna=False).agg(seconds=("seconds", "max"), texts=("n_queries", "max"))
    docs = t.drop_duplicates(["run_id", "corpus"])["n_docs"].sum()
    seconds = float(per_group["seconds"].sum())
    if seconds <= 0:
        return None
    rate = (float(per_group["texts"].sum()) + float(docs)) / seconds * PIPELINE_OVERHEAD
    return Speed(
        rate,
        0.0,
        f"derived from {len(t)} stored cells in {str(db)!r} (load time and cache hits not separated)",
    )


def measure_grid(grid: Grid, n_texts: int = 256) -> list[Measurement]:
    """Measure and store (:func:`core.encoders.throughput.save_measurement`) the speed of each of the grid's
    encoders that can load here, on :func:`sample_texts` of the grid's languages.

    Raises:
        UnknownNameError: unknown language or encoder.  DataError: missing data.
        ConfigError: ``n_texts`` < 1, or every encoder of the grid is unavailable here.
    """
    if n_texts < 1:
        raise ConfigError(f"--sample must be at least 1, got {n_texts}")
    for name in grid.encoders:
        resolve_spec(name)
    sample = sample_texts(grid_tasks(grid), n_texts)
    done, why = [], {}
    for name in tqdm(grid.encoders, desc="measuring", unit="encoder", leave=False):
        try:
            m = measure(name, sample)
        except EncoderUnavailable as exc:
            why[name] = exc.reason
            continue
        save_measurement(m)
        done.append(m)
    if not done:
        raise ConfigError(
            "no encoder of the grid can load here: " + "; ".join(f"{k}: {v}" for k, v in why.items())
        )
    return done


def plan_grid(grid: Grid, db: str | Path | None = None) -> GridPlan:
    """Plan ``grid``: per encoder the cells stored in ``db`` (if given) and to compute, the unique texts to
    encode by kind (cached ones apart), the rank rows to add, and a speed (see :class:`EncoderPlan`).

    Guarantees: loads no model, encodes nothing, creates and writes no file; the counts are what
    :func:`core.pipeline.run.run_grid` would compute and encode now.

    Raises:
        UnknownNameError: unknown language or encoder.  DataError: missing or malformed data.
        StoreError: ``db`` missing, unreadable or of an unknown schema.
    """
    for name in grid.encoders:
        resolve_spec(name)  # unknown names fail before any data is read
    tasks = grid_tasks(grid)
    done, timings, stored_cells = (
        _stored(db) if db is not None else ({}, pd.DataFrame(columns=["fingerprint"]), None)
    )
    corpus_sha: dict[str, str] = {}
    data_fp: dict[tuple, str] = {}
    for t in tasks:
        corpus_sha.setdefault(t.corpus.corpus_id, corpus_digest(t))
        data_fp[(t.mode, t.lang)] = data_fingerprint(t, corpus_sha[t.corpus.corpus_id])
    noisy: dict[tuple, list[str]] = {}  # (lang, condition) -> noisy queries, shared by every encoder
    langs = sorted({t.lang for t in tasks})
    result = GridPlan(db=None if db is None else str(db))
    for t in tasks:
        n_langs = result.corpora.get(t.corpus.corpus_id, (0, 0))[1]
        result.corpora[t.corpus.corpus_id] = (t.n_docs, n_langs + 1)
    if stored_cells is not None:
        other = query_set_changes(stored_cells, tasks, [data_fp[(t.mode, t.lang)] for t in tasks])
        result.other_query_set, result.other_langs = len(other), tuple(sorted(set(other["lang"])))
        result.other_outside = sum(outside_grid(other, grid))
    for name in grid.encoders:
        ep = EncoderPlan(name)
        result.encoders.append(ep)
        ep.cells_total = sum(1 for t in tasks for _ in grid.conditions)
        try:
            q_fp, d_fp = side_fingerprints_of(name)
            ep.fingerprint = encoder_fingerprint(name)
        except EncoderUnavailable as exc:
            # A run here skips this encoder too: nothing of it is counted as to compute.
            ep.unavailable = exc.reason
            continue
        texts: dict[str, dict[str, str]] = {}  # cache fingerprint -> text -> kind (first seen)
        for lang in langs:
            for cond in grid.conditions:
                todo = []
                for t in tasks:
                    if t.lang != lang:
                        continue
                    stored = done.get((t.dataset, t.mode, t.corpus.corpus_id, lang, name, *cond))
                    want = (ep.fingerprint, len(t.queries), data_fp[(t.mode, t.lang)])
                    if (
                        stored is not None
                        and tuple(stored[:3]) == want
                        and (cond[0] == CLEAN_NOISE or stored[3] == NOISE_VERSION)
                    ):
                        ep.cells_stored += 1
                        continue
                    if stored is not None and stored[0] != ep.fingerprint:
                        ep.other_model += 1
                    todo.append(t)
                if not todo:
                    continue
                ep.cells_todo += len(todo)
                ep.rank_rows += sum(len(t.queries) for t in todo)
                for t in todo:
                    for doc in t.corpus.documents:
                        texts.setdefault(d_fp, {}).setdefault(doc, "documents")
                if cond[0] == CLEAN_NOISE:
                    kind, queries = "clean", list(todo[0].queries)
                else:
                    kind, key = "noisy", (todo[0].dataset, lang, *cond, len(todo[0].queries))
                    if key not in noisy:
                        res = apply_noise_batch(list(todo[0].queries), cond[0], cond[1], seed=cond[2],
                                                qids=todo[0].qids.tolist(),
                                                langs=noise_language(lang))  # fmt: skip
                        noisy[key] = res.noisy
                    queries = noisy[key]
                side = texts.setdefault(q_fp, {})
                for q in queries:
                    side.setdefault(q, kind)
        for fp, by_text in texts.items():
            for kind in by_text.values():
                setattr(ep, kind, getattr(ep, kind) + 1)
            ep.cached += len(cached_texts(fp, list(by_text)))
        measured = lookup(ep.fingerprint)
        if measured is not None:
            ep.speed = Speed(
                measured.texts_per_s,
                measured.load_s,
                f"measured on {measured.host} at {measured.measured_at} ({measured.n_texts} texts)",
            )
        elif db is not None:
            ep.speed = speed_from_cells(timings, ep.fingerprint, db)
    return result


def host() -> str:
    """This machine's name, as measurements are keyed."""
    return platform.node()


def _h(hours: float | None) -> str:
    if hours is None:
        return "?"
    return f"{hours:.2f} h" if hours >= 0.01 or hours == 0 else f"{hours * 3600:.0f} s"


def format_plan(plan: GridPlan, workers: int = 1, grid_name: str = "grid") -> str:
    """The plan as the CLI prints it: a totals line, one line per encoder, each estimate's speed source,
    and what to do where a speed is missing."""
    where = f" in {plan.db}" if plan.db else ""
    lines = [
        f"{grid_name}: {plan.cells_total} cells, {plan.cells_stored} already stored{where}, "
        f"{plan.cells_todo} to compute; {plan.rank_rows:,} rank rows to add",
        f"{'encoder':14s} {'todo':>6s} {'docs':>7s} {'clean':>7s} {'noisy':>7s} {'cached':>7s} "
        f"{'encode':>7s} {'texts/s':>8s} {'hours':>8s} {f'on {workers}':>8s}",
    ]
    notes = []
    for e in plan.encoders:
        if e.unavailable:
            lines.append(
                f"{e.name:14s} unavailable here ({e.unavailable}); a run skips its {e.cells_total} cells"
            )
            continue
        rate = f"{e.speed.texts_per_s:.0f}" if e.speed else "?"
        lines.append(
            f"{e.name:14s} {e.cells_todo:6d} {e.documents:7d} {e.clean:7d} {e.noisy:7d} {e.cached:7d} "
            f"{e.to_encode:7d} {rate:>8s} {_h(e.hours(1)):>8s} {_h(e.hours(workers)):>8s}"
        )
        if e.other_model:
            notes.append(f"{e.name}: {e.other_model} stored cells are another model's under this name "
                         "(a run refuses them unless --replace-changed)")  # fmt: skip
        if e.speed and e.cells_todo:
            notes.append(f"{e.name}: speed {e.speed.source}")
    lines.append(
        f"{'total':14s} {plan.cells_todo:6d} {'':7s} {'':7s} {'':7s} {'':7s} "
        f"{sum(e.to_encode for e in plan.encoders):7d} {'':8s} {_h(plan.hours(1)):>8s} "
        f"{_h(plan.hours(workers)):>8s}"
    )
    lines += notes
    shared = {c: v for c, v in plan.corpora.items() if v[1] > 1}
    if shared:
        lines.append(
            "documents: "
            + "; ".join(f"{c} ({d:,} documents) shared by {n} languages" for c, (d, n) in shared.items())
            + ": each encoded once per encoder ('docs' counts unique texts)"
        )
    if plan.other_query_set:
        lines.append(
            f"{plan.other_query_set} stored cells of {', '.join(plan.other_langs)} are over another query set "
            "than this grid's: a run refuses them (a curve must never mix query sets) unless --replace-changed, "
            f"which recomputes them ({plan.other_outside} outside this grid, not counted above)"
        )
    lines.append(
        f"hours: load + encode at the speed shown, x{PIPELINE_OVERHEAD} for noise, ranking and writes; on N "
        "workers each loads the model and encodes 1/N of the texts"
    )
    missing = plan.missing_speed()
    if missing:
        lines.append(
            f"no speed known on {host()} for {', '.join(missing)}: measure it with `python -m precompute plan "
            "--grid GRID --measure`, or pass --db with a database holding its cells"
        )
    return "\n".join(lines)
