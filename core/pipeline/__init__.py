"""Grid definition and the run that fills the results database (:func:`run_grid`, :mod:`core.pipeline.run`)."""

from core.pipeline.grid import CELL_COLUMNS, Grid, load_grid, parse_grid
from core.pipeline.run import run_grid
from core.pipeline.sink import RunReport

__all__ = ["CELL_COLUMNS", "Grid", "RunReport", "load_grid", "parse_grid", "run_grid"]
