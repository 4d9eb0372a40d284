"""`build_report`: results folder in, report.md + report.html + figures/*.png out, all written atomically."""

import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from orchestrator.errors import UserError
from orchestrator.fsutil import atomic_write_bytes, atomic_write_text, describe_os_error
from orchestrator.report.compare import ReportOptions, analyse
from orchestrator.report.document import to_html, to_markdown
from orchestrator.report.figures import horizon_figures
from orchestrator.report.load import load_results
from orchestrator.report.plan import HORIZONS, PLAN
from orchestrator.report.sections import FIGURES_DIR, compose
from orchestrator.report.verdicts import evaluate_plan
from orchestrator.step_bar import step_bar

REPORT_MARKDOWN = "report.md"
REPORT_HTML = "report.html"


def build_report(
    results_dir: Path,
    out_dir: Path,
    *,
    options: ReportOptions | None = None,
    notify: Callable[[str], None] = lambda line: None,
    dataset: str | None = None,
    console: Console | None = None,
) -> Path:
    """Write the report and return the path of report.md. `notify` hears one line per skipped folder.

    Raises UserError when there is nothing valid to report on, or when the results come from several
    datasets and `dataset` (name or sha256 prefix) does not pick one: a report never mixes datasets.
    On a terminal `console` (default: stderr) shows a progress bar over the bootstraps."""
    options = options or ReportOptions()
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    if not results_dir.is_dir():
        raise UserError(f"results directory {results_dir} does not exist")
    # The report may live inside the results folder (the default), now or from an earlier run: its
    # folders are not results (a result folder's name always ends in -s<seed>-<key>, never 'figures').
    loaded = load_results(
        results_dir,
        ignore=frozenset({out_dir, out_dir / FIGURES_DIR, results_dir / FIGURES_DIR}),
        min_seeds=options.min_seeds,
        dataset=dataset,
    )
    for skipped in loaded.skipped:
        notify(f"skipped {skipped.folder}: {skipped.reason}")
    if not loaded.experiments:
        raise UserError(f"no valid results in {results_dir} ({len(loaded.skipped)} invalid folder(s) skipped)")
    check_block_length(options, loaded.experiments)
    check_writable(out_dir)
    horizons = set(HORIZONS) | {e.horizon for e in loaded.experiments}
    with step_bar(console or Console(stderr=True), len(horizons) + len(PLAN), "bootstrap") as advance:
        analyses = analyse(
            loaded.experiments, options, on_horizon=lambda h: advance(f"bootstrap: H{h} descriptive tables done")
        )
        outcomes = evaluate_plan(
            loaded.experiments, options, on_rule=lambda key: advance(f"bootstrap: rule {key} done")
        )
    figures = {analysis.horizon: horizon_figures(analysis) for analysis in analyses}
    blocks = compose(results_dir, loaded, analyses=analyses, outcomes=outcomes, figures=figures, options=options)
    try:
        for files in figures.values():
            for figure in files:
                atomic_write_bytes(out_dir / FIGURES_DIR / figure.name, figure.png)
        atomic_write_text(out_dir / REPORT_HTML, to_html(blocks))
        atomic_write_text(out_dir / REPORT_MARKDOWN, to_markdown(blocks))
    except OSError as exc:
        raise UserError(f"cannot write the report to {out_dir}: {describe_os_error(exc)}") from None
    return out_dir / REPORT_MARKDOWN


def check_block_length(options: ReportOptions, experiments) -> None:
    """A fixed --block-length must be shorter than every fold's test period: a block as long as the
    series resamples it whole, and every interval collapses to the point estimate."""
    if options.block_length is None:
        return
    shortest = min(len(run.split("test")) for experiment in experiments for run in experiment.runs)
    if options.block_length >= shortest:
        raise UserError(
            f"--block-length {options.block_length} is not shorter than the shortest test period "
            f"({shortest} days): each resample would be the whole series; choose fewer than {shortest} days"
        )


def check_writable(out_dir: Path) -> None:
    """Refuse a read-only or full report folder before the bootstraps run, in one line."""
    try:
        (out_dir / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".probe-"):
            pass
    except OSError as exc:
        raise UserError(f"cannot write the report to {out_dir}: {describe_os_error(exc)}") from None
