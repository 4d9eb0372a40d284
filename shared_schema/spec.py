"""What one experiment run is asked to do; the job's only instruction besides the data."""

from typing import Literal

from pydantic import Field, model_validator

from shared_schema.base import EnvName, SchemaVersion, Sha256, StrictModel
from shared_schema.manifest import SplitDates

HyperValue = int | float | str | bool | list[int] | list[float] | list[str] | None


class DatasetRef(StrictModel):
    """Which dataset file the job must read; the job refuses a file with another hash."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    sha256: Sha256


class ExperimentSpec(StrictModel):
    schema_version: SchemaVersion = 1
    id: str = Field(pattern=r"^[A-Z]+-[0-9A-Za-z-]+$")
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    model: str
    env: EnvName
    horizon: int = Field(ge=1, le=60)
    threshold: float = Field(gt=0.0, lt=1.0, allow_inf_nan=False)
    context_length: int = Field(ge=1, le=4096)
    split_dates: SplitDates
    dataset: DatasetRef
    seed: int = Field(ge=0)
    profile: Literal["quick", "full"]
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    hyperparameters: dict[str, HyperValue] = Field(default_factory=dict)
    # Walk-forward fold of the dataset (its split_dates are that fold's); None for a single split.
    fold: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _slug_matches_horizon(self) -> "ExperimentSpec":
        if not self.slug.endswith(f"-h{self.horizon}"):
            raise ValueError(f"slug {self.slug!r} must end with '-h{self.horizon}'")
        return self
