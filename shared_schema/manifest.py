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

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]
