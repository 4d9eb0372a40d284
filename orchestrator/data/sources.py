"""Raw daily OHLCV from the three sources, checked into one canonical frame.

Canonical frame: columns date (datetime64, sorted, unique), open, high, low, close, volume.
"""

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.errors import DataError

OHLCV = ["open", "high", "low", "close", "volume"]
YAHOO_COLUMNS = {"Date": "date", "Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}
MAX_CSV_BYTES = 256 * 2**20  # daily bars since 1900 take a few MiB
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
EARLIEST_DATE = dt.date(1900, 1, 1)  # with "tomorrow" as the latest: daily market data, not a typo'd year
PRICE_RANGE = (1e-6, 1e9)  # beyond these the indicators' products and ratios lose precision or overflow
MAX_VOLUME = 1e15
MAX_DAILY_FACTOR = 5  # a close more than x5 (or below 1/5) of the day before: unadjusted split or bad value
MAX_VOLUME_FACTOR = 1000  # volume x1000 (or 1/1000) of the day before: a unit change or lost digits
FLAT_RUN_DAYS = 5  # this many identical closes in a row: stale or filled-in prices


def load_arch_sp500() -> pd.DataFrame:
    """S&P 500 index daily OHLCV 1999-2018, shipped inside the `arch` package (no network)."""
    from arch.data import sp500

    raw = sp500.load().reset_index()
    return check_ohlcv(raw.rename(columns=YAHOO_COLUMNS)[["date", *OHLCV]], "arch sp500")


@dataclass(frozen=True)
class UserCsv:
    frame: pd.DataFrame  # canonical, checked
    sha256: str  # of the file as read
    zero_volume_repaired: int  # days whose zero volume was replaced (only with repair_zero_volume)


def load_yahoo_csv(path: Path, repair_zero_volume: bool = False) -> UserCsv:
    """A user's CSV with Yahoo Finance column names, checked (see `check_ohlcv`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise DataError(
            f"{path}: {path.stat().st_size / 2**20:.0f} MiB is far more than daily data needs "
            f"(limit {MAX_CSV_BYTES // 2**20} MiB)"
        )
    data = path.read_bytes()
    try:
        raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many types for malformed text
        raise DataError(f"{path}: not a readable CSV ({type(exc).__name__}: {_first_line(exc)})") from exc
    first_line = data.splitlines()[0] if data else b""  # CR, LF or CRLF line ends
    header = next(csv.reader([first_line.decode("utf-8-sig", errors="replace")]), [])
    folded = [name.strip().casefold() for name in header]
    repeated = sorted({name.strip() for name, key in zip(header, folded) if folded.count(key) > 1})
    if repeated:
        raise DataError(
            f"{path}: duplicate column(s) {repeated} (names are compared ignoring case): "
            "which one holds the data is ambiguous"
        )
    missing = [c for c in YAHOO_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; expected Yahoo names {list(YAHOO_COLUMNS)} "
            f"(found {_shown_columns(raw.columns)})"
        )
    frame = raw[list(YAHOO_COLUMNS)].rename(columns=YAHOO_COLUMNS)[["date", *OHLCV]]
    bad_date = ~frame["date"].str.strip().str.match(ISO_DATE)
    if bad_date.any():
        row = int(np.argmax(bad_date.to_numpy()))
        raise DataError(f"{path}: Date {frame['date'].iloc[row][:40]!r} on data row {row + 1} is not a YYYY-MM-DD date")
    try:
        parsed = pd.to_datetime(frame["date"].str.strip(), format="ISO8601", errors="coerce")
    except (ValueError, TypeError) as exc:  # e.g. mixed time-zone offsets
        raise DataError(f"{path}: unparseable Date column ({_first_line(exc)})") from exc
    if parsed.isna().any():
        row = int(np.argmax(parsed.isna().to_numpy()))
        raise DataError(f"{path}: Date {frame['date'].iloc[row][:40]!r} on data row {row + 1} is not a valid date")
    frame["date"] = parsed
    frame = _numeric(frame, str(path))
    repaired = 0
    if repair_zero_volume:
        frame, repaired = carry_volume_forward(frame, str(path))
    return UserCsv(check_ohlcv(frame, str(path)), hashlib.sha256(data).hexdigest(), repaired)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


def _shown_columns(columns) -> str:
    text = repr([str(c)[:40] for c in columns[:12]])
    return text if len(columns) <= 12 else f"{text[:-1]}, ... {len(columns)} in all]"


def _numeric(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Text cells -> floats; a non-empty cell that is not a number is named, not turned into NaN."""
    frame = frame.copy()
    for column in OHLCV:
        text = frame[column].astype(str).str.strip()
        values = pd.to_numeric(text.where(text != ""), errors="coerce")
        garbled = values.isna() & (text != "")
        if garbled.any():
            row = int(np.argmax(garbled.to_numpy()))
            raise DataError(
                f"{origin}: {column.title()} {text.iloc[row][:40]!r} on {_day(frame['date'].iloc[row])} is not a number"
            )
        frame[column] = values.astype("float64")
    return frame


def carry_volume_forward(frame: pd.DataFrame, origin: str) -> tuple[pd.DataFrame, int]:
    """`--repair-zero-volume`: a zero-volume day takes the previous day's volume (causal: uses
    the past only). Returns the frame and how many days were repaired."""
    zero = frame["volume"] == 0
    if not zero.any():
        return frame, 0
    if zero.iloc[0]:
        raise DataError(
            f"{origin}: zero volume on the first day ({_day(frame['date'].iloc[0])}): no earlier day to "
            "carry forward; drop the leading zero-volume rows"
        )
    frame = frame.copy()
    frame["volume"] = frame["volume"].mask(zero).ffill()
    return frame, int(zero.sum())


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
    frame = pd.DataFrame({"date": dates, "open": open_, "high": high, "low": low, "close": close, "volume": volume})
    return check_ohlcv(frame, f"synthetic(seed={seed})")


def _day(value) -> str:
    try:
        return str(pd.Timestamp(value).date())
    except (ValueError, TypeError, OverflowError):
        return str(value)[:40]


def check_ohlcv(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Reject what would silently corrupt features or targets, each with its own reason (so a
    zero-volume or stale-price file is not reported as 'too few rows'); return a clean float frame."""
    missing = [c for c in ["date", *OHLCV] if c not in frame.columns]
    if missing:
        raise DataError(f"{origin}: missing column(s) {missing}")
    frame = frame[["date", *OHLCV]].copy()
    if frame.empty:
        raise DataError(f"{origin}: no data rows (header only?)")
    frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize(None).dt.normalize()
    for column in OHLCV:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    nan_rows = frame[frame[OHLCV].isna().any(axis=1) | frame["date"].isna()]
    if len(nan_rows):
        first = nan_rows.iloc[0]
        raise DataError(f"{origin}: {len(nan_rows)} row(s) with missing/NaN values, first at {_day(first['date'])}")
    values = frame[OHLCV].to_numpy()
    if not np.isfinite(values).all():
        row, col = np.argwhere(~np.isfinite(values))[0]
        raise DataError(
            f"{origin}: non-finite {OHLCV[col].title()} ({values[row, col]}) on {_day(frame['date'].iloc[row])}"
        )
    dates = frame["date"]
    earliest, latest = pd.Timestamp(EARLIEST_DATE), pd.Timestamp(dt.date.today() + dt.timedelta(days=1))
    outside = (dates < earliest) | (dates > latest)
    if outside.any():
        raise DataError(
            f"{origin}: date {_day(dates[outside].iloc[0])} outside {earliest.date()}..{latest.date()} "
            f"({int(outside.sum())} row(s)); daily market data lies in that range"
        )
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
    zero = frame["volume"] == 0
    if zero.any():
        raise DataError(
            f"{origin}: zero volume on {int(zero.sum())} day(s), first {frame['date'][zero].iloc[0].date()}: "
            "log-volume inputs and volume indicators are undefined there; fix the data, or pass "
            "--repair-zero-volume to carry the previous day's volume forward"
        )
    bad = frame[
        (frame["high"] < frame["low"])
        | (frame["high"] < frame[["open", "close"]].max(axis=1) * (1 - 1e-9))
        | (frame["low"] > frame[["open", "close"]].min(axis=1) * (1 + 1e-9))
    ]
    if len(bad):
        raise DataError(
            f"{origin}: High below Low (or outside Open/Close) on {len(bad)} row(s), first {bad.iloc[0]['date'].date()}"
        )
    _check_plausible_prices(frame, origin)
    return frame.reset_index(drop=True)


def _check_daily_moves(frame: pd.DataFrame, column: str, *, factor: float, cause: str, origin: str) -> None:
    values = frame[column].to_numpy()
    jumps = np.abs(np.diff(np.log(values))) > np.log(factor)
    if jumps.any():
        row = int(np.argmax(jumps)) + 1
        raise DataError(
            f"{origin}: {column} moves x{values[row] / values[row - 1]:.3g} from {_day(frame['date'].iloc[row - 1])} "
            f"to {_day(frame['date'].iloc[row])} (more than x{factor} or 1/{factor}: {cause})"
        )


def _check_plausible_prices(frame: pd.DataFrame, origin: str) -> None:
    """Extreme values and stale runs: the indicators would overflow or divide by a zero range."""
    prices = frame[["open", "high", "low", "close"]].to_numpy()
    outside = (prices < PRICE_RANGE[0]) | (prices > PRICE_RANGE[1])
    if outside.any():
        row = int(np.argmax(outside.any(axis=1)))
        raise DataError(
            f"{origin}: price {prices[row][outside[row]][0]:g} on {_day(frame['date'].iloc[row])} outside "
            f"{PRICE_RANGE[0]:g}..{PRICE_RANGE[1]:g}"
        )
    if (frame["volume"] > MAX_VOLUME).any():
        row = int(np.argmax((frame["volume"] > MAX_VOLUME).to_numpy()))
        raise DataError(
            f"{origin}: volume {frame['volume'].iloc[row]:g} on {_day(frame['date'].iloc[row])} above {MAX_VOLUME:g}"
        )
    _check_daily_moves(
        frame, "close", factor=MAX_DAILY_FACTOR, cause="an unadjusted split or a bad value?", origin=origin
    )
    _check_daily_moves(frame, "volume", factor=MAX_VOLUME_FACTOR, cause="a unit change or a bad value?", origin=origin)
    close = frame["close"].to_numpy()
    unchanged = np.concatenate([[False], close[1:] == close[:-1]])
    run_ids = np.cumsum(~unchanged)
    run_lengths = np.bincount(run_ids)
    if run_lengths.max() >= FLAT_RUN_DAYS:
        start = int(np.argmax(run_ids == np.argmax(run_lengths)))
        raise DataError(
            f"{origin}: close unchanged for {run_lengths.max()} days from {_day(frame['date'].iloc[start])} "
            f"(stale or filled-in prices; at most {FLAT_RUN_DAYS - 1} allowed)"
        )
