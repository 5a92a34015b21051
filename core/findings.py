"""The research answer, stored: the precompute computes it once per database state, the dashboard reads it.

Computing the answer (:func:`core.research.research_answer`: bootstrap intervals and paired randomization
tests) takes seconds to minutes on a full grid; the Findings page must paint in about a second. So the
precompute stores the answer of each (dataset, mode, corpus) in the ``findings`` table, with

* ``ranks_key``: a fingerprint of the cells the answer was computed from (:func:`ranks_key`). A cell and its
  rank rows are written, replaced and deleted together, so a key that no longer matches the cells means the
  ranks changed;
* ``code_version``: a fingerprint of the code that computed it (:func:`code_version`);
* ``params_json``: the parameters (references, noise types, levels, resamples, floor, seed).

:func:`stored_findings` returns a stored answer only when all three still match and the payload decodes;
anything else is None, so a stale answer is never shown as current: the caller computes a fresh one.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.research import (
    DASHBOARD_REFERENCES,
    Answer,
    Breakdown,
    Scope,
    answer_scope,
    language_breakdown,
    language_meta,
    research_answer,
    resource_groups,
)
from core.store import connect
from core.store import queries as q
from core.store import writes as w
from core.store._exec import transaction

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)
SEED = 0  # the answer reads seed-0 cells (see core.research)
# 2: training-seed families (robustness seeds, members; tests seeds, reference_seeds). 3: the answer's scope
# (dataset, languages seen in training; on multi-way data the answer is over the unseen ones) and, on multi-way
# data, the per-language breakdown (drops, rank correlations, language metadata).
PAYLOAD_FORMAT = 3
RANK_COLUMNS = ("corpus", "encoder", "lang", "noise", "level", "qid", "rank")
Groups = dict[str, list[str]]
Target = tuple[str, str, str | None]  # (dataset, mode, corpus or None for every corpus of the mode)


def findings_params(references: Sequence[str] = DASHBOARD_REFERENCES) -> dict:
    """The parameters of a stored answer: ``research_answer``'s own defaults with these ``references``.

    Part of the stored row's key, so an answer computed with other parameters is never returned for these.
    """
    defaults = {name: p.default for name, p in inspect.signature(research_answer).parameters.items()
                if p.default is not inspect.Parameter.empty and name != "encoders"}  # fmt: skip
    return {**defaults, "references": list(references), "noises": list(defaults["noises"]),
            "levels": list(defaults["levels"])}  # fmt: skip


def _params_json(references: Sequence[str]) -> str:
    return json.dumps(findings_params(references), sort_keys=True)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Fingerprint of the code whose output is stored: the source of ``core/research.py``, this module and
    ``core/metrics/``, plus the numpy and pandas versions (the bootstrap draws come from numpy).

    Any change to them (a reformat included) makes stored answers stale: they are recomputed once, which is
    cheaper than a wrong number that looks current.
    """
    core = Path(__file__).resolve().parent
    h = hashlib.sha256(f"numpy {np.__version__} pandas {pd.__version__} format {PAYLOAD_FORMAT}".encode())
    for path in [core / "research.py", core / "findings.py", *sorted((core / "metrics").glob("*.py"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _cells_state(
    conn: duckdb.DuckDBPyConnection, dataset: str, mode: str, corpus: str | None
) -> tuple[str, list, list]:
    """(ranks key, sorted languages, sorted encoders) of the cells one answer reads."""
    cells = q.answer_cells(conn, dataset, mode, corpus, seed=SEED)
    h = hashlib.sha256(json.dumps([dataset, mode, corpus, list(cells.columns)]).encode())
    # One 64-bit hash per cell over every column (timestamps to the microsecond), in key order: any added,
    # removed or replaced cell changes the key. pandas' row hash is fixed for a pandas version, which
    # code_version() covers.
    h.update(pd.util.hash_pandas_object(cells, index=False).to_numpy().tobytes())
    return h.hexdigest()[:32], sorted(cells["lang"].unique()), sorted(cells["encoder"].unique())


def ranks_key(conn: duckdb.DuckDBPyConnection, dataset: str, mode: str, corpus: str | None = None) -> str:
    """Fingerprint of the rank rows an answer of (dataset, mode, corpus) reads, from their cells alone.

    sha256 over every seed-0 cell of the dataset and mode (of ``corpus``, or every corpus when None): its key,
    encoder and data fingerprints, noise version, query count, completion time and run. A cell and its rank
    rows are written in one transaction and replaced or deleted together, so the key changes whenever the
    rank rows do; it reads the small ``cells`` table only (milliseconds).
    """
    return _cells_state(conn, dataset, mode, corpus)[0]


# --- Payload: an Answer as JSON, floats exactly ----------------------------------------------------------


def _enc_float(x: float) -> float | str:
    # JSON has no NaN or infinity: those become strings; every finite float is written by repr, which
    # Python reads back to the same bits.
    return float(x) if math.isfinite(x) else repr(float(x))  # 'nan', 'inf', '-inf'


def _enc_object(x):
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return {"float": _enc_float(float(x))}
    raise TypeError(f"cannot store a value of type {type(x).__name__} in a findings payload: {x!r}")


def _dec_object(x):
    return float(x["float"]) if isinstance(x, dict) else x


def _frame_to_json(df: pd.DataFrame) -> dict:
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        raise ValueError("only a frame with a default RangeIndex can be stored (the index is not kept)")
    cols = []
    for name in df.columns:
        s, kind = df[name], df[name].dtype.kind
        if kind == "f":
            values = [_enc_float(v) for v in s.tolist()]
        elif kind in "iub":
            values = s.tolist()
        elif kind == "O":  # object and string columns
            values = [_enc_object(v) for v in s.tolist()]
        else:
            raise TypeError(f"cannot store column {name!r} of dtype {s.dtype} in a findings payload")
        cols.append({"name": name, "kind": kind, "dtype": str(s.dtype), "values": values})
    return {"n": len(df), "columns": cols}


def _frame_from_json(d: dict) -> pd.DataFrame:
    data = {}
    for c in d["columns"]:
        values = c["values"]
        if c["kind"] == "f":
            values = [float(v) for v in values]
        elif c["kind"] == "O":
            values = [_dec_object(v) for v in values]
        data[c["name"]] = pd.Series(values, dtype=c["dtype"])
    return pd.DataFrame(data, index=pd.RangeIndex(d["n"]))


def answer_to_json(answer: Answer, groups: Groups) -> str:
    """The answer and its groups as standard JSON (no NaN tokens).

    Guarantees: :func:`answer_from_json` gives frames equal to the originals value for value (floats to the
    bit, NaN and +-inf included), with the same columns, order and dtypes; conditions, noises, groups, the
    scope and the breakdown (its frames and language metadata) likewise.

    Raises:
        TypeError: a column of a dtype other than float, int, bool or object (str, None, numbers).
        ValueError: a frame whose index is not a default RangeIndex.

    Example:
        >>> a = Answer(pd.DataFrame({"x": [0.1, float("nan"), float("inf")]}), pd.DataFrame(), [("mean", 0.2)])
        >>> b, g = answer_from_json(answer_to_json(a, {"low": ["amh"]}))
        >>> b.robustness["x"].tolist()[::2], b.conditions, g
        ([0.1, inf], [('mean', 0.2)], {'low': ['amh']})
    """
    payload = {
        "format": PAYLOAD_FORMAT,
        "robustness": _frame_to_json(answer.robustness),
        "tests": _frame_to_json(answer.tests),
        "conditions": [[n, _enc_float(lv)] for n, lv in answer.conditions],
        "noises": list(answer.noises),
        "groups": {g: list(langs) for g, langs in groups.items()},
        "scope": answer.scope.to_dict() if answer.scope is not None else None,
        "breakdown": None if answer.breakdown is None else {
            "drops": _frame_to_json(answer.breakdown.drops),
            "correlations": _frame_to_json(answer.breakdown.correlations),
            "meta": {lang: [script, _enc_object(k)] for lang, (script, k) in answer.breakdown.meta.items()},
        },
    }  # fmt: skip
    return json.dumps(payload, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def answer_from_json(text: str) -> tuple[Answer, Groups]:
    """Inverse of :func:`answer_to_json`.

    Raises:
        ValueError: not a payload of this format (malformed JSON, another format, missing fields).
    """
    try:
        d = json.loads(text)
        if d.get("format") != PAYLOAD_FORMAT:
            raise ValueError(f"findings payload format {d.get('format')!r}, expected {PAYLOAD_FORMAT}")
        b, breakdown = d["breakdown"], None
        if b is not None:
            meta = {lang: (script, _dec_object(k)) for lang, (script, k) in b["meta"].items()}
            breakdown = Breakdown(_frame_from_json(b["drops"]), _frame_from_json(b["correlations"]), meta)
        answer = Answer(
            _frame_from_json(d["robustness"]),
            _frame_from_json(d["tests"]),
            [(n, float(lv)) for n, lv in d["conditions"]],
            tuple(d["noises"]),
            None if d["scope"] is None else Scope.from_dict(d["scope"]),
            breakdown,
        )  # fmt: skip
        return answer, {g: list(langs) for g, langs in d["groups"].items()}
    except (KeyError, TypeError, AttributeError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a findings payload: {exc.__class__.__name__}: {exc}") from exc


# --- Compute, store, read ----------------------------------------------------------------------------------


def findings_answer(
    rows: pd.DataFrame,
    references: Sequence[str] = DASHBOARD_REFERENCES,
    *,
    dataset: str | None = None,
    seen: pd.DataFrame | None = None,
) -> tuple[Answer, Groups]:
    """The answer the dashboard shows and the precompute stores, from rank rows (:data:`RANK_COLUMNS`, one
    dataset, mode and seed 0): :func:`core.research.research_answer` with :func:`findings_params`, over the
    resource groups of the rows' languages. The one definition both use, so stored and fresh answers agree.

    With ``dataset`` (the stored dataset name) the answer has its :class:`core.research.Scope`, from ``seen``
    (``core.store.queries.answer_seen``: which model trained on which language; None: unknown), and its
    sentences name the dataset. On multi-way parallel data (:func:`core.research.is_multiway`) the groups
    cover only the languages no compared model trained on when any remain (:attr:`Scope.answered`), and the
    answer has the per-language :class:`core.research.Breakdown` of every language
    (:func:`core.research.language_breakdown`, with the same noise types, floor, resamples and seed).
    """
    p = findings_params(references)
    langs = sorted(rows["lang"].unique())
    scope = None if dataset is None else answer_scope(dataset, langs, seen, rows["encoder"].unique())
    groups = resource_groups(list(scope.answered) if scope is not None else langs)
    answer = research_answer(rows, groups, references=p["references"], noises=p["noises"], levels=p["levels"],
                             n_boot=p["n_boot"], n_perm=p["n_perm"], floor=p["floor"], seed=p["seed"])  # fmt: skip
    breakdown = None
    if scope is not None and scope.multiway:
        breakdown = language_breakdown(rows, scope, noises=p["noises"], floor=p["floor"], n_boot=p["n_boot"],
                                       seed=p["seed"])  # fmt: skip
    return replace(answer, scope=scope, breakdown=breakdown), groups


def compute_and_store_findings(
    db: str | Path,
    dataset: str,
    mode: str,
    corpus: str | None = None,
    *,
    references: Sequence[str] = DASHBOARD_REFERENCES,
) -> tuple[Answer, Groups]:
    """Compute the answer of (dataset, mode, corpus) from ``db``'s seed-0 ranks and store it there.

    The rows and their :func:`ranks_key` are read in one transaction (one snapshot), then the connection is
    closed while the answer is computed, so the dashboard is never locked out for the computation; the answer
    is then written in one transaction. If cells change in between, the stored key is the old one and
    readers treat the answer as stale (never as current).

    Returns:
        The answer and its groups, as :func:`stored_findings` will return them.

    Raises:
        StoreError: unreadable, locked or damaged database.
    """
    t0 = time.monotonic()
    with connect(db) as conn, transaction(conn):
        key = ranks_key(conn, dataset, mode, corpus)
        filters = {"dataset": dataset, "mode": mode, "seed": SEED, "corpus": corpus}
        rows = q.rank_rows(conn, columns=RANK_COLUMNS, **filters)
        seen = q.answer_seen(conn, dataset, mode, corpus, seed=SEED)
    answer, groups = findings_answer(rows, references, dataset=dataset, seen=seen)
    payload = answer_to_json(answer, groups)
    with connect(db) as conn:
        w.write_findings(conn, {
            "dataset": dataset, "mode": mode, "corpus": corpus or "", "params_json": _params_json(references),
            "ranks_key": key, "code_version": code_version(), "seconds": time.monotonic() - t0,
            "payload_json": payload,
        })  # fmt: skip
    return answer, groups


def stored_findings(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    mode: str,
    corpus: str | None = None,
    *,
    references: Sequence[str] = DASHBOARD_REFERENCES,
) -> tuple[Answer, Groups] | None:
    """The stored answer of (dataset, mode, corpus) when it is current; None otherwise.

    Current means: stored with these parameters, by this code (:func:`code_version`), from exactly the cells
    the database holds now (:func:`ranks_key`), for the languages each model trained on as the database
    records them now (:func:`core.research.answer_scope`), for the resource groups, scripts and classes its
    languages have now, and readable (a payload of another format is not).
    None when the ``findings`` table does not exist (a database from before schema v4, opened read-only),
    when nothing is stored, or when any of these differs: never an error for a stale or damaged payload.
    Reads the ``cells`` and ``encoder_languages`` tables and one row: milliseconds (a FLORES-sized database's
    answer with its per-language breakdown: about 0.1 s, ``benchmarks/dashboard_queries.py``).
    """
    stored = q.stored_findings(conn, dataset, mode, corpus or "", _params_json(references))
    if stored.empty:
        return None
    row = stored.iloc[0]
    if row["code_version"] != code_version():
        return None
    key, langs, encoders = _cells_state(conn, dataset, mode, corpus)
    if row["ranks_key"] != key:
        return None
    try:
        answer, groups = answer_from_json(row["payload_json"])
    except ValueError as exc:
        log.warning("stored findings of %s/%s/%s unreadable: %s", dataset, mode, corpus, exc)
        return None
    scope = answer_scope(dataset, langs, q.answer_seen(conn, dataset, mode, corpus, seed=SEED), encoders)
    if answer.scope != scope:  # another model's training languages, or a dataset now known as multi-way
        return None
    if groups != resource_groups(list(scope.answered)):  # languages.csv reclassified a language since
        return None
    if answer.breakdown is not None and dict(answer.breakdown.meta) != language_meta(langs):
        return None
    return answer, groups


def findings_targets(conn: duckdb.DuckDBPyConnection, datasets: Sequence[str] | None = None,
                     modes: Sequence[str] | None = None) -> list[Target]:  # fmt: skip
    """The (dataset, mode, corpus) answers the dashboard asks for: each mode over every corpus (corpus
    None), and each corpus alone when a pooled mode holds several (the Findings page's "Pooled language set"
    choice). Restricted to ``datasets`` / ``modes`` when given."""
    t = q.answer_targets(conn, seed=SEED)
    if datasets is not None:
        t = t[t["dataset"].isin(list(datasets))]
    if modes is not None:
        t = t[t["mode"].isin(list(modes))]
    out: list[Target] = []
    for (dataset, mode), part in t.groupby(["dataset", "mode"], sort=True):
        out.append((dataset, mode, None))
        if mode == "pooled" and len(part) > 1:
            out += [(dataset, mode, c) for c in sorted(part["corpus"])]
    return out


def refresh_findings(
    db: str | Path,
    *,
    datasets: Sequence[str] | None = None,
    modes: Sequence[str] | None = None,
    force: bool = False,
    say: Callable[[str], None] = print,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Bring the stored answers of ``db`` up to date (every target of :func:`findings_targets`); returns the
    number computed.

    An answer that is current already is kept (unless ``force``), so a precompute that added nothing costs
    milliseconds. ``say`` gets one line per target (computed in how long, or current); ``on_progress(done,
    total)`` is called after each.

    Raises:
        StoreError: unreadable, locked or damaged database.
    """
    with connect(db) as conn:
        targets = findings_targets(conn, datasets, modes)
        todo = [t for t in targets if force or stored_findings(conn, *t) is None]
    for t in targets:
        if t not in todo:
            say(f"findings {_name(t)}: current, kept")
    for i, t in enumerate(todo, start=1):
        t0 = time.monotonic()
        answer, groups = compute_and_store_findings(db, *t)
        encs = answer.robustness["encoder"].nunique() if len(answer.robustness) else 0
        say(f"findings {_name(t)}: {encs} encoders, {len(answer.tests)} tests, computed and stored in "
            f"{time.monotonic() - t0:.1f}s ({i}/{len(todo)})")  # fmt: skip
        if on_progress:
            on_progress(i, len(todo))
    return len(todo)


def _name(t: Target) -> str:
    return "/".join(x for x in t if x)
