"""The study report: tables, paired comparisons, decision table, verdicts and figures from results/.

Imports numpy/pandas/scipy/matplotlib/pyarrow only — never a model stack. Entry points:
`orchestrator.report.build.build_report` and the `orch report` command in `cli.py`.
"""
