"""Validated, atomic writing of a job's outputs: predictions.parquet, then result.json."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.common.contract import ModelOutput
from shared_schema import PREDICTION_DTYPES, JobResult, PredictionsFile
from shared_schema.commit import PREDICTIONS_FILE, RESULT_FILE
from shared_schema.files import atomic_write
from shared_schema.outputs import predictions_payload


def predictions_table(output: ModelOutput) -> pa.Table:
    parts = [("val", output.val), ("test", output.test)]
    dates = [d for _, s in parts for d in s.dates]
    split = [name for name, s in parts for _ in range(len(s.p))]
    y = [int(v) for _, s in parts for v in s.y]
    p = [float(v) for _, s in parts for v in s.p]
    point = [None if s.point_score is None else float(s.point_score[i]) for _, s in parts for i in range(len(s.p))]
    arrays = [
        pa.array(dates, pa.date32()),
        pa.array(split, pa.string()),
        pa.array(y, pa.int8()),
        pa.array(p, pa.float64()),
        pa.array(point, pa.float64()),
    ]
    return pa.Table.from_arrays(arrays, names=list(PREDICTION_DTYPES))


def validate_predictions_table(table: pa.Table) -> PredictionsFile:
    return PredictionsFile.model_validate(predictions_payload(table))


def write_outputs(out_dir: Path, result: JobResult, table: pa.Table) -> None:
    """Validate both, then write predictions first and result.json last: result.json means done."""
    validate_predictions_table(table)
    JobResult.model_validate(result.model_dump())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / PREDICTIONS_FILE, lambda tmp: pq.write_table(table, tmp))
    text = result.model_dump_json(indent=2) + "\n"
    atomic_write(out_dir / RESULT_FILE, lambda tmp: Path(tmp).write_text(text))
