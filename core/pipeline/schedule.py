"""What a run computes: the cells of a grid not stored yet, in groups, decided once before any model loads.

A *cell* is (dataset, mode, corpus, lang, encoder, noise, level, seed); a :class:`Group` is one encoder's
cells of one (language, condition), over the tasks (modes) that share that language's query set, which one
encoding pass serves. :func:`plan_run` builds the :class:`RunPlan` every backend computes. (The CLI's cost
estimate of a grid is :mod:`core.pipeline.plan`, which applies the same rules without running anything.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.conditions import CLEAN_NOISE
from core.datasets import RetrievalTask, is_multiway
from core.encoders import encoder_fingerprint
from core.errors import DataChangedError, EncoderUnavailable, UnknownNameError
from core.noise import NOISE_VERSION
from core.pipeline.grid import Grid


def cell_key(task: RetrievalTask, encoder: str, noise: str, level: float, seed: int) -> tuple:
    """The task's cell in :data:`core.store.CELL_KEY` order."""
    return task.dataset, task.mode, task.corpus.corpus_id, task.lang, encoder, noise, float(level), int(seed)


@dataclass(frozen=True)
class Group:
    """One unit of work: an encoder's cells of one (language, condition), over one or more tasks.

    ``tasks`` are indices into :attr:`RunPlan.tasks` (the same query set ranked against each mode's corpus),
    so a group is a few bytes to send to a worker that already holds the tasks.
    """

    encoder: str
    lang: str
    cond: tuple[str, float, int]
    tasks: tuple[int, ...]


@dataclass
class RunPlan:
    """What a run computes, decided once on the driver before any model loads (every backend uses it).

    ``groups`` maps every encoder that can be fingerprinted here to its groups with a cell to compute (an
    encoder whose cells are all stored maps to ``[]``); ``data_fp[i]`` is
    :func:`core.pipeline.inputs.data_fingerprint` of ``tasks[i]``.
    """

    grid: Grid
    tasks: list[RetrievalTask]
    data_fp: list[str]
    langs: list[str]
    groups: dict[str, list[Group]]
    fingerprints: dict[str, str]
    n_todo: int
    n_extra: int = 0  # of n_todo, cells outside the grid recomputed on its query set (--replace-changed)

    @property
    def multiway(self) -> bool:
        """Whether the grid's dataset is a multi-way parallel set (its codes are matched by ISO language)."""
        return is_multiway(self.grid.label)

    def corpora(self, groups: list[Group]) -> dict[str, int]:
        """Corpus id -> index of a task ranked against it, for every corpus ``groups`` rank against."""
        out: dict[str, int] = {}
        for g in groups:
            for i in g.tasks:
                out.setdefault(self.tasks[i].corpus.corpus_id, i)
        return out


def by_language(groups: list[Group]) -> dict[str, list[Group]]:
    """``groups`` by language, each language's in their order (the plan's)."""
    out: dict[str, list[Group]] = {}
    for g in groups:
        out.setdefault(g.lang, []).append(g)
    return out


def _extra_groups(
    extra: pd.DataFrame, tasks, say: Callable[[str], None]
) -> tuple[dict[str, list[Group]], dict[str, str], int]:
    """Groups recomputing ``extra`` (stored cells outside the grid,
    :func:`core.pipeline.inputs.check_query_sets`) on the grid's tasks, per encoder, with the encoders'
    fingerprints and the number of cells. An encoder that cannot even be fingerprinted here keeps its old
    cells (reads leave them out) and is said in one line."""
    groups: dict[str, list[Group]] = {}
    fingerprints: dict[str, str] = {}
    n = 0
    for name, part in extra.groupby("encoder", sort=False):
        try:
            fingerprints[name] = encoder_fingerprint(name)
        except (EncoderUnavailable, UnknownNameError) as exc:
            say(f"{len(part)} stored cells of encoder {name} keep their old query set ({exc}); reads leave "
                "them out")  # fmt: skip
            continue
        for (lang, noise, level, seed), cell in part.groupby(["lang", "noise", "level", "seed"], sort=True):
            cond = (noise, float(level), int(seed))
            groups.setdefault(name, []).append(
                Group(name, lang, cond, tuple(sorted(cell["task"].astype(int))))
            )
            n += len(cell)
    return groups, fingerprints, n


def plan_run(
    grid: Grid,
    tasks: list[RetrievalTask],
    data_fp: list[str],
    done: dict[tuple, tuple],
    skipped: dict[str, str],
    say: Callable[[str], None],
    replace_changed: bool,
    db_path,
    extra: pd.DataFrame | None = None,
) -> RunPlan:
    """Per encoder, the (lang, condition) groups with a cell to compute; refuse another model's cells.

    ``done`` maps each stored cell's key to the rest of its :func:`core.store.writes.completed_cells` row.
    Encoders that cannot even be fingerprinted here are added to ``skipped`` (name -> reason), said through
    ``say`` and left out. Says how many legacy cells (schema < v3) are recomputed. ``extra``
    (:func:`core.pipeline.inputs.check_query_sets`) are stored cells outside the grid to recompute on its
    query set: their groups follow the grid's.

    Raises:
        DataChangedError: stored cells of an encoder name were computed by another model (without
            ``replace_changed``).
    """
    groups: dict[str, list[Group]] = {}
    fingerprints: dict[str, str] = {}
    langs = sorted({t.lang for t in tasks})
    n_legacy = 0
    for name in grid.encoders:
        try:
            fp = encoder_fingerprint(name)
        except EncoderUnavailable as exc:
            skipped[name] = exc.reason
            say(str(exc))
            continue
        fingerprints[name] = fp
        other_model: dict[str, int] = {}
        mine = []
        for lang in langs:
            for cond in grid.conditions:
                todo = []
                for i, t in enumerate(tasks):
                    if t.lang != lang:
                        continue
                    stored = done.get(cell_key(t, name, *cond))
                    want = (fp, len(t.queries), data_fp[i])
                    if (
                        stored is not None
                        and stored[:3] == want
                        and (cond[0] == CLEAN_NOISE or stored[3] == NOISE_VERSION)
                    ):
                        continue
                    if stored is not None:
                        if stored[0] != fp:
                            other_model[stored[0]] = other_model.get(stored[0], 0) + 1
                        elif stored[2] is None or (isinstance(stored[2], float) and np.isnan(stored[2])):
                            n_legacy += 1
                        # else: another query set, refused or announced by check_query_sets already
                    todo.append(i)
                if todo:
                    mine.append(Group(name, lang, cond, tuple(todo)))
        if other_model:
            n = sum(other_model.values())
            olds = ", ".join(sorted(other_model))
            if not replace_changed:
                raise DataChangedError(
                    f"encoder {name} is another model now (fingerprint {fp}); {n} cells in {str(db_path)!r} were "
                    f"computed under the same name by fingerprint {olds}; use a new --db, rename the model, or "
                    "pass --replace-changed to replace them"
                )
            say(f"replacing {n} cells of encoder {name}: stored fingerprint {olds}, current {fp}")
        groups[name] = mine
    if n_legacy:
        say(f"recomputing {n_legacy} cells stored before data fingerprints (schema < v3), to never mix them")
    n_extra = 0
    if extra is not None and len(extra):
        more, fps, n_extra = _extra_groups(extra, tasks, say)
        for name, gs in more.items():
            groups.setdefault(name, []).extend(gs)
            fingerprints.setdefault(name, fps[name])
    n_todo = sum(len(g.tasks) for gs in groups.values() for g in gs)
    return RunPlan(grid, tasks, list(data_fp), langs, groups, fingerprints, n_todo, n_extra)
