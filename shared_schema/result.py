"""What a finished job reports. The job fills everything but `provenance`; the commit pipeline
(shared_schema/commit.py: `orch` on the host, or compose/run.py in an image) adds that."""

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from shared_schema.base import (
    FiniteFloat,
    NonNegFloat,
    Probability,
    SchemaVersion,
    Sha256,
    StrictModel,
)
from shared_schema.executors import PROVENANCE_EXECUTORS
from shared_schema.spec import ExperimentSpec


class SplitMetrics(StrictModel):
    n: int = Field(ge=1)
    base_rate: Probability
    # None only when the split holds a single class (AUC undefined), never NaN.
    auc: Probability | None
    accuracy: Probability
    precision: Probability
    recall: Probability
    brier: Probability
    log_loss: NonNegFloat
    ece: Probability
    p_min: Probability
    p_max: Probability
    p_std: NonNegFloat

    @model_validator(mode="after")
    def _range_ordered(self) -> "SplitMetrics":
        if self.p_min > self.p_max:
            raise ValueError("p_min must not exceed p_max")
        return self


class Timings(StrictModel):
    train_seconds: NonNegFloat
    predict_seconds: NonNegFloat
    total_seconds: NonNegFloat


class WeightsSource(StrictModel):
    """Where the model's starting weights came from. `random-init` results are never findings, nor
    are `custom` ones (imported weights that are not the published checkpoint)."""

    kind: Literal["from-scratch", "pretrained", "random-init", "custom"]
    hub_id: str | None = None
    revision: str | None = None
    sha256: Sha256 | None = None

    @model_validator(mode="after")
    def _pretrained_is_identified(self) -> "WeightsSource":
        if self.kind == "pretrained" and not (self.hub_id and self.sha256):
            raise ValueError("pretrained weights need hub_id and sha256")
        return self


class ModelInputs(StrictModel):
    """What the model was given for each window: the series it forecasts (or reads) as its target, and
    the dataset features (manifest names) it saw beside it and in which role. Lets a reader tell a
    one-series forecaster from a model that saw what PatchTST sees."""

    target: str  # the target series and its transform, e.g. "log(high_s / close_t), s = t-79..t"
    context_length: int = Field(ge=1)  # days of history per window
    covariates: list[str] = Field(default_factory=list)  # feature names, in the order the model saw them
    covariate_role: Literal["none", "past covariates", "exogenous channels", "variates"] = "none"
    normalisation: str = ""  # how the covariates were scaled (fitted on which split)

    @model_validator(mode="after")
    def _role_matches(self) -> "ModelInputs":
        if (self.covariate_role == "none") != (not self.covariates):
            raise ValueError("covariates and covariate_role must be given together")
        return self


class EnvironmentInfo(StrictModel):
    python: str
    platform: str
    device: str
    threads: int = Field(ge=1)
    packages: dict[str, str]


class Provenance(StrictModel):
    """Filled by the commit pipeline after validating the job's output; the job cannot know these."""

    run_key: Sha256
    spec_sha256: Sha256
    dataset_sha256: Sha256
    env_fingerprint: str
    code_sha256: Sha256
    weights_sha256: Sha256 | None = None  # sha256 of the weights.json loaded, if any
    git_commit: str | None
    git_dirty: bool | None
    executor: Literal[PROVENANCE_EXECUTORS]
    image_id: str | None = None  # the Docker image that ran the job: provenance, not identity
    # existing-python only: each pinned package installed at another version (or missing), pin -> found
    env_differences: dict[str, str] | None = None
    node: str | None = None  # the cluster node that ran the job (ray executor)
    host_platform: str
    wall_seconds: NonNegFloat
    started_at: dt.datetime
    finished_at: dt.datetime


class JobResult(StrictModel):
    schema_version: SchemaVersion = 1
    status: Literal["ok"] = "ok"
    spec: ExperimentSpec
    metrics: dict[Literal["val", "test"], SplitMetrics]
    decision_threshold: Probability
    decision_rule: str
    n_parameters: int = Field(ge=0)
    n_train: int = Field(ge=1)
    weights: WeightsSource
    timings: Timings
    environment: EnvironmentInfo
    notes: dict[str, str | FiniteFloat | int | bool] = Field(default_factory=dict)
    inputs: ModelInputs | None = None  # None: the job does not record its inputs (jobs older than the field)
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _both_splits(self) -> "JobResult":
        missing = {"val", "test"} - set(self.metrics)
        if missing:
            raise ValueError(f"metrics missing for split(s): {sorted(missing)}")
        return self
