"""The study report: tables, paired comparisons, decision table, verdicts and figures from results/.

Imports numpy/pandas/scipy/matplotlib/pyarrow only — never a model stack."""

from orchestrator.report.build import build_report
from orchestrator.report.compare import ReportOptions

__all__ = ["ReportOptions", "build_report"]
