"""The model report: PSI, charts and one HTML page for a credit committee."""

from tradegraph.report.html import ReportData, from_evaluation_json, render_report
from tradegraph.report.psi import psi, psi_flag, psi_table

__all__ = ["ReportData", "from_evaluation_json", "psi", "psi_flag", "psi_table", "render_report"]
