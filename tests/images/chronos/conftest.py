"""Fixtures of the in-environment Chronos-2 suite (runs inside the chronos env, natively or in its
image; see pytest.ini).

Data: the bundled S&P 500 dataset, the one `orch test-images` mounts at $ORCH_TEST_DATA, else built
once per session by the host interpreter (which has arch and TA-Lib) in a subprocess. Weights: a
tiny random-initialised Chronos-2 built from the package's config classes and saved in the published
layout (`jobs.chronos2.weights.write_random_init`), loaded by the job exactly as published weights.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HOST_PYTHON = Path(os.environ.get("FDINVEST_HOST_PYTHON", REPO / ".venv" / "bin" / "python"))
BUILD = """
import sys
from orchestrator.data.sources import load_arch_sp500
from orchestrator.data.build import build_dataset, BuildRequest
from orchestrator.data.splits import BUNDLED_SPLITS
from shared_schema import SourceInfo
build_dataset(load_arch_sp500(), BuildRequest('sp500', SourceInfo(kind='arch-sp500', description='arch sp500'),
              BUNDLED_SPLITS), sys.argv[1])
"""
# Small enough for minutes on 2 CPU cores: few fine-tuning steps and probe windows.
SMALL = {
    "max_steps": 4,
    "batch_size": 4,
    "eval_every": 2,
    "patience": 2,
    "max_train_windows": 96,
    "max_val_windows": 32,
    "probe_l2": [0.01, 1.0],
}


@pytest.fixture(scope="session")
def bundled(tmp_path_factory):
    """(folder, DatasetManifest) of the real bundled dataset."""
    from shared_schema import DatasetManifest

    mounted = Path(os.environ.get("ORCH_TEST_DATA", "/nonexistent"))
    if (mounted / "sp500.manifest.json").is_file():
        return mounted, DatasetManifest.model_validate_json((mounted / "sp500.manifest.json").read_text())
    folder = tmp_path_factory.mktemp("data")
    subprocess.run(
        [str(HOST_PYTHON), "-c", BUILD, str(folder)],
        cwd=REPO,
        check=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return folder, DatasetManifest.model_validate_json((folder / "sp500.manifest.json").read_text())


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights dir holding a tiny random-init Chronos-2 at <dir>/chronos2/."""
    from jobs.chronos2.weights import write_random_init

    weights_dir = tmp_path_factory.mktemp("weights")
    write_random_init(weights_dir, size="tiny", seed=1)
    return weights_dir


@pytest.fixture(scope="session")
def dataset(bundled):
    from jobs.common.dataset import load_dataset

    folder, manifest = bundled
    return load_dataset(folder, make_spec(manifest))


def make_spec(manifest, horizon: int = 1, **hyper):
    from shared_schema import DatasetRef, ExperimentSpec

    return ExperimentSpec(
        id="FD-27" if horizon == 1 else "FD-28",
        slug=f"chronos2-test-h{horizon}",
        model="chronos2",
        env="chronos",
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


def run_job(spec, data_dir: Path, out_dir: Path, weights_dir: Path | None) -> subprocess.CompletedProcess:
    """`python -m jobs run`, exactly as the executors call it."""
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
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
