"""Context windows of the 25 features, made level-free and normalised on the training split only.

Why level-free: the S&P 500 closed above its 1999-2014 maximum on every test day of 2017-2018, so
raw prices z-scored with training statistics put every test window outside anything a model saw.
Inside each window ending at t, the four prices become log(price / close_t) and volume becomes
log((volume + 1) / (volume_t + 1)): only rows <= t are used, and the window keeps its shape (gaps,
ranges, trends) without its level. The 20 indicators are scale-free already and pass unchanged.
The per-feature z-score is then fitted on the training samples' windows alone.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jobs.common.dataset import Dataset

PRICE_COLUMNS = ("open", "high", "low", "close")
VOLUME_COLUMN = "volume"


@dataclass(frozen=True)
class Normaliser:
    """Per-feature z-score fitted on training values; applied unchanged to every split."""

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


def relative_to_last_row(windows: np.ndarray, names: list[str]) -> np.ndarray:
    """Rewrites windows (n, L, F) in place: prices and volume relative to the window's last row."""
    prices = [column for column in PRICE_COLUMNS if column in names]
    if prices and "close" not in names:
        raise ValueError(f"price features {prices} need 'close' in the selection to be made level-free")
    close_t = windows[:, -1:, names.index("close")].copy() if prices else None
    for column in prices:
        i = names.index(column)
        windows[:, :, i] = np.log(windows[:, :, i] / close_t)
    if VOLUME_COLUMN in names:
        i = names.index(VOLUME_COLUMN)
        windows[:, :, i] = np.log((windows[:, :, i] + 1.0) / (windows[:, -1:, i] + 1.0))
    return windows


def make_windows(
    dataset: Dataset,
    horizon: int,
    context_length: int,
    *,
    features: list[str] | None = None,
    flat: bool = False,
) -> WindowedData:
    """Windows ending at each sample row t (rows t-L+1..t). Context may reach into earlier splits:
    that is past data, never the future, so it is no leak. `flat` keeps only the row at t (the
    samples stay those with a full context): open/high/low relative to close_t, close and volume
    the constant 0."""
    frame = dataset.frame
    names = list(features or dataset.feature_names)
    values = frame[names].to_numpy(dtype=np.float64)
    target = frame[f"target_h{horizon}"].to_numpy()
    dates = pd.to_datetime(frame["date"]).dt.date.to_numpy()
    offsets = np.zeros(1, dtype=int) if flat else np.arange(-context_length + 1, 1)

    def level_free(split: str) -> tuple[np.ndarray, np.ndarray]:
        rows = sample_rows(frame, split, horizon, context_length)
        return rows, relative_to_last_row(values[rows[:, None] + offsets[None, :]], names)  # a fresh gather

    unscaled = {split: level_free(split) for split in ("train", "val", "test")}
    normaliser = Normaliser.fit(unscaled["train"][1].reshape(-1, len(names)))

    def build(split: str) -> SplitWindows:
        rows, x = unscaled.pop(split)  # the float64 copy is freed once its split is scaled
        scaled = normaliser.apply(x[:, -1, :] if flat else x).astype(np.float32)
        return SplitWindows(x=scaled, y=target[rows].astype(np.int8), dates=dates[rows], row_index=rows)

    return WindowedData(
        train=build("train"),
        val=build("val"),
        test=build("test"),
        normaliser=normaliser,
        feature_names=names,
    )
