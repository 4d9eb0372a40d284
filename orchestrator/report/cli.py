"""`orch report`: the lead registers `report_command` on the `orch` group."""

from pathlib import Path

import click

from orchestrator.errors import UserError
from orchestrator.report.build import build_report
from orchestrator.report.compare import ReportOptions
from orchestrator.report.stats import DEFAULT_BLOCK_LENGTH, DEFAULT_RESAMPLES


@click.command("report")
@click.option("--results", "results_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("results"),
              show_default=True, help="Folder of result folders.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where report.md, report.html and figures/ go (default: the results folder).")
@click.option("--bootstrap", "n_resamples", type=click.IntRange(min=100), default=DEFAULT_RESAMPLES, show_default=True,
              help="Block-bootstrap resamples per interval.")
@click.option("--block-length", type=click.IntRange(min=1), default=DEFAULT_BLOCK_LENGTH, show_default=True,
              help="Bootstrap block length in trading days (covers overlapping labels and volatility clustering).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Bootstrap random seed.")
def report_command(results_dir: Path, out_dir: Path | None, n_resamples: int, block_length: int, seed: int) -> None:
    """Build the statistical report from a results folder."""
    options = ReportOptions(n_resamples=n_resamples, block_length=block_length, seed=seed)
    try:
        path = build_report(results_dir, out_dir or results_dir, options, notify=lambda line: click.echo(line, err=True))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report written: {path} (and {path.with_suffix('.html').name}, figures/)")
