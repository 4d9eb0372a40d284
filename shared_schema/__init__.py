"""The one contract both sides share: pydantic models for datasets, specs, results, predictions,
and the code that must be the same on both (run identity, output checks, the commit pipeline).

Imports pydantic and the standard library only, so the host, every job environment and the compose
wrapper can load it.
"""

from shared_schema.base import SCHEMA_VERSION
from shared_schema.manifest import DatasetManifest, FeatureInfo, Fold, SourceInfo, SplitDates, SplitSummary
from shared_schema.predictions import PREDICTION_DTYPES, PredictionsFile
from shared_schema.result import (
    EnvironmentInfo,
    JobResult,
    ModelInputs,
    Provenance,
    SplitMetrics,
    Timings,
    WeightsSource,
)
from shared_schema.spec import DatasetRef, ExperimentSpec
from shared_schema.weights import WeightsManifest

__all__ = [
    "SCHEMA_VERSION",
    "DatasetManifest",
    "FeatureInfo",
    "Fold",
    "SplitDates",
    "SplitSummary",
    "SourceInfo",
    "DatasetRef",
    "ExperimentSpec",
    "EnvironmentInfo",
    "JobResult",
    "ModelInputs",
    "Provenance",
    "SplitMetrics",
    "Timings",
    "WeightsSource",
    "PREDICTION_DTYPES",
    "PredictionsFile",
    "WeightsManifest",
]
