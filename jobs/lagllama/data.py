"""The univariate series Lag-Llama forecasts, and per-window histories / training sequences.

Series: the daily HIGH (default, `series='high'`) or its logarithm (`series='log-high'`). The
target y_t = [max(High[t+1..t+H]) >= (1 + threshold) * Close_t] is then a function of the
forecast path alone; Close_t enters only as the fixed barrier, never as a model input.

History: a forecast at row t needs context_length + max_lag (32 + 1092) values. Rows are trading
days, taken as consecutive steps. Before the first row the series is left-padded with its first
value, marked unobserved (the scaler ignores it); only the first ~4.5 years of the bundled data
(1999-2003) need padding, never a validation or test row.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from numpy.lib.stride_tricks import sliding_window_view

from jobs.lagllama.config import LagLlamaConfig
from jobs.lagllama.features import time_features
from jobs.lagllama.sampling import ForecastBatch

SERIES = ("high", "log-high")


def series_values(frame: pd.DataFrame, series: str) -> np.ndarray:
    high = frame["high"].to_numpy(dtype=np.float64)
    if series == "high":
        return high
    if series == "log-high":
        return np.log(high)
    raise ValueError(f"series must be one of {SERIES}, got {series!r}")


def barrier(frame: pd.DataFrame, rows: np.ndarray, threshold: float, series: str) -> np.ndarray:
    """(1 + threshold) * Close_t in the series' units."""
    level = (1.0 + threshold) * frame["close"].to_numpy(dtype=np.float64)[rows]
    return np.log(level) if series == "log-high" else level


PADDINGS = ("first-value", "zero")


@dataclass(frozen=True)
class SeriesData:
    """The padded series, its observed mask and the time features of every (padded) row."""

    config: LagLlamaConfig
    values: np.ndarray  # (pad + N,)
    observed: np.ndarray
    time_feat: np.ndarray  # (pad + N, 6)
    dates: np.ndarray  # (N,) datetime64 of the real rows
    pad: int

    @classmethod
    def build(
        cls, frame: pd.DataFrame, config: LagLlamaConfig, series: str, padding: str = "first-value"
    ) -> "SeriesData":
        """`padding`: the value standing for days before the first row, 'first-value' or the
        published code's 'zero' (either way marked unobserved, so the scaler ignores it)."""
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        values = series_values(frame, series)
        if not np.all(np.isfinite(values)):
            raise ValueError("the HIGH series has missing or non-finite values")
        pad = config.history_length - 1
        dates = pd.to_datetime(frame["date"]).to_numpy()
        tf = time_features(dates)
        return cls(
            config=config,
            values=np.concatenate([np.full(pad, values[0] if padding == "first-value" else 0.0), values]),
            observed=np.concatenate([np.zeros(pad), np.ones(len(values))]),
            time_feat=np.concatenate([np.repeat(tf[:1], pad, axis=0), tf]),
            dates=dates,
            pad=pad,
        )

    def has_full_history(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows) >= self.config.history_length - 1

    def histories(self, rows: np.ndarray, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(B, length) values and observed masks ending at each row t (inclusive)."""
        length = length or self.config.history_length
        start = np.asarray(rows) + self.pad - length + 1
        win_v = sliding_window_view(self.values, length)
        win_o = sliding_window_view(self.observed, length)
        return win_v[start], win_o[start]

    def forecast_batch(self, rows: np.ndarray, horizon: int) -> ForecastBatch:
        rows = np.asarray(rows)
        hist, obs = self.histories(rows)
        c = self.config.context_length
        past_time = future_time = None
        if self.config.time_feat:
            idx = rows[:, None] + self.pad + np.arange(-c + 1, 1)[None, :]
            past_time = torch.from_numpy(self.time_feat[idx])
            if horizon > 1:
                # dates t+1..t+H-1 as business days after t: calendar only, no future prices
                base = pd.DatetimeIndex(self.dates[rows])
                future = np.stack([time_features(base + pd.offsets.BDay(k)) for k in range(1, horizon)], axis=1)
                future_time = torch.from_numpy(future)
        return ForecastBatch(
            history=torch.from_numpy(hist.astype(np.float32)),
            observed=torch.from_numpy(obs.astype(np.float32)),
            past_time=past_time,
            future_time=future_time,
        )

    def training_batch(self, rows: np.ndarray) -> tuple[ForecastBatch, torch.Tensor]:
        """Sequences whose last token is row t; targets are the next values t-C+2..t+1 (B, C)."""
        rows = np.asarray(rows)
        batch = self.forecast_batch(rows, horizon=1)
        c = self.config.context_length
        idx = rows[:, None] + self.pad + np.arange(-c + 2, 2)[None, :]
        return batch, torch.from_numpy(self.values[idx].astype(np.float32))
