"""`orch data build`: the dataset every job reads."""

import resource
import time
from pathlib import Path

import click

from orchestrator import paths
from orchestrator.console import say
from orchestrator.data.build import BuildRequest, build_dataset
from orchestrator.data.names import check_dataset_name, name_from_file
from orchestrator.data.sources import load_arch_sp500, load_yahoo_csv, synthetic_ohlcv
from orchestrator.data.splits import (
    BUNDLED_SPLITS,
    BUNDLED_WALK_FORWARD_FOLDS,
    USER_SPY_SPLITS,
    splits_with_test_start,
    test_years_from,
    walk_forward_folds,
)
from orchestrator.errors import DataError
from shared_schema import SourceInfo, SplitDates

MAX_HORIZON = 60  # days; the experiment spec's limit


def _parse_horizons(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise DataError(f"--horizons must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1 or max(values) > MAX_HORIZON:
        raise DataError(f"--horizons must be integers from 1 to {MAX_HORIZON}")
    return values


@click.group("data")
def data_group() -> None:
    """Build and inspect datasets."""


@data_group.command("build")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="a daily OHLCV CSV with Yahoo column names")
@click.option("--synthetic", is_flag=True, help="seeded synthetic OHLCV with volatility clustering (tests)")
@click.option("--name", help="dataset name (default: sp500, the CSV's stem, or synthetic)")
@click.option(
    "--rows", type=click.IntRange(min=10, max=20_000), default=2600, show_default=True, help="rows for --synthetic"
)
@click.option(
    "--seed", type=click.IntRange(min=0, max=2**32 - 1), default=0, show_default=True, help="seed for --synthetic"
)
@click.option("--train-end", type=click.DateTime(["%Y-%m-%d"]), help="first date of validation")
@click.option("--val-end", type=click.DateTime(["%Y-%m-%d"]), help="first date of test")
@click.option(
    "--test-start",
    type=click.DateTime(["%Y-%m-%d"]),
    help="test only on days from this date on (e.g. the day after the newest pre-training cut-off in `orch list`): "
    "single split: the first test day, validation as long as the default's unless --train-end; walk-forward: "
    "the test years are the calendar years wholly on or after it",
)
@click.option("--horizons", default="1,3", show_default=True, help="target horizons in days")
@click.option(
    "--threshold",
    type=click.FloatRange(min=0.0001, max=0.5),
    default=0.01,
    show_default=True,
    help="rise on HIGH over the close that counts as a hit",
)
@click.option(
    "--context-length",
    type=click.IntRange(min=1, max=4096),
    default=80,
    show_default=True,
    help="context the jobs will use (checked against the data length)",
)
@click.option(
    "--split",
    "split_scheme",
    type=click.Choice(["single", "walk-forward"]),
    default="single",
    show_default=True,
    help="single: train/val/test by --train-end/--val-end; walk-forward: the last K calendar years are "
    "test years, each validated on the year before and trained on everything earlier",
)
@click.option(
    "--folds",
    type=click.IntRange(min=2),
    default=None,
    help=f"walk-forward folds (implies --split walk-forward; bundled data default {BUNDLED_WALK_FORWARD_FOLDS})",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="output folder (default: data/)")
@click.option(
    "--repair-zero-volume",
    is_flag=True,
    help="give a zero-volume day the previous day's volume (recorded in the manifest) instead of refusing the CSV",
)
def build_dataset_command(
    *,
    csv_path,
    synthetic,
    name,
    rows,
    seed,
    train_end,
    val_end,
    test_start,
    horizons,
    threshold,
    context_length,
    split_scheme,
    folds,
    out_dir,
    repair_zero_volume,
):
    """Build <name>.parquet and <name>.manifest.json (features, targets, splits)."""
    if csv_path and synthetic:
        raise DataError("choose one source: --csv or --synthetic (default: bundled S&P 500)")
    if repair_zero_volume and not csv_path:
        raise DataError("--repair-zero-volume applies to --csv only")
    if name is not None:
        check_dataset_name(name, "--name")
    walk_forward = folds is not None or split_scheme == "walk-forward"
    if walk_forward and (train_end or val_end):
        raise DataError("--train-end/--val-end set a single split; walk-forward folds are set by --folds")
    if test_start and val_end:
        raise DataError("--test-start and --val-end both set the first test day: give one")
    started = time.perf_counter()
    if csv_path:
        default_name = name_from_file(csv_path) if name is None else name  # before the build, not after it
        csv = load_yahoo_csv(csv_path, repair_zero_volume)
        note = (
            (
                f"; zero volume on {csv.zero_volume_repaired} day(s) replaced by the previous day's volume "
                "(--repair-zero-volume)"
            )
            if csv.zero_volume_repaired
            else ""
        )
        ohlcv, default_splits = csv.frame, USER_SPY_SPLITS
        source = SourceInfo(kind="csv", description=f"user CSV {Path(csv_path).name}{note}", input_sha256=csv.sha256)
    elif synthetic:
        ohlcv = synthetic_ohlcv(rows=rows, seed=seed)
        source = SourceInfo(kind="synthetic", description=f"GARCH(1,1) synthetic OHLCV, {rows} rows", seed=seed)
        default_name, default_splits = "synthetic", BUNDLED_SPLITS
    else:
        ohlcv = load_arch_sp500()
        source = SourceInfo(kind="arch-sp500", description="S&P 500 index daily OHLCV 1999-2018 from the arch package")
        default_name, default_splits = paths.DEFAULT_DATASET, BUNDLED_SPLITS
    try:
        if test_start and not walk_forward:
            splits = splits_with_test_start(test_start.date(), default_splits, train_end.date() if train_end else None)
        else:
            splits = SplitDates(
                train_end=train_end.date() if train_end else default_splits.train_end,
                val_end=val_end.date() if val_end else default_splits.val_end,
            )
    except ValueError as exc:
        raise DataError(f"invalid split dates: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}") from None
    fold_dates = ()
    if walk_forward and test_start:
        last_date = ohlcv["date"].iloc[-1].date()
        years = test_years_from(test_start.date(), last_date)
        if years < 2:
            raise DataError(
                f"--test-start {test_start.date()}: the data (to {last_date}) has {years} whole calendar test "
                "year(s) from then on; walk-forward needs 2 (use the single split)"
            )
        if folds is not None and folds != years:
            raise DataError(
                f"--folds {folds} and --test-start {test_start.date()} disagree: that start gives {years} test years"
            )
        folds = years
    if walk_forward:
        if folds is None and source.kind != "arch-sp500":
            raise DataError(
                "--split walk-forward needs --folds K for this source (the bundled data defaults to "
                f"{BUNDLED_WALK_FORWARD_FOLDS})"
            )
        folds = folds or BUNDLED_WALK_FORWARD_FOLDS
        fold_dates = tuple(walk_forward_folds(ohlcv["date"].iloc[-1].date(), folds))
        splits = SplitDates(train_end=fold_dates[-1].train_end, val_end=fold_dates[-1].val_end)
        default_name = f"{default_name}-wf{folds}"
    request = BuildRequest(
        name=name or default_name,
        source=source,
        split_dates=splits,
        horizons=_parse_horizons(horizons),
        threshold=threshold,
        context_length=context_length,
        folds=fold_dates,
    )
    manifest = build_dataset(ohlcv, request, out_dir or paths.data_dir())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    click.echo(
        f"built {manifest.name}: {manifest.rows} rows {manifest.date_start}..{manifest.date_end}, "
        f"sha256 {manifest.sha256[:12]}, {time.perf_counter() - started:.2f}s, peak RSS {peak_mb:.0f} MiB"
    )
    for split, summary in manifest.splits.items():
        rates = ", ".join(f"{h} {summary.positive_rate[h]:.3f} (n={summary.labelled[h]})" for h in summary.labelled)
        click.echo(f"  {split:5s} {summary.start}..{summary.end}: positive rate {rates}")
    for split, summary in manifest.splits.items():
        one_class = [h for h, rate in summary.positive_rate.items() if summary.labelled[h] and rate in (0.0, 1.0)]
        if one_class:
            say(
                f"warning: the {split} split has a single class for {', '.join(one_class)} (positive rate 0 or 1): "
                "AUC and calibration are undefined there; choose other split dates or --threshold"
            )
    for fold in manifest.folds:
        test = fold.splits["test"]
        click.echo(
            f"  fold {fold.index}: train < {fold.train_end} <= val < {fold.val_end} <= test < {fold.test_end}: "
            f"{', '.join(f'{h} n={test.labelled[h]}' for h in test.labelled)} test rows"
        )
