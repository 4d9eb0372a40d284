"""What a built dataset is: written next to the parquet by `orch data build`."""

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from shared_schema.base import NonNegFloat, Probability, SchemaVersion, Sha256, SplitName, StrictModel


class FeatureInfo(StrictModel):
    name: str
    definition: str


class SplitDates(StrictModel):
    """Date splitter: train < train_end <= val < val_end <= test."""

    train_end: dt.date
    val_end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> "SplitDates":
        if not self.train_end < self.val_end:
            raise ValueError(f"train_end {self.train_end} must be before val_end {self.val_end}")
        return self


class SplitSummary(StrictModel):
    rows: int = Field(ge=0)
    start: dt.date | None
    end: dt.date | None
    # Labelled rows usable for horizon H (label known and not purged), keyed "h1", "h3", ...
    labelled: dict[str, int]
    positive_rate: dict[str, Probability]


class SourceInfo(StrictModel):
    kind: Literal["arch-sp500", "csv", "synthetic"]
    description: str
    input_sha256: Sha256 | None = None
    seed: int | None = None


class Fold(StrictModel):
    """One walk-forward fold: train < train_end <= val < val_end <= test < test_end (expanding train).

    Rows whose label window crosses a boundary are purged (not usable) for that fold."""

    index: int = Field(ge=0)
    train_end: dt.date
    val_end: dt.date
    test_end: dt.date
    splits: dict[SplitName, SplitSummary]

    @property
    def split_dates(self) -> SplitDates:
        return SplitDates(train_end=self.train_end, val_end=self.val_end)

    @model_validator(mode="after")
    def _ordered(self) -> "Fold":
        if not self.train_end < self.val_end < self.test_end:
            raise ValueError(f"fold {self.index}: need train_end < val_end < test_end")
        return self


class DatasetManifest(StrictModel):
    schema_version: SchemaVersion = 1
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    sha256: Sha256
    builder_version: str
    source: SourceInfo
    rows: int = Field(ge=1)
    date_start: dt.date
    date_end: dt.date
    features: list[FeatureInfo] = Field(min_length=1)
    horizons: list[int] = Field(min_length=1)
    threshold: NonNegFloat
    split_dates: SplitDates
    splits: dict[SplitName, SplitSummary]
    # "single": the `split` column; "walk-forward": also `split_f<k>` / `usable_f<k>_h<H>` per fold.
    split_scheme: Literal["single", "walk-forward"] = "single"
    folds: list[Fold] = Field(default_factory=list)

    @model_validator(mode="after")
    def _folds_match_scheme(self) -> "DatasetManifest":
        if (self.split_scheme == "walk-forward") != bool(self.folds):
            raise ValueError("folds are listed exactly when split_scheme is 'walk-forward'")
        if [f.index for f in self.folds] != list(range(len(self.folds))):
            raise ValueError("folds must be numbered 0..K-1 in order")
        for earlier, later in zip(self.folds, self.folds[1:]):
            if later.val_end < earlier.test_end:
                raise ValueError(f"fold {later.index}'s test period overlaps fold {earlier.index}'s")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]
