"""Raw daily OHLCV from the three sources, checked into one canonical frame.

Canonical frame: columns date (datetime64, sorted, unique), open, high, low, close, volume.
"""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.errors import DataError

OHLCV = ["open", "high", "low", "close", "volume"]
YAHOO_COLUMNS = {"Date": "date", "Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}


def load_arch_sp500() -> pd.DataFrame:
    """S&P 500 index daily OHLCV 1999-2018, shipped inside the `arch` package (no network)."""
    from arch.data import sp500

    raw = sp500.load().reset_index()
    return check_ohlcv(raw.rename(columns=YAHOO_COLUMNS)[["date", *OHLCV]], "arch sp500")


def load_yahoo_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """A user's CSV with Yahoo Finance column names. Returns the frame and the file's sha256."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        raw = pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for malformed text
        raise DataError(f"{path}: not a readable CSV ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in YAHOO_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; expected Yahoo names {list(YAHOO_COLUMNS)} "
            f"(found {list(raw.columns)})"
        )
    frame = raw.rename(columns=YAHOO_COLUMNS)[["date", *OHLCV]]
    try:
        frame["date"] = pd.to_datetime(frame["date"], format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: unparseable Date column ({exc})") from exc
    return check_ohlcv(frame, str(path)), hashlib.sha256(data).hexdigest()


def synthetic_ohlcv(rows: int = 2600, seed: int = 0, start: str = "2009-01-02") -> pd.DataFrame:
    """Seeded OHLCV with GARCH(1,1) volatility clustering, on business days. For fast tests."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = 2e-6, 0.09, 0.89
    var = omega / (1 - alpha - beta)
    returns = np.empty(rows)
    sigmas = np.empty(rows)
    prev = 0.0
    for i in range(rows):
        var = omega + alpha * prev**2 + beta * var
        sigmas[i] = np.sqrt(var)
        prev = sigmas[i] * rng.standard_t(6) / np.sqrt(1.5) + 0.0003
        returns[i] = prev
    close = 1000.0 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[1000.0], close[:-1]]) * np.exp(rng.normal(0, 0.2, rows) * sigmas)
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = top * np.exp(np.abs(rng.normal(0, 0.6, rows)) * sigmas)
    low = bottom * np.exp(-np.abs(rng.normal(0, 0.6, rows)) * sigmas)
    volume = np.round(1e9 * np.exp(rng.normal(0, 0.25, rows)) * (1 + 40 * np.abs(returns)))
    dates = pd.bdate_range(start=start, periods=rows)
    frame = pd.DataFrame(
        {"date": dates, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
    )
    return check_ohlcv(frame, f"synthetic(seed={seed})")


def check_ohlcv(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Reject what would silently corrupt features or targets; return a clean float frame."""
    missing = [c for c in ["date", *OHLCV] if c not in frame.columns]
    if missing:
        raise DataError(f"{origin}: missing column(s) {missing}")
    frame = frame[["date", *OHLCV]].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize(None).dt.normalize()
    for column in OHLCV:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    nan_rows = frame[frame[OHLCV].isna().any(axis=1) | frame["date"].isna()]
    if len(nan_rows):
        first = nan_rows.iloc[0]
        raise DataError(f"{origin}: {len(nan_rows)} row(s) with missing/NaN values, first at {first['date']}")
    dates = frame["date"]
    if dates.duplicated().any():
        raise DataError(f"{origin}: duplicate date {dates[dates.duplicated()].iloc[0].date()}")
    if not dates.is_monotonic_increasing:
        bad = int(np.argmax(dates.diff().dt.days.to_numpy()[1:] < 0)) + 1
        raise DataError(f"{origin}: dates not sorted ascending (row {bad}: {dates.iloc[bad].date()})")
    prices = frame[["open", "high", "low", "close"]]
    if (prices <= 0).any().any():
        row = frame[(prices <= 0).any(axis=1)].iloc[0]
        raise DataError(f"{origin}: non-positive price on {row['date'].date()}")
    if (frame["volume"] < 0).any():
        raise DataError(f"{origin}: negative volume on {frame[frame['volume'] < 0].iloc[0]['date'].date()}")
    bad = frame[
        (frame["high"] < frame["low"])
        | (frame["high"] < frame[["open", "close"]].max(axis=1) * (1 - 1e-9))
        | (frame["low"] > frame[["open", "close"]].min(axis=1) * (1 + 1e-9))
    ]
    if len(bad):
        raise DataError(
            f"{origin}: High below Low (or outside Open/Close) on {len(bad)} row(s), first {bad.iloc[0]['date'].date()}"
        )
    return frame.reset_index(drop=True)
