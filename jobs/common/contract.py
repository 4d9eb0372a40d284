"""What a model family hands back to the common job runner."""

from dataclasses import dataclass, field

import numpy as np

from shared_schema import ModelInputs, WeightsSource


@dataclass(frozen=True)
class SplitPredictions:
    """`point_score`: the point-forecast arm's score per window (see shared_schema.predictions),
    None for models without a point forecast."""

    dates: np.ndarray
    y: np.ndarray
    p: np.ndarray
    point_score: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not (len(self.dates) == len(self.y) == len(self.p)):
            raise ValueError("dates, y and p must have equal length")
        if self.point_score is not None and len(self.point_score) != len(self.p):
            raise ValueError("point_score must have one value per window")


@dataclass(frozen=True)
class ModelOutput:
    """Probabilities of 'threshold hit' for validation and test samples, plus facts about the fit."""

    val: SplitPredictions
    test: SplitPredictions
    n_parameters: int
    n_train: int
    weights: WeightsSource
    train_seconds: float
    predict_seconds: float
    device: str = "cpu"
    packages: tuple[str, ...] = ()
    notes: dict[str, str | float | int | bool] = field(default_factory=dict)
    inputs: ModelInputs | None = None  # what the model saw per window (shared_schema.ModelInputs)
