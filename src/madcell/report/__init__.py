"""Comparison reports: metric tables with CIs and figures (UMAPs, per-gene decoding, spatial maps,
training curves) as Markdown or HTML."""

from madcell.report.build import build_report
from madcell.report.tables import fmt_ci, format_metric_table
from madcell.report.views import plot_view_grid

__all__ = ["build_report", "fmt_ci", "format_metric_table", "plot_view_grid"]
