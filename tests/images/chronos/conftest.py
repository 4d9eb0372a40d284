"""Fixtures of the in-environment Chronos-2 suite (runs inside the chronos env, natively or in its
image; see pytest.ini).

Data: the bundled S&P 500 dataset, the one `orch test-images` mounts at $ORCH_TEST_DATA, else built
once per session by the host interpreter (which has arch and TA-Lib) in a subprocess. Weights: a
tiny random-initialised Chronos-2 built from the package's config classes and saved in the published
layout (`jobs.chronos2.weights.write_random_init`), loaded by the job exactly as published weights.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository: jobs, shared_schema
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/images: shared suite helpers

from image_suite import bundled_dataset, foundation_spec, run_job_process

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
    return bundled_dataset(tmp_path_factory)


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
    model_id = "FD-27" if horizon == 1 else "FD-28"
    return foundation_spec(manifest, model="chronos2", model_id=model_id, env="chronos", horizon=horizon, **hyper)


def run_job(spec, data_dir: Path, out_dir: Path, weights_dir: Path | None):
    """`python -m jobs run`, exactly as the executors call it."""
    return run_job_process(spec, data_dir, out_dir, weights_dir)
