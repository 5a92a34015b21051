"""Grid definition and the runner that fills the results database."""

from core.pipeline.grid import CELL_COLUMNS, Grid, load_grid, parse_grid
from core.pipeline.runner import RunReport, run_grid

__all__ = ["CELL_COLUMNS", "Grid", "RunReport", "load_grid", "parse_grid", "run_grid"]
