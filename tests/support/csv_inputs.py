"""A user's CSV as Yahoo Finance writes it (title-case column names), from the synthetic OHLCV
source: what the dataset builder's input checks are tested on."""

import pandas as pd

from orchestrator.data.sources import synthetic_ohlcv


def write_csv(path, frame: pd.DataFrame):
    out = frame.rename(columns=str.title).rename(columns={"Date": "Date"})
    out.to_csv(path, index=False)
    return path


def sample_csv_frame() -> pd.DataFrame:
    frame = synthetic_ohlcv(rows=1800, seed=2, start="2019-01-02")  # reaches 2025: all three splits
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame["adj close"] = frame["close"]
    return frame
