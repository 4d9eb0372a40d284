"""Context windows of the 25 features, normalised with statistics of the training split only."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jobs.common.dataset import Dataset


@dataclass(frozen=True)
class Normaliser:
    """Per-feature z-score fitted on training rows; applied unchanged to every split."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train_values: np.ndarray) -> "Normaliser":
        mean = train_values.mean(axis=0)
        std = train_values.std(axis=0)
        return cls(mean=mean, std=np.where(std > 0, std, 1.0))

    def apply(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std


@dataclass(frozen=True)
class SplitWindows:
    """Samples of one split: x is (n, context, features) or (n, features) for tabular use."""

    x: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    row_index: np.ndarray


@dataclass(frozen=True)
class WindowedData:
    train: SplitWindows
    val: SplitWindows
    test: SplitWindows
    normaliser: Normaliser
    feature_names: list[str]

    def split(self, name: str) -> SplitWindows:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def sample_rows(frame: pd.DataFrame, split: str, horizon: int, context_length: int) -> np.ndarray:
    """Row indices t usable as samples: labelled, not purged, in `split`, with a full context."""
    usable = frame[f"usable_h{horizon}"].to_numpy(dtype=bool) & (frame["split"].to_numpy() == split)
    usable[: context_length - 1] = False
    return np.flatnonzero(usable)


def make_windows(
    dataset: Dataset,
    horizon: int,
    context_length: int,
    features: list[str] | None = None,
    flat: bool = False,
) -> WindowedData:
    """Windows ending at each sample row t (rows t-L+1..t). Context may reach into earlier splits:
    that is past data, never the future, so it is no leak. `flat` keeps only the row at t."""
    frame = dataset.frame
    names = features or dataset.feature_names
    values = frame[names].to_numpy(dtype=np.float64)
    normaliser = Normaliser.fit(values[frame["split"].to_numpy() == "train"])
    scaled = normaliser.apply(values).astype(np.float32)
    target = frame[f"target_h{horizon}"]
    dates = pd.to_datetime(frame["date"]).dt.date.to_numpy()

    def build(split: str) -> SplitWindows:
        rows = sample_rows(frame, split, horizon, context_length)
        if flat:
            x = scaled[rows]
        else:
            offsets = np.arange(-context_length + 1, 1)
            x = scaled[rows[:, None] + offsets[None, :]]
        y = target.to_numpy()[rows].astype(np.int8)
        return SplitWindows(x=x, y=y, dates=dates[rows], row_index=rows)

    return WindowedData(
        train=build("train"), val=build("val"), test=build("test"),
        normaliser=normaliser, feature_names=list(names),
    )
