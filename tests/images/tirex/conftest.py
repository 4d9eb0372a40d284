"""Fixtures of the in-environment tirex suite (runs inside the tirex env; see pytest.ini).

Data: the bundled S&P 500 dataset that `orch test-images` mounts at $ORCH_TEST_DATA, else built once
by the host interpreter (/work/main/.venv, which has arch and TA-Lib). Weights: random-initialised
TiRex-2 checkpoints written in the hub repository's layout (jobs.tirex.weights), so every test
loads them through the package's own `tirex2.load_model`, as published weights are loaded; TiRex 1.x
checkpoints as Lightning `model.ckpt` files (jobs.tirex.tirexcls_weights), loaded by the package's own class.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository: jobs, shared_schema
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/images: shared suite helpers

from image_suite import REPO, bundled_dataset, foundation_spec, run_job_process  # noqa: F401 (REPO: test_cpu_path)


@pytest.fixture(scope="session")
def bundled(tmp_path_factory):
    """(folder, DatasetManifest) of the real bundled dataset."""
    return bundled_dataset(tmp_path_factory)


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
    return foundation_spec(manifest, model=model, model_id=model_id, env="tirex", horizon=horizon, **hyper)


def run_job(spec, data_dir: Path, out_dir: Path, weights_dir: Path | None):
    """`python -m jobs run`, exactly as the executors call it, on 2 threads."""
    return run_job_process(spec, data_dir, out_dir, weights_dir, extra_env={"OMP_NUM_THREADS": "2"})
