"""What a foundation model that accepts covariates sees per window: the target series plus the 24
other features, exactly the windows PatchTST gets (jobs.common.windows.make_windows).

The target series is x_s = log(High_s / Close_t) for s = t-L+1..t, the quantity the event is about:
the label is max_k x_{t+k} >= log(1 + threshold), so a forecast of x over t+1..t+H reads P(hit)
directly (jobs.common.quantiles). It is level-free (relative to the window's last close, using rows
<= t only) and left unscaled, so the barrier stays log(1 + threshold); the model's own scaling applies.

The covariates are the other 24 features in make_windows' form: prices and volume relative to the
window's last row, then z-scored per feature with statistics of the training samples' windows only.
`inputs()` is the record of this choice that goes into the result (shared_schema.ModelInputs).
"""

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from jobs.common.dataset import Dataset
from jobs.common.errors import JobError
from jobs.common.windows import make_windows
from shared_schema import ExperimentSpec, ModelInputs

TARGET_FEATURE = "high"
SPLITS = ("train", "val", "test")
CovariateRole = Literal["past covariates", "exogenous channels", "variates"]


@dataclass(frozen=True)
class CovariateSplit:
    """One split's windows. target (n, L), covariates (n, L, F), barrier (n,)."""

    target: np.ndarray
    covariates: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    rows: np.ndarray
    barrier: np.ndarray

    def recent(self, limit: int) -> "CovariateSplit":
        """The `limit` most recent windows (0: all)."""
        if not limit or len(self.rows) <= limit:
            return self
        part = slice(-limit, None)
        return CovariateSplit(
            self.target[part],
            self.covariates[part],
            self.y[part],
            self.dates[part],
            self.rows[part],
            self.barrier[part],
        )


@dataclass(frozen=True)
class CovariateWindows:
    train: CovariateSplit
    val: CovariateSplit
    test: CovariateSplit
    covariate_names: list[str]
    context_length: int

    def split(self, name: str) -> CovariateSplit:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def inputs(self, role: CovariateRole | None) -> ModelInputs:
        """The result's record of what the model saw: the target alone (role None) or with the covariates."""
        target = f"log(high_s / close_t), s = t-{self.context_length - 1}..t (unscaled)"
        if role is None:
            return ModelInputs(target=target, context_length=self.context_length)
        return ModelInputs(
            target=target,
            context_length=self.context_length,
            covariates=list(self.covariate_names),
            covariate_role=role,
            normalisation="prices and volume relative to the window's last row, then z-scored per feature "
            "with training-split statistics",
        )


def covariate_windows(dataset: Dataset, horizon: int, context_length: int, threshold: float) -> CovariateWindows:
    """Every split's windows of the target series and the 24 other features (module docstring)."""
    names = list(dataset.feature_names)
    if TARGET_FEATURE not in names or "close" not in names:
        raise ValueError(f"the target series needs the features 'high' and 'close'; the dataset has {names}")
    windows = make_windows(dataset, horizon, context_length)
    high = names.index(TARGET_FEATURE)
    others = [i for i in range(len(names)) if i != high]
    high_prices = dataset.frame[TARGET_FEATURE].to_numpy(np.float64)
    close_prices = dataset.frame["close"].to_numpy(np.float64)
    if not (np.all(high_prices > 0) and np.all(close_prices > 0)):
        raise ValueError("the target series log(high / close) needs positive high and close prices")
    offsets = np.arange(-context_length + 1, 1)
    barrier = math.log1p(threshold)

    def split(name: str) -> CovariateSplit:
        part = windows.split(name)
        rows = part.row_index
        return CovariateSplit(
            target=np.log(high_prices[rows[:, None] + offsets] / close_prices[rows][:, None]),
            covariates=np.ascontiguousarray(part.x[:, :, others]),
            y=part.y,
            dates=part.dates,
            rows=part.row_index,
            barrier=np.full(len(part.y), barrier),
        )

    return CovariateWindows(*(split(name) for name in SPLITS), [names[i] for i in others], context_length)


def spec_windows(dataset: Dataset, spec: ExperimentSpec) -> CovariateWindows:
    """`covariate_windows` at the spec's horizon, context and threshold; data they cannot be built
    from fails the job with the reason in one line."""
    try:
        return covariate_windows(dataset, spec.horizon, spec.context_length, spec.threshold)
    except ValueError as exc:
        raise JobError(str(exc)) from exc


def future_targets(dataset: Dataset, rows: np.ndarray, horizon: int) -> np.ndarray:
    """(n, H) log(high_{t+k} / close_t), k = 1..H: the target series after each window's end t, whose
    maximum decides the label. For fine-tuning on the forecasting loss only (windows whose label lies
    in the split the loss is computed on); never an input."""
    frame = dataset.frame
    high = frame[TARGET_FEATURE].to_numpy(np.float64)
    close = frame["close"].to_numpy(np.float64)
    rows = np.asarray(rows)
    if len(rows) and rows.max() + horizon >= len(high):
        raise ValueError("a window's horizon runs past the end of the data")
    return np.log(high[rows[:, None] + np.arange(1, horizon + 1)] / close[rows][:, None])
