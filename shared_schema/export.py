"""JSON Schema export of the shared models, so non-Python tools can validate too."""

import json
from pathlib import Path

from shared_schema.files import atomic_write_text
from shared_schema.manifest import DatasetManifest
from shared_schema.predictions import PredictionsFile
from shared_schema.result import JobResult
from shared_schema.spec import ExperimentSpec
from shared_schema.weights import WeightsManifest

EXPORTED = {
    "dataset_manifest": DatasetManifest,
    "experiment_spec": ExperimentSpec,
    "job_result": JobResult,
    "predictions_file": PredictionsFile,
    "weights_manifest": WeightsManifest,
}

SCHEMA_DIR = Path(__file__).parent / "json"


def render_schemas() -> dict[str, str]:
    """File name -> JSON text, deterministic."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in EXPORTED.items()
    }


def export_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in render_schemas().items():
        path = directory / file_name
        atomic_write_text(path, text)
        written.append(path)
    return written
