"""Date splits and purging of rows whose label window crosses a split boundary."""

import datetime as dt

import numpy as np
import pandas as pd

from shared_schema import SplitDates

# Defaults from the design: one pair for the bundled index data, one for a user's recent SPY CSV.
BUNDLED_SPLITS = SplitDates(train_end=dt.date(2015, 1, 1), val_end=dt.date(2017, 1, 1))
USER_SPY_SPLITS = SplitDates(train_end=dt.date(2023, 1, 1), val_end=dt.date(2025, 1, 1))


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
