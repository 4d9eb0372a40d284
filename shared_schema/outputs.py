"""Checks on a finished job's outputs, shared by the host (`orch`) and the compose wrapper.

Reading the parquet file stays with the caller (this package imports pydantic only); `table` is
anything with pyarrow's `schema` and `to_pydict()`.
"""

from shared_schema.predictions import PredictionsFile
from shared_schema.result import JobResult
from shared_schema.spec import ExperimentSpec


def predictions_payload(table) -> dict:
    return {"dtypes": {f.name: str(f.type) for f in table.schema}, **table.to_pydict()}


def check_predictions(payload: dict, result: JobResult) -> None:
    """The predictions match the contract and the row counts result.json reports (ValueError if not)."""
    PredictionsFile.model_validate(payload)
    splits = payload["split"]
    for name in ("val", "test"):
        if splits.count(name) != result.metrics[name].n:
            raise ValueError(f"{splits.count(name)} {name} rows but result.json reports n={result.metrics[name].n}")


def check_answers(result: JobResult, spec: ExperimentSpec) -> None:
    """The result answers the spec the job was given and carries no provenance (the runner adds it)."""
    if result.spec != spec:
        raise ValueError("result.json answers a different spec than the one the job was given")
    if result.provenance is not None:
        raise ValueError("result.json already has a provenance block; only the host writes it")
