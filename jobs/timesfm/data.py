"""The TimesFM job's samples: per split, the log-High contexts every model scores, the future log
Highs (fine-tuning targets) and the thresholds; and the slicing the loops share."""

from dataclasses import dataclass

import numpy as np

from jobs.common.dataset import Dataset
from jobs.common.errors import JobError
from jobs.common.windows import sample_rows
from shared_schema import ExperimentSpec


@dataclass(frozen=True)
class SplitSeries:
    """Samples of one split: log-High contexts (n, L), future log Highs (n, H), thresholds c (n,)."""

    context: np.ndarray
    future: np.ndarray
    c: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    rows: np.ndarray

    def take(self, index) -> "SplitSeries":
        return SplitSeries(
            self.context[index], self.future[index], self.c[index], self.y[index], self.dates[index], self.rows[index]
        )


def build_series(dataset: Dataset, spec: ExperimentSpec) -> dict[str, SplitSeries]:
    """The rows every model scores (`sample_rows` with the spec's context length)."""
    import pandas as pd

    frame = dataset.frame
    high = frame["high"].to_numpy(dtype=np.float64)
    close = frame["close"].to_numpy(dtype=np.float64)
    if not (np.all(high > 0) and np.all(close > 0)):
        raise JobError("TimesFM forecasts log(high): the dataset has non-positive high/close prices")
    log_high = np.log(high)
    target = frame[f"target_h{spec.horizon}"].to_numpy()
    dates = pd.to_datetime(frame["date"]).dt.date.to_numpy()
    offsets = np.arange(-spec.context_length + 1, 1)
    ahead = np.arange(1, spec.horizon + 1)
    out = {}
    for split in ("train", "val", "test"):
        rows = sample_rows(frame, split, spec.horizon, spec.context_length)
        if len(rows) == 0:
            raise JobError(f"no usable {split} samples for horizon {spec.horizon} and context {spec.context_length}")
        # Usable rows have a label, so rows t+1..t+H exist (used as fine-tuning targets only).
        out[split] = SplitSeries(
            context=log_high[rows[:, None] + offsets[None, :]].astype(np.float32),
            future=log_high[rows[:, None] + ahead[None, :]].astype(np.float32),
            c=np.log(close[rows]) + np.log1p(spec.threshold),
            y=target[rows].astype(np.int8),
            dates=dates[rows],
            rows=rows,
        )
    return out


def recent(series: SplitSeries, limit: int) -> SplitSeries:
    """The last `limit` samples (all of them when limit is 0 or larger)."""
    return series.take(slice(-limit, None)) if limit and len(series.y) > limit else series


def batches(n: int, size: int):
    """(start, stop) of consecutive batches of `size` over n items, the last one shorter."""
    for start in range(0, n, size):
        yield start, min(start + size, n)
