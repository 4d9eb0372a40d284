"""Fixtures shared by the suites that run INSIDE an environment image (`orch test-images`).

A suite's conftest.py re-exports what it needs from here. Contract of `orch test-images` (the same
for every tests/images/<env>/ suite): the image's code is at /app (PYTHONPATH) and tests/images is
mounted read-only at /app/tests/images, the suite run being /app/tests/images/<env>; datasets in the
real format are mounted read-only at $ORCH_TEST_DATA (/data): `synthetic` (small, named by
$ORCH_TEST_DATASET) and `sp500` (the bundled S&P 500 data); ORCH_IN_IMAGE=1; no network; only
/tmp is writable; the host's uid:gid.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared_schema import DatasetManifest, DatasetRef, ExperimentSpec


@pytest.fixture(scope="session")
def dataset() -> tuple[Path, DatasetManifest]:
    folder = Path(os.environ.get("ORCH_TEST_DATA", "/data"))
    name = os.environ.get("ORCH_TEST_DATASET", "synthetic")
    manifest_file = folder / f"{name}.manifest.json"
    if not manifest_file.is_file():
        pytest.fail(f"{manifest_file} missing: run this suite through `orch test-images`, which mounts a dataset")
    return folder, DatasetManifest.model_validate(json.loads(manifest_file.read_text()))


@pytest.fixture
def make_spec(dataset):
    def make(model: str, env: str, horizon: int = 1, **hyper) -> ExperimentSpec:
        manifest = dataset[1]
        return ExperimentSpec(
            id="BL-99",
            slug=f"image-{model}-h{horizon}",
            model=model,
            env=env,
            horizon=horizon,
            threshold=manifest.threshold,
            context_length=80,
            split_dates=manifest.split_dates,
            dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
            seed=0,
            profile="quick",
            hyperparameters=hyper,
        )

    return make


@pytest.fixture
def run_job(dataset, tmp_path):
    """The job entrypoint exactly as the executors call it; returns (process, out_dir)."""

    def run(spec: ExperimentSpec, timeout: float = 600) -> tuple[subprocess.CompletedProcess, Path]:
        out = tmp_path / "out"
        out.mkdir()
        (out / "spec.json").write_text(spec.model_dump_json())
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobs",
                "run",
                "--spec",
                str(out / "spec.json"),
                "--data",
                str(dataset[0]),
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done, out

    return run


def validate_outputs(out: Path, spec: ExperimentSpec):
    """What the host checks (orchestrator.results.load_result), with the image's own libraries."""
    import pyarrow.parquet as pq

    from shared_schema import JobResult, PredictionsFile

    result = JobResult.model_validate(json.loads((out / "result.json").read_text()))
    table = pq.read_table(out / "predictions.parquet")
    PredictionsFile.model_validate({"dtypes": {f.name: str(f.type) for f in table.schema}, **table.to_pydict()})
    splits = table.column("split").to_pylist()
    for name in ("val", "test"):
        assert splits.count(name) == result.metrics[name].n
    assert result.spec == spec
    assert result.provenance is None  # the host adds it
    return result
