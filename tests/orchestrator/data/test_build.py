"""Dataset builder: determinism, no look-ahead, targets, purging, and every bad input's message."""

import hashlib

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.data.features import FEATURE_NAMES, compute_features
from orchestrator.data.sources import load_arch_sp500, synthetic_ohlcv
from orchestrator.data.targets import threshold_target
from tests.support.csv_inputs import sample_csv_frame, write_csv


def test_bundled_build_is_deterministic_and_summarised(bundled_data, tmp_path):
    folder, manifest = bundled_data
    result = CliRunner().invoke(cli, ["data", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert hashlib.sha256((tmp_path / "sp500.parquet").read_bytes()).hexdigest() == manifest.sha256
    assert manifest.sha256 == hashlib.sha256((folder / "sp500.parquet").read_bytes()).hexdigest()
    assert len(manifest.features) == 25 and all(f.definition for f in manifest.features)
    assert manifest.date_start.year == 1999 and manifest.date_end.year == 2018
    assert manifest.splits["test"].start.year == 2017 and manifest.splits["val"].end.year == 2016
    for split in ("train", "val", "test"):
        assert 0.05 < manifest.splits[split].positive_rate["h1"] < manifest.splits[split].positive_rate["h3"] < 0.7


def test_synthetic_build_is_deterministic(tmp_path):
    runner = CliRunner()
    shas = []
    for out in ("a", "b"):
        result = runner.invoke(cli, ["data", "build", "--synthetic", "--seed", "7", "--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
        shas.append(hashlib.sha256((tmp_path / out / "synthetic.parquet").read_bytes()).hexdigest())
    assert shas[0] == shas[1]
    other = runner.invoke(cli, ["data", "build", "--synthetic", "--seed", "8", "--out", str(tmp_path / "c")])
    assert hashlib.sha256((tmp_path / "c" / "synthetic.parquet").read_bytes()).hexdigest() != shas[0]
    assert other.exit_code == 0


def test_synthetic_has_volatility_clustering():
    close = synthetic_ohlcv(rows=3000, seed=1)["close"].to_numpy()
    abs_ret = np.abs(np.diff(np.log(close)))
    lag1 = np.corrcoef(abs_ret[:-1], abs_ret[1:])[0, 1]
    assert lag1 > 0.1  # |returns| are autocorrelated: volatility clusters


@pytest.mark.parametrize("cut", [300, 1500, 3000, 4900])
def test_features_have_no_look_ahead(cut):
    """Features at t recomputed on data truncated at t equal the full-data features at t."""
    ohlcv = load_arch_sp500()
    full = compute_features(ohlcv)
    truncated = compute_features(ohlcv.iloc[: cut + 1])
    np.testing.assert_allclose(
        truncated[FEATURE_NAMES].iloc[cut].to_numpy(), full[FEATURE_NAMES].iloc[cut].to_numpy(), rtol=1e-9, atol=1e-12
    )


def test_threshold_target_by_hand():
    high = np.array([10.0, 10.05, 10.2, 9.0, 9.5, 9.6])
    close = np.array([10.0, 10.0, 10.0, 9.0, 9.5, 9.5])
    h1 = threshold_target(high, close, 1, 0.01)
    h3 = threshold_target(high, close, 3, 0.01)
    # t=0: next high 10.05 < 10.1 -> 0 for H1; within 3 days 10.2 >= 10.1 -> 1 for H3
    assert h1.tolist()[:5] == [0, 1, 0, 1, 1] and pd.isna(h1.iloc[5])
    # t=2: max(9.0, 9.5, 9.6) < 10.1 -> 0
    assert h3.tolist()[:3] == [1, 1, 0] and h3.iloc[3:].isna().all()


def test_purge_at_every_boundary(bundled_data):
    folder, manifest = bundled_data
    frame = pd.read_parquet(folder / "sp500.parquet")
    split = frame["split"].to_numpy()
    for h in manifest.horizons:
        usable = frame[f"usable_h{h}"].to_numpy()
        for i in np.flatnonzero(usable):
            assert i + h < len(frame) and split[i + h] == split[i]
        # The last h rows of train and val are purged; the last h rows of the data are unlabelled.
        for name in ("train", "val", "test"):
            last = np.flatnonzero(split == name)[-1]
            assert not usable[last - h + 1 : last + 1].any()
            assert usable[last - h]


def test_user_csv_builds_with_yahoo_names(tmp_path):
    path = write_csv(tmp_path / "SPY.csv", sample_csv_frame())
    result = CliRunner().invoke(cli, ["data", "build", "--csv", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "SPY.parquet").is_file() and "built SPY" in result.output


def corrupt(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    if kind == "missing":
        return frame.drop(columns=["high"])
    if kind == "unsorted":
        frame.loc[[10, 11], "date"] = frame.loc[[11, 10], "date"].to_numpy()
    if kind == "duplicate":
        frame.loc[11, "date"] = frame.loc[10, "date"]
    if kind == "nan":
        frame.loc[20, "close"] = np.nan
    if kind == "nonpositive":
        frame.loc[20, "low"] = 0.0
    if kind == "high_below_low":
        frame.loc[30, "high"] = frame.loc[30, "low"] * 0.9
    if kind == "few_rows":
        return frame.iloc[:100]
    return frame


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "missing column(s) ['High']"),
        ("unsorted", "dates not sorted ascending"),
        ("duplicate", "duplicate date"),
        ("nan", "missing/NaN values"),
        ("nonpositive", "non-positive price"),
        ("high_below_low", "High below Low"),
        ("few_rows", "too few rows"),
    ],
)
def test_bad_csv_gives_one_line_reason_and_exit_2(tmp_path, kind, message):
    path = write_csv(tmp_path / "bad.csv", corrupt(kind, sample_csv_frame()))
    result = CliRunner().invoke(cli, ["data", "build", "--csv", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "bad.parquet").exists()


def test_split_without_rows_is_rejected(tmp_path):
    path = write_csv(tmp_path / "spy.csv", sample_csv_frame())
    no_test = CliRunner().invoke(
        cli, ["data", "build", "--csv", str(path), "--out", str(tmp_path), "--val-end", "2030-01-01"]
    )
    no_train = CliRunner().invoke(
        cli,
        [
            "data",
            "build",
            "--csv",
            str(path),
            "--out",
            str(tmp_path),
            "--train-end",
            "2019-01-01",
            "--val-end",
            "2020-01-01",
        ],
    )
    assert no_test.exit_code == 2 and "split 'test' has no rows" in no_test.output
    assert no_train.exit_code == 2 and "split 'train' has no rows" in no_train.output
    assert not (tmp_path / "spy.parquet").exists()


def test_unreadable_csv(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(b"\x00\x01garbage\n\x02")
    result = CliRunner().invoke(cli, ["data", "build", "--csv", str(path)])
    assert result.exit_code == 2 and "junk.csv" in result.output


def test_walk_forward_folds_never_overlap_and_purge_their_boundaries(tmp_path):
    from jobs.common.dataset import select_fold
    from orchestrator.data.build import BuildRequest, build_dataset
    from orchestrator.data.splits import walk_forward_folds
    from shared_schema import SourceInfo, SplitDates

    ohlcv = synthetic_ohlcv(rows=2600, seed=5)
    folds = tuple(walk_forward_folds(ohlcv["date"].iloc[-1].date(), 3))
    request = BuildRequest(
        name="wf",
        source=SourceInfo(kind="synthetic", description="test", seed=5),
        split_dates=SplitDates(train_end=folds[-1].train_end, val_end=folds[-1].val_end),
        horizons=(1, 3),
        folds=folds,
    )
    manifest = build_dataset(ohlcv, request, tmp_path)
    frame = pd.read_parquet(tmp_path / "wf.parquet")
    dates = pd.to_datetime(frame["date"])
    assert manifest.split_scheme == "walk-forward" and [f.index for f in manifest.folds] == [0, 1, 2]
    test_days = []
    for fold in manifest.folds:
        view = select_fold(frame, fold.index, [1, 3])
        split = view["split"].to_numpy()
        # expanding train, then one validation year, then one test year, nothing of this fold after it
        assert (dates[split == "train"] < pd.Timestamp(fold.train_end)).all()
        assert (
            dates[split == "val"]
            .between(pd.Timestamp(fold.train_end), pd.Timestamp(fold.val_end), inclusive="left")
            .all()
        )
        assert (
            dates[split == "test"]
            .between(pd.Timestamp(fold.val_end), pd.Timestamp(fold.test_end), inclusive="left")
            .all()
        )
        assert (dates[split == "after"] >= pd.Timestamp(fold.test_end)).all()
        test_days.append(set(dates[split == "test"]))
        for h in (1, 3):
            usable = view[f"usable_h{h}"].to_numpy()
            for t in np.flatnonzero(usable):
                assert (split[t + 1 : t + h + 1] == split[t]).all()  # the label window stays inside its split
            for boundary in np.flatnonzero(split[1:] != split[:-1]):  # the last h rows before a boundary are purged
                assert not usable[max(boundary - h + 1, 0) : boundary + 1].any()
            assert manifest.folds[fold.index].splits["test"].labelled[f"h{h}"] == int(
                (usable & (split == "test")).sum()
            )
    assert all(not (a & b) for i, a in enumerate(test_days) for b in test_days[i + 1 :])
    assert sum(map(len, test_days)) > 700  # three calendar years of business days


def test_walk_forward_options_are_checked_with_one_line_reasons(tmp_path):
    runner = CliRunner()
    no_k = runner.invoke(cli, ["data", "build", "--synthetic", "--split", "walk-forward", "--out", str(tmp_path)])
    assert no_k.exit_code == 2 and "needs --folds K" in no_k.output
    mixed = runner.invoke(
        cli, ["data", "build", "--synthetic", "--folds", "3", "--val-end", "2005-01-01", "--out", str(tmp_path)]
    )
    assert mixed.exit_code == 2 and "walk-forward folds are set by --folds" in mixed.output
    too_many = runner.invoke(
        cli, ["data", "build", "--synthetic", "--rows", "600", "--folds", "6", "--out", str(tmp_path)]
    )
    assert too_many.exit_code == 2 and "walk-forward fold 0" in too_many.output and "has no rows" in too_many.output
    assert len(too_many.output.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_test_start_puts_every_test_day_after_the_newest_pre_training_cut_off(tmp_path):
    """The README recipe: a SPY CSV whose test period starts after the newest cut-off in the catalog."""
    import datetime as dt

    from orchestrator.registry import EXPERIMENTS
    from orchestrator.report.load import pretraining_overlap

    newest = max(e.pretraining.cutoff for e in EXPERIMENTS if e.pretraining is not None)
    start = newest + dt.timedelta(days=1)
    yesterday = dt.date.today() - dt.timedelta(days=1)
    assert start < yesterday - dt.timedelta(days=14)  # a cut-off is in the past: some test days exist
    days = pd.bdate_range(end=yesterday, periods=2000)  # a CSV downloaded today
    frame = synthetic_ohlcv(rows=2000, seed=2, start=str(days[0].date()))
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    path = write_csv(tmp_path / "SPY.csv", frame)
    result = CliRunner().invoke(
        cli, ["data", "build", "--csv", str(path), "--test-start", start.isoformat(), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    from orchestrator.data.build import load_manifest

    manifest = load_manifest(tmp_path, "SPY")
    assert manifest.splits["test"].start >= start and manifest.split_dates.val_end == start
    # validation keeps the user-CSV default's two years
    assert (manifest.split_dates.val_end - manifest.split_dates.train_end).days in (730, 731)
    for e in EXPERIMENTS:
        assert not pretraining_overlap(e.model, "pretrained", [manifest.split_dates.val_end]), e.model


def test_test_start_sets_the_walk_forward_test_years_and_is_checked(tmp_path):
    runner = CliRunner()
    base = ["data", "build", "--synthetic", "--split", "walk-forward"]  # synthetic: 2009-01-02..2018-12-20
    built = runner.invoke(cli, [*base, "--test-start", "2015-01-01", "--out", str(tmp_path / "a")])
    assert built.exit_code == 0, built.output
    assert "fold 0: train < 2014-01-01 <= val < 2015-01-01 <= test < 2016-01-01" in built.output
    assert "fold 3:" in built.output and "fold 4:" not in built.output
    later = runner.invoke(cli, [*base, "--test-start", "2015-03-01", "--out", str(tmp_path / "b")])
    assert later.exit_code == 0 and "fold 0: train < 2015-01-01 <= val < 2016-01-01" in later.output
    for extra, message in (
        (["--test-start", "2018-02-01"], "has 0 whole calendar test year(s)"),
        (["--test-start", "2015-01-01", "--folds", "3"], "--folds 3 and --test-start 2015-01-01 disagree"),
    ):
        refused = runner.invoke(cli, [*base, *extra, "--out", str(tmp_path / "c")])
        assert refused.exit_code == 2 and message in refused.output, refused.output
        assert len(refused.output.strip().splitlines()) == 1
    both = runner.invoke(
        cli,
        [
            "data",
            "build",
            "--synthetic",
            "--test-start",
            "2017-01-01",
            "--val-end",
            "2017-01-01",
            "--out",
            str(tmp_path),
        ],
    )
    assert both.exit_code == 2 and "give one" in both.output
    single = runner.invoke(
        cli, ["data", "build", "--synthetic", "--test-start", "2017-06-01", "--out", str(tmp_path / "d")]
    )
    assert single.exit_code == 0 and "test  2017-06-01.." in single.output  # the first test day
