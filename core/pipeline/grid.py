"""The experiment grid: dataset x modes x languages x encoders x noise types x levels x seeds."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.conditions import CLEAN, CLEAN_NOISE
from core.datasets import (
    LOADERS,
    RetrievalTask,
    available_languages,
    check_dataset_options,
    dataset_label,
    load_tasks,
)
from core.errors import ConfigError, UnknownNameError
from core.names import encoder_name
from core.store.schema import CELL_KEY

_DATASET_KEYS = {"name", "path", "mode", "languages", "max_queries", "split"}
_GRID_KEYS = {"encoders", "noise", "levels", "seeds", "top_k"}
#: The columns of :meth:`Grid.cells`: a cell's key with the corpus folded in (the data decides the corpora).
CELL_COLUMNS = tuple(c for c in CELL_KEY if c != "corpus")
#: ``languages = "all"``: every language of the dataset's folder (resolved when the grid is read).
ALL_LANGUAGES = "all"
MAX_SEED = 2**31  # seeds are stored as INTEGER (32-bit signed): refuse larger ones before computing anything


@dataclass(frozen=True)
class Grid:
    """A validated grid. ``levels`` always contains 0.0 (the clean condition)."""

    languages: tuple[str, ...]
    encoders: tuple[str, ...]
    noise: tuple[str, ...]
    levels: tuple[float, ...]
    seeds: tuple[int, ...] = (0,)
    modes: tuple[str, ...] = ("pair",)
    dataset: str = "tatoeba"
    path: str | None = None
    top_k: int = 5
    max_queries: int | None = None
    split: str | None = None
    source: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        """The dataset name its cells are stored under (``flores200-test`` for one split of FLORES-200)."""
        return dataset_label(self.dataset, self.split)

    def to_dict(self) -> dict:
        """JSON-able description, stored with every run."""
        d = asdict(self)
        d.pop("source")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        """The grid described by :meth:`to_dict` (e.g. a run's stored ``grid_json``); absent keys default."""
        names = {f.name for f in fields(cls)} - {"source"}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})

    @property
    def noisy_conditions(self) -> list[tuple[str, float, int]]:
        """Every (noise, level, seed) with level > 0, in grid order."""
        return [(n, lv, s) for n in self.noise for lv in self.levels if lv > 0 for s in self.seeds]

    @property
    def conditions(self) -> list[tuple[str, float, int]]:
        """The clean condition (:data:`core.conditions.CLEAN`), then :attr:`noisy_conditions`."""
        return [CLEAN, *self.noisy_conditions]

    def cells(self) -> list[tuple]:
        """Every cell the grid asks for, as :data:`CELL_COLUMNS` tuples: mode x language x encoder x
        condition. The one definition of a grid's cells (runner, background job and Runs page use it)."""
        return [
            (self.label, mode, lang, enc, *cond)
            for mode in self.modes
            for lang in self.languages
            for enc in self.encoders
            for cond in self.conditions
        ]


def _str_list(value, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{what} must be a non-empty list of names, got {value!r}")
    return tuple(dict.fromkeys(value))


def _encoder_names(value, source: str) -> tuple[str, ...]:
    # One rule for every encoder name (core.names): NFKC, visible characters only, so that a grid never
    # stores cells under a look-alike of another encoder's name ("muse3" and "muse3\u200b").
    names = [encoder_name(n, f"{source}: grid.encoders entry") for n in _str_list(value, "grid.encoders")]
    return tuple(dict.fromkeys(names))


def parse_grid(text: str, source: str = "<grid>") -> Grid:
    """Parse and validate a grid TOML document (see ``precompute/grids/demo.toml``).

    Checks names that need no data or model (loader, modes, noise types, levels, seeds); encoder names are
    NFKC-normalised and refused if they hold invisible characters (:func:`core.names.encoder_name`), and
    checked against the registry, like languages against the data, when the grid runs. The one read of the
    data folder here is ``languages = "all"``, which lists its languages (:data:`ALL_LANGUAGES`).

    Raises:
        ConfigError: malformed TOML, missing or unknown keys, out-of-range values.
        UnknownNameError: unknown loader, mode or noise type.
    """
    from core.noise import list_noise_types

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from exc
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively: thousands of levels exhaust the stack.
        raise ConfigError(f"{source}: not a usable grid (arrays or tables nested too deeply)") from None
    ds, grid = doc.get("dataset"), doc.get("grid")
    if not isinstance(ds, dict) or not isinstance(grid, dict):
        raise ConfigError(f"{source}: needs a [dataset] and a [grid] table")
    unknown = (set(ds) - _DATASET_KEYS) | (set(grid) - _GRID_KEYS) | (set(doc) - {"dataset", "grid"})
    if unknown:
        raise ConfigError(f"{source}: unknown keys {sorted(unknown)}")
    name = ds.get("name", "tatoeba")
    if name not in LOADERS:
        raise UnknownNameError("dataset loader", name, LOADERS)
    modes = _str_list(ds.get("mode", "pair"), "dataset.mode")
    split = ds.get("split")
    if split is not None and not isinstance(split, str):
        raise ConfigError(f"{source}: dataset.split must be a string, got {split!r}")
    check_dataset_options(name, modes, split)
    noise = _str_list(grid.get("noise", []), "grid.noise")
    valid_noise = [n for n in list_noise_types() if n != CLEAN_NOISE]  # clean is always in the grid
    for n in noise:
        if n not in valid_noise:
            raise UnknownNameError("noise type", n, valid_noise)
    levels = grid.get("levels", [0.0])
    if not isinstance(levels, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= 1 for x in levels
    ):
        raise ConfigError(f"{source}: grid.levels must be numbers in [0, 1], got {levels!r}")
    seeds = grid.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < MAX_SEED for s in seeds)
    ):
        raise ConfigError(
            f"{source}: grid.seeds must be a non-empty list of integers in [0, 2**31), got {seeds!r}"
        )
    top_k = grid.get("top_k", 5)
    if not isinstance(top_k, int) or not 1 <= top_k <= 100:
        raise ConfigError(f"{source}: grid.top_k must be an integer in 1..100")
    max_q = ds.get("max_queries")
    if max_q is not None and (not isinstance(max_q, int) or isinstance(max_q, bool) or max_q < 1):
        raise ConfigError(f"{source}: dataset.max_queries must be a positive integer")
    path = ds.get("path")
    if path is not None and not isinstance(path, str):
        raise ConfigError(f"{source}: dataset.path must be a string")
    languages = ds.get("languages")
    if languages == ALL_LANGUAGES:
        # Every language the loader finds in the data folder, read now: the stored grid lists them.
        languages = available_languages(name, path, split)
    return Grid(
        languages=_str_list(languages, "dataset.languages"),
        encoders=_encoder_names(grid.get("encoders"), source),
        noise=noise,
        levels=tuple(sorted({0.0, *map(float, levels)})),
        seeds=tuple(dict.fromkeys(seeds)),
        modes=modes,
        dataset=name,
        path=path,
        top_k=top_k,
        max_queries=max_q,
        split=split,
        source=source,
    )


def grid_tasks(grid: Grid) -> list[RetrievalTask]:
    """The grid's tasks, as the runner and the plan build them (every mode, in order; the one English side
    of a multi-way set read once and shared).

    Raises:
        UnknownNameError: unknown language.  DataError: missing or malformed data.
    """
    return load_tasks(
        grid.dataset, grid.languages, grid.modes, grid.path, max_queries=grid.max_queries, split=grid.split
    )


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid file. Raises ConfigError if it cannot be read (see :func:`parse_grid`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read grid file {str(path)!r}: {exc}") from exc
    return parse_grid(text, str(path))
