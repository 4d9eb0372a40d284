"""Date splits and purging of rows whose label window crosses a split boundary."""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shared_schema import SplitDates

# Defaults from the design: one pair for the bundled index data, one for a user's recent SPY CSV.
BUNDLED_SPLITS = SplitDates(train_end=dt.date(2015, 1, 1), val_end=dt.date(2017, 1, 1))
USER_SPY_SPLITS = SplitDates(train_end=dt.date(2023, 1, 1), val_end=dt.date(2025, 1, 1))
# Walk-forward on the bundled data: test years 2011-2018 (~2,000 test days, 4x the single split's 2017-2018).
BUNDLED_WALK_FORWARD_FOLDS = 8
AFTER = "after"  # a walk-forward fold's rows after its test year: in no split


class SimpleSplitter:
    """train: date < train_end; val: train_end <= date < val_end; test: date >= val_end."""

    def __init__(self, dates: SplitDates):
        self.dates = dates

    def assign(self, dates: pd.Series) -> np.ndarray:
        d = pd.to_datetime(dates).to_numpy()
        train_end = np.datetime64(self.dates.train_end)
        val_end = np.datetime64(self.dates.val_end)
        return np.where(d < train_end, "train", np.where(d < val_end, "val", "test")).astype(object)

    @staticmethod
    def usable(split: np.ndarray, target: pd.Series, horizon: int) -> np.ndarray:
        """Rows with a known label whose label window (t+1..t+H) stays inside the row's split."""
        n = len(split)
        known = target.notna().to_numpy()
        ahead = np.empty(n, dtype=object)
        ahead[: n - horizon] = split[horizon:]
        ahead[n - horizon :] = None
        return known & (ahead == split)


@dataclass(frozen=True)
class FoldDates:
    """Walk-forward fold: expanding train < train_end <= val < val_end <= test < test_end."""

    train_end: dt.date
    val_end: dt.date
    test_end: dt.date


def walk_forward_folds(last_date: dt.date, n_folds: int, val_years: int = 1) -> list[FoldDates]:
    """The last `n_folds` calendar years up to `last_date` are the test years, oldest first; each
    fold validates on the `val_years` before its test year and trains on everything earlier."""
    if n_folds < 1 or val_years < 1:
        raise ValueError("n_folds and val_years must be positive")
    last_year = last_date.year
    return [
        FoldDates(dt.date(year - val_years, 1, 1), dt.date(year, 1, 1), dt.date(year + 1, 1, 1))
        for year in range(last_year - n_folds + 1, last_year + 1)
    ]


def splits_with_test_start(test_start: dt.date, default: SplitDates, train_end: dt.date | None = None) -> SplitDates:
    """A single split whose test period begins on `test_start` (e.g. the day after a foundation
    model's pre-training cut-off): validation keeps the length `default` gives it, unless `train_end`
    says where it starts. Raises ValueError when train_end is not before test_start."""
    if train_end is None:
        validation = default.val_end - default.train_end
        train_end = test_start - validation
    return SplitDates(train_end=train_end, val_end=test_start)


def test_years_from(test_start: dt.date, last_date: dt.date) -> int:
    """Walk-forward test years (calendar years) that lie wholly on or after `test_start`, up to `last_date`'s year."""
    first = test_start.year if (test_start.month, test_start.day) == (1, 1) else test_start.year + 1
    return max(last_date.year - first + 1, 0)


class FoldSplitter(SimpleSplitter):
    """One fold's splits; rows on or after the fold's test end belong to no split ('after')."""

    def __init__(self, fold: FoldDates):
        super().__init__(SplitDates(train_end=fold.train_end, val_end=fold.val_end))
        self.test_end = fold.test_end

    def assign(self, dates: pd.Series) -> np.ndarray:
        split = super().assign(dates)
        split[pd.to_datetime(dates).to_numpy() >= np.datetime64(self.test_end)] = AFTER
        return split
