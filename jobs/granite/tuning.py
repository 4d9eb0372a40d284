"""What the PatchTST-FM and TTM jobs share: their settings (the catalog's GRANITE_TUNING keys, one
dataclass for both), the forecast targets of training and validation windows, and the fine-tuning
gradient clip."""

from dataclasses import dataclass

import numpy as np

from jobs.common.covariates import CovariateSplit
from jobs.common.dataset import Dataset
from jobs.common.settings import SpecSettings

PACKAGES = ("torch", "transformers", "granite-tsfm")
GRAD_CLIP = 1.0


@dataclass(frozen=True)
class Settings(SpecSettings):
    mode: str
    max_steps: int
    batch_size: int
    lr: float
    eval_every: int
    patience: int
    max_train_windows: int
    max_val_windows: int
    probe_l2: tuple[float, ...]
    predict_batch_size: int


def future_values(dataset: Dataset, part: CovariateSplit, horizon: int) -> np.ndarray:
    """(n, H) x_{t+k} = log(High_{t+k} / Close_t): the forecast targets of training/validation windows."""
    high = dataset.frame["high"].to_numpy(np.float64)
    close = dataset.frame["close"].to_numpy(np.float64)
    ahead = part.rows[:, None] + np.arange(1, horizon + 1)[None, :]
    return np.log(high[ahead] / close[part.rows][:, None])
