"""Figures and the HTML report of an experiment (``spikewire report RESULTS_DIR``)."""

from spikewire.report.html import (
    in_grid_order,
    metric_columns,
    summary_table,
    swept_factors,
    write_report,
)

__all__ = ["in_grid_order", "metric_columns", "summary_table", "swept_factors", "write_report"]
