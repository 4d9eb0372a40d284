"""Threshold-hit targets: y_t = 1 if max(High[t+1..t+H]) >= (1 + threshold) * Close[t]."""

import numpy as np
import pandas as pd


def threshold_target(high: np.ndarray, close: np.ndarray, horizon: int, threshold: float) -> pd.Series:
    """Int8 target with <NA> for the last `horizon` rows, whose label window runs past the data."""
    n = len(close)
    future_max = np.full(n, np.nan)
    for step in range(1, horizon + 1):
        shifted = np.full(n, np.nan)
        shifted[: n - step] = high[step:]
        future_max = np.fmax(future_max, shifted) if step > 1 else shifted
    # fmax ignores NaN, so re-mark rows whose full window is not available.
    future_max[n - horizon :] = np.nan
    hit = future_max >= (1.0 + threshold) * close
    target = pd.Series(hit.astype("int8"), dtype="Int8")
    target[np.isnan(future_max)] = pd.NA
    return target
