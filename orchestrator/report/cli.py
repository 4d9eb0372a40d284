"""`orch report`. Statistics and plotting libraries load only when the command runs, so that
every other `orch` command starts fast."""

from pathlib import Path

import click

from orchestrator import paths
from orchestrator.report.defaults import DEFAULT_BLOCK_LENGTH, DEFAULT_MIN_SEEDS, DEFAULT_RESAMPLES


@click.command("report")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of result folders (default: results/, or $ORCH_RESULTS_DIR).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where report.md, report.html and figures/ go (default: the results folder).",
)
@click.option(
    "--bootstrap",
    "n_resamples",
    type=click.IntRange(min=100),
    default=DEFAULT_RESAMPLES,
    show_default=True,
    help="Block-bootstrap resamples per interval.",
)
@click.option(
    "--block-length",
    type=click.IntRange(min=1),
    default=DEFAULT_BLOCK_LENGTH,
    help="Bootstrap block length in trading days (covers overlapping labels and volatility clustering); "
    "default: chosen from the data per fold and comparison (Politis-White).",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Bootstrap random seed.")
@click.option(
    "--min-seeds",
    type=click.IntRange(min=1),
    default=DEFAULT_MIN_SEEDS,
    show_default=True,
    help="Seeds a trained model needs before its result may enter a verdict.",
)
@click.option(
    "--dataset",
    default=None,
    help="Dataset (name or sha256 prefix) to report on when the results folder holds several.",
)
@click.option(
    "--allow-pretraining-overlap",
    is_flag=True,
    help="Let foundation results whose test period starts before the model's pre-training cut-off count in "
    "verdicts (each such verdict names this flag); default: those verdicts read 'not answerable (test period "
    "inside pre-training)'.",
)
def report_command(
    *,
    results_dir: Path,
    out_dir: Path | None,
    n_resamples: int,
    block_length: int | None,
    seed: int,
    min_seeds: int,
    dataset: str | None,
    allow_pretraining_overlap: bool,
) -> None:
    """Build the statistical report from a results folder."""
    from orchestrator.console import err_console
    from orchestrator.report.build import build_report
    from orchestrator.report.compare import ReportOptions

    results_dir = results_dir or paths.results_dir()
    options = ReportOptions(
        n_resamples=n_resamples,
        block_length=block_length,
        seed=seed,
        min_seeds=min_seeds,
        allow_pretraining_overlap=allow_pretraining_overlap,
    )
    path = build_report(
        results_dir,
        out_dir or results_dir,
        options=options,
        notify=lambda line: click.echo(line, err=True),
        dataset=dataset,
        console=err_console,
    )
    click.echo(f"report written: {path} (and {path.with_suffix('.html').name}, figures/)")
