"""Exports for slides and papers: chart images (PNG/SVG through the system Chromium) and tables (CSV, LaTeX).

No Streamlit here: pages call these functions and hand the bytes to a download button.
"""

from core.errors import ExportUnavailable
from dashboard.export.image import NEEDS_CHROMIUM, ChartRenderer, figure_image, warm_up
from dashboard.export.table import latex_escape, table_csv, table_latex

__all__ = [
    "NEEDS_CHROMIUM",
    "ChartRenderer",
    "ExportUnavailable",
    "figure_image",
    "latex_escape",
    "table_csv",
    "table_latex",
    "warm_up",
]
