"""Fixtures of the in-environment tirex suite (runs inside the tirex env; see pytest.ini).

Data: the bundled S&P 500 dataset that `orch test-images` mounts at $ORCH_TEST_DATA, else built once
by the host interpreter (/work/main/.venv, which has arch and TA-Lib). Weights: random-initialised
TiRex-2 checkpoints written in the hub repository's layout (jobs.tirex.weights), so every test
loads them through the package's own `tirex2.load_model`, as published weights are loaded; TiRex 1.x
checkpoints as Lightning `model.ckpt` files (jobs.tirex.tirexcls_weights), loaded by the package's own class.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
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
def tirex2_weights(tmp_path_factory) -> Path:
    """A weights dir holding a small random-init TiRex-2 at <dir>/tirex2/."""
    from jobs.tirex.weights import tiny_config, write_random_init

    weights_dir = tmp_path_factory.mktemp("weights")
    write_random_init(weights_dir, tiny_config(), seed=1)
    return weights_dir


@pytest.fixture(scope="session")
def tirexcls_weights(tmp_path_factory) -> Path:
    """A weights dir holding a small random-init TiRex 1.x at <dir>/tirexcls/model.ckpt."""
    from jobs.tirex.tirexcls_weights import tiny_hyper_parameters, write_random_init

    weights_dir = tmp_path_factory.mktemp("weights-tirexcls")
    write_random_init(weights_dir, tiny_hyper_parameters(), seed=1)
    return weights_dir


def make_spec(manifest, *, model: str, model_id: str, horizon: int = 1, **hyper):
    from shared_schema import DatasetRef, ExperimentSpec

    return ExperimentSpec(
        id=model_id,
        slug=f"{model}-test-h{horizon}",
        model=model,
        env="tirex",
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
    spec_file.write_text(json.dumps(spec.model_dump(mode="json")))
    command = [sys.executable, "-m", "jobs", "run", "--spec", str(spec_file), "--data", str(data_dir)]
    command += ["--out", str(out_dir)] + (["--weights", str(weights_dir)] if weights_dir is not None else [])
    return subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2"},
    )
