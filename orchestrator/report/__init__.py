"""The study report: tables, paired comparisons, decision table, verdicts and figures from results/.

Verdicts come only from the pre-registered plan in `plan.py` (evaluated in `verdicts.py`); the
comparison tables in `compare.py` are descriptive; the statistics are in `stats.py`. What each
section of the report says is `sections.py`; the document it makes, and that document as Markdown
and HTML, is `document.py`. A report covers exactly one dataset.

Imports numpy/pandas/scipy/matplotlib/pyarrow only — never a model stack. Entry points:
`orchestrator.report.build.build_report` and the `orch report` command in `cli.py`.
"""
