"""`orch export`: every valid run (or every prediction) as one table file for pandas, R, a spreadsheet."""

from pathlib import Path

import click

from orchestrator import paths
from orchestrator.console import err_console, say
from orchestrator.report.defaults import DEFAULT_MIN_SEEDS  # stdlib only: pandas loads when the command runs


@click.command("export")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["parquet", "csv"]),
    default=None,
    help="File format [default: from --out's suffix, else parquet].",
)
@click.option(
    "--predictions",
    is_flag=True,
    help="Export the long table of every prediction (run keys, date, split, y_true, p) instead of one row per run.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=True),
    default=None,
    help="File to write [default: <results>/runs.<format>, or <results>/predictions.<format> with --predictions].",
)
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of result folders (default: results/ of the project, or $ORCH_RESULTS_DIR).",
)
@click.option(
    "--min-seeds",
    type=click.IntRange(min=1),
    default=DEFAULT_MIN_SEEDS,
    show_default=True,
    help="Seeds a trained model needs before it is unflagged (as in `orch report`).",
)
def export_command(
    *, file_format: str | None, predictions: bool, out: Path | None, results_dir: Path | None, min_seeds: int
) -> None:
    """Write every valid run as one tidy table: one row per run (seed x fold) with its id, model, flags
    (random-init, quick, ...), weights source, val/test metrics, timings, executor, run key and dataset."""
    from orchestrator.export import ExportRequest, export

    results_dir = results_dir or paths.results_dir()
    if file_format is None:
        file_format = out.suffix.lstrip(".") if out is not None and out.suffix in (".csv", ".parquet") else "parquet"
    out = out or results_dir / f"{'predictions' if predictions else 'runs'}.{file_format}"
    request = ExportRequest(
        results_dir=results_dir, out=out, file_format=file_format, predictions=predictions, min_seeds=min_seeds
    )
    frame, skipped = export(request, err_console)
    for folder in skipped:
        say(f"skipped {folder.folder.name}: {folder.reason}")
    what = "prediction rows" if predictions else "rows (one per run)"
    say(
        f"wrote {out}: {len(frame)} {what} from {frame['run_key'].nunique()} valid run(s)"
        + (f", {len(skipped)} invalid folder(s) skipped" if skipped else "")
    )
