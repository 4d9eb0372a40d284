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

REPO = Path(__file__).resolve().parents[2]
HOST_PYTHON = Path(os.environ.get("FDINVEST_HOST_PYTHON", REPO / ".venv" / "bin" / "python"))
BUILD_BUNDLED = """
import sys
from orchestrator.data.sources import load_arch_sp500
from orchestrator.data.build import build_dataset, BuildRequest
from orchestrator.data.splits import BUNDLED_SPLITS
from shared_schema import SourceInfo
build_dataset(load_arch_sp500(), BuildRequest('sp500', SourceInfo(kind='arch-sp500', description='arch sp500'),
              BUNDLED_SPLITS), sys.argv[1])
"""


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
        done = run_job_process(spec, dataset[0], out, None, timeout=timeout)
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


# -- the foundation-model suites (chronos, tirex, granite): the bundled S&P 500 data, natively too ------
def bundled_dataset(tmp_path_factory) -> tuple[Path, DatasetManifest]:
    """(folder, manifest) of the real bundled dataset: the one `orch test-images` mounts at
    $ORCH_TEST_DATA, else built once per session by the host interpreter (which has arch and TA-Lib;
    the env's venv has neither) in a subprocess. A suite's conftest wraps it in a session fixture."""
    mounted = Path(os.environ.get("ORCH_TEST_DATA", "/nonexistent"))
    if (mounted / "sp500.manifest.json").is_file():
        return mounted, DatasetManifest.model_validate_json((mounted / "sp500.manifest.json").read_text())
    folder = tmp_path_factory.mktemp("data")
    subprocess.run(
        [str(HOST_PYTHON), "-c", BUILD_BUNDLED, str(folder)],
        cwd=REPO,
        check=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return folder, DatasetManifest.model_validate_json((folder / "sp500.manifest.json").read_text())


def foundation_spec(manifest: DatasetManifest, *, model: str, model_id: str, env: str, horizon: int = 1, **hyper):
    """A quick-profile spec on the bundled data, on the CPU, with these hyper-parameters."""
    return ExperimentSpec(
        id=model_id,
        slug=f"{model}-test-h{horizon}",
        model=model,
        env=env,
        horizon=horizon,
        threshold=manifest.threshold,
        context_length=80,
        split_dates=manifest.split_dates,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
        seed=0,
        profile="quick",
        device="cpu",
        hyperparameters=hyper,
    )


def run_job_process(
    spec: ExperimentSpec,
    data_dir: Path,
    out_dir: Path,
    weights_dir: Path | None,
    *,
    extra_env: dict | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """`python -m jobs run`, exactly as the executors call it (with a weights folder, or none)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_file = out_dir / "spec.json"
    spec_file.write_text(spec.model_dump_json())
    command = [sys.executable, "-m", "jobs", "run", "--spec", str(spec_file), "--data", str(data_dir)]
    command += ["--out", str(out_dir)] + (["--weights", str(weights_dir)] if weights_dir is not None else [])
    return subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO), **(extra_env or {})},
    )
