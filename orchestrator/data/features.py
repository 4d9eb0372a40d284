"""The 25 input features: OHLCV plus 20 TA-Lib indicators, each causal (uses rows <= t only).

Indicators are made scale-free (ratios, percentages, bounded oscillators) so that a
normalisation fitted on the training years still means something in the test years.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib

from orchestrator.data.sources import OHLCV


@dataclass(frozen=True)
class Feature:
    name: str
    definition: str
    compute: Callable[[dict[str, np.ndarray]], np.ndarray]


def _macd(part: int) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    def compute(p: dict[str, np.ndarray]) -> np.ndarray:
        return 100 * talib.MACD(p["close"], 12, 26, 9)[part] / p["close"]

    return compute


def _bbands(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return talib.BBANDS(p["close"], timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)


def _log_return_std(p: dict[str, np.ndarray]) -> np.ndarray:
    log_ret = np.concatenate([[np.nan], np.diff(np.log(p["close"]))])
    return talib.STDDEV(log_ret, timeperiod=20, nbdev=1.0) * np.sqrt(252)


INDICATORS: list[Feature] = [
    Feature("rsi_14", "TA-Lib RSI(close, 14)", lambda p: talib.RSI(p["close"], 14)),
    Feature("macd_pct", "TA-Lib MACD(12,26,9) line / close * 100", _macd(0)),
    Feature("macd_signal_pct", "TA-Lib MACD(12,26,9) signal / close * 100", _macd(1)),
    Feature("macd_hist_pct", "TA-Lib MACD(12,26,9) histogram / close * 100", _macd(2)),
    Feature(
        "natr_14",
        "TA-Lib NATR(high, low, close, 14): ATR / close * 100",
        lambda p: talib.NATR(p["high"], p["low"], p["close"], 14),
    ),
    Feature("adx_14", "TA-Lib ADX(high, low, close, 14)", lambda p: talib.ADX(p["high"], p["low"], p["close"], 14)),
    Feature("cci_20", "TA-Lib CCI(high, low, close, 20)", lambda p: talib.CCI(p["high"], p["low"], p["close"], 20)),
    Feature(
        "mfi_14",
        "TA-Lib MFI(high, low, close, volume, 14)",
        lambda p: talib.MFI(p["high"], p["low"], p["close"], p["volume"], 14),
    ),
    Feature(
        "willr_14", "TA-Lib WILLR(high, low, close, 14)", lambda p: talib.WILLR(p["high"], p["low"], p["close"], 14)
    ),
    Feature(
        "stoch_k",
        "TA-Lib STOCH(14, 3, 3) slow %K",
        lambda p: talib.STOCH(p["high"], p["low"], p["close"], 14, 3, 0, 3, 0)[0],
    ),
    Feature(
        "stoch_d",
        "TA-Lib STOCH(14, 3, 3) slow %D",
        lambda p: talib.STOCH(p["high"], p["low"], p["close"], 14, 3, 0, 3, 0)[1],
    ),
    Feature(
        "bb_pctb_20",
        "Bollinger %B: (close - lower) / (upper - lower), TA-Lib BBANDS(close, 20, 2)",
        lambda p: (p["close"] - _bbands(p)[2]) / (_bbands(p)[0] - _bbands(p)[2]),
    ),
    Feature(
        "bb_width_20",
        "Bollinger width: (upper - lower) / middle, TA-Lib BBANDS(close, 20, 2)",
        lambda p: (_bbands(p)[0] - _bbands(p)[2]) / _bbands(p)[1],
    ),
    Feature("roc_10", "TA-Lib ROC(close, 10): 10-day % change", lambda p: talib.ROC(p["close"], 10)),
    Feature("ret_1d", "TA-Lib ROCP(close, 1): 1-day simple return", lambda p: talib.ROCP(p["close"], 1)),
    Feature("sma20_gap", "close / TA-Lib SMA(close, 20) - 1", lambda p: p["close"] / talib.SMA(p["close"], 20) - 1),
    Feature("sma50_gap", "close / TA-Lib SMA(close, 50) - 1", lambda p: p["close"] / talib.SMA(p["close"], 50) - 1),
    Feature("rvol_20", "annualised TA-Lib STDDEV(log return, 20) * sqrt(252)", _log_return_std),
    Feature(
        "ultosc",
        "TA-Lib ULTOSC(high, low, close, 7, 14, 28)",
        lambda p: talib.ULTOSC(p["high"], p["low"], p["close"], 7, 14, 28),
    ),
    Feature("volume_ratio_20", "volume / TA-Lib SMA(volume, 20)", lambda p: p["volume"] / talib.SMA(p["volume"], 20)),
]

RAW: list[tuple[str, str]] = [
    ("open", "daily open price"),
    ("high", "daily high price"),
    ("low", "daily low price"),
    ("close", "daily close price"),
    ("volume", "daily traded volume"),
]

FEATURE_NAMES: list[str] = [name for name, _ in RAW] + [f.name for f in INDICATORS]
assert len(FEATURE_NAMES) == 25


def compute_features(ohlcv: pd.DataFrame) -> pd.DataFrame:
    """All 25 features for every row; leading warm-up rows contain NaN (dropped by the builder)."""
    prices = {c: ohlcv[c].to_numpy(dtype=np.float64) for c in OHLCV}
    out = {"date": ohlcv["date"].to_numpy()}
    out.update({c: prices[c] for c in OHLCV})
    with np.errstate(divide="ignore", invalid="ignore"):
        for feature in INDICATORS:
            values = np.asarray(feature.compute(prices), dtype=np.float64)
            values[~np.isfinite(values)] = np.nan
            out[feature.name] = values
    return pd.DataFrame(out)


def feature_definitions() -> list[tuple[str, str]]:
    return RAW + [(f.name, f.definition) for f in INDICATORS]
