"""A job's outputs read back and checked, the same way by the host (orchestrator/run_folder.py) and
by the compose wrapper (compose/run.py, inside an image: numpy, pyarrow and shared_schema only).

Checked: no symbolic link anywhere in the folder (files are opened with O_NOFOLLOW too), result.json
against the schema, predictions.parquet against the predictions contract and the row counts, and
every metric and the decision threshold recomputed from the predictions.
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.common.metrics import check_metrics
from shared_schema import JobResult
from shared_schema.base import one_line
from shared_schema.commit import PREDICTIONS_FILE, RESULT_FILE
from shared_schema.files import read_own_file, refuse_links
from shared_schema.outputs import check_predictions, predictions_payload


class OutputsError(ValueError):
    """Why a folder's outputs cannot be used: `file` is the one at fault, `reason` one line."""

    def __init__(self, file: Path, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file = Path(file)
        self.reason = reason


def _read(file: Path) -> bytes:
    try:
        return read_own_file(file)
    except FileNotFoundError:
        raise OutputsError(file, "missing") from None
    except OSError as exc:
        raise OutputsError(file, f"cannot be read ({exc.strerror or exc})") from None


def read_outputs(folder: Path) -> tuple[JobResult, pa.Table]:
    """(result, predictions table) of a folder whose outputs pass every check; OutputsError if not."""
    folder = Path(folder)
    try:
        refuse_links(folder)
    except (ValueError, OSError) as exc:
        raise OutputsError(folder, one_line(exc)) from None
    result_file, predictions_file = folder / RESULT_FILE, folder / PREDICTIONS_FILE
    raw = _read(result_file)
    try:
        result = JobResult.model_validate_json(raw)  # pydantic's parser: bounded nesting, no RecursionError
    except ValueError as exc:
        raise OutputsError(result_file, one_line(exc)) from None
    raw = _read(predictions_file)
    try:
        table = pq.read_table(pa.BufferReader(raw))
        check_predictions(predictions_payload(table), result)
    except Exception as exc:  # pyarrow raises its own error types for a damaged file
        raise OutputsError(predictions_file, one_line(exc)) from None
    try:
        check_metrics(
            result, table["split"].to_numpy(), table["y_true"].to_numpy(), table["p"].to_numpy(zero_copy_only=False)
        )
    except ValueError as exc:
        raise OutputsError(result_file, one_line(exc)) from None
    return result, table
