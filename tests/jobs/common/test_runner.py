"""The job entry point's contract (python -m jobs run, jobs/common/runner.py) as executors call it: real baseline jobs on the bundled data, and a wrong dataset, an unknown model, a bad spec or a corrupt parquet refused with exit 2 and one reason."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from jobs.common.runner import finite_notes
from shared_schema import JobResult
from tests.support.helpers import REPO, make_spec, run_job_subprocess


@pytest.mark.parametrize("model", ["logreg", "logreg-vol", "gboost"])
@pytest.mark.parametrize("horizon", [1, 3])
def test_baseline_job_on_bundled_data(bundled_data, tmp_path, model, horizon):
    folder, manifest = bundled_data
    spec = make_spec(manifest, model, "sklearn", horizon=horizon)
    done = run_job_subprocess(spec, folder, tmp_path)
    assert done.returncode == 0, done.stderr
    result = JobResult.model_validate(json.loads((tmp_path / "result.json").read_text()))
    assert result.metrics["test"].auc > 0.6
    assert result.weights.kind == "from-scratch" and result.n_parameters > 0
    table = pq.read_table(tmp_path / "predictions.parquet")
    assert table.num_rows == result.metrics["val"].n + result.metrics["test"].n
    assert result.metrics["test"].p_std > 0.01  # not a collapsed predictor


def test_job_refuses_a_dataset_with_another_hash(bundled_data, tmp_path):
    folder, manifest = bundled_data
    spec = make_spec(manifest, "logreg", "sklearn").model_copy(
        update={"dataset": make_spec(manifest, "logreg", "sklearn").dataset.model_copy(update={"sha256": "0" * 64})}
    )
    done = run_job_subprocess(spec, folder, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("job failed:") and "is not the dataset the spec names" in done.stderr
    assert not (tmp_path / "result.json").exists()


def test_job_reports_unknown_model_and_bad_spec(bundled_data, tmp_path):
    folder, manifest = bundled_data
    done = run_job_subprocess(make_spec(manifest, "nope", "sklearn"), folder, tmp_path)
    assert done.returncode == 2 and "unknown model 'nope'" in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": 1}')
    out = subprocess.run(
        [sys.executable, "-m", "jobs", "run", "--spec", str(bad), "--data", str(folder), "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "invalid spec" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_corrupt_parquet_is_reported(bundled_data, tmp_path):
    folder, manifest = bundled_data
    data = tmp_path / "data"
    data.mkdir()
    (data / "sp500.manifest.json").write_text((folder / "sp500.manifest.json").read_text())
    (data / "sp500.parquet").write_bytes(b"PAR1 not really")
    done = run_job_subprocess(make_spec(manifest, "logreg", "sklearn"), data, tmp_path / "out")
    assert done.returncode == 2 and "does not match its manifest" in done.stderr


def test_notes_that_could_not_be_computed_are_left_out_not_written_as_nan():
    notes = {"loss": float("nan"), "best": float("inf"), "steps": 3, "mode": "fine-tune", "val": 0.5}
    assert finite_notes(notes) == {"steps": 3, "mode": "fine-tune", "val": 0.5}
