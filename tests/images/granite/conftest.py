"""Fixtures of the in-environment granite suite (runs inside the granite env; see pytest.ini).

Data: the bundled S&P 500 dataset that `orch test-images` mounts at $ORCH_TEST_DATA, else built once
by the host interpreter (/work/main/.venv, which has arch and TA-Lib). Weights: random-initialised
models built from granite-tsfm's own config classes and saved with `save_pretrained` in the hub
layout (jobs.granite.weights), loaded by the jobs through `from_pretrained` as published weights are.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository: jobs, shared_schema
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/images: shared suite helpers

from image_suite import bundled_dataset, foundation_spec, run_job_process


@pytest.fixture(scope="session")
def bundled(tmp_path_factory):
    """(folder, DatasetManifest) of the real bundled dataset."""
    return bundled_dataset(tmp_path_factory)


# A PatchTST-FM of the published architecture class at a CPU-test size: context 208 holds the 80-day
# window plus the 128-step masked forecast region (16-step patches, 8 contiguous masked patches).
TINY_PATCHTSTFM = {
    "context_length": 208,
    "prediction_length": 16,
    "d_patch": 16,
    "d_model": 32,
    "n_head": 4,
    "n_layer": 2,
}


@pytest.fixture(scope="session")
def patchtstfm_weights(tmp_path_factory) -> Path:
    """A weights dir holding a small random-init PatchTST-FM at <dir>/patchtstfm/."""
    import torch
    from tsfm_public.models.patchtst_fm import PatchTSTFMConfig, PatchTSTFMForPrediction

    from jobs.granite.weights import PATCHTSTFM, write_random_init

    torch.manual_seed(1)
    weights_dir = tmp_path_factory.mktemp("weights")
    write_random_init(weights_dir, PATCHTSTFM, PatchTSTFMForPrediction(PatchTSTFMConfig(**TINY_PATCHTSTFM)))
    return weights_dir


# A TTM with the daily r2.1 checkpoint's 90-day context at a CPU-test width (and a 16-day forecast, so
# that `orch weights import` can tell it from the published 90-30 checkpoint).
TINY_TTM = {
    "context_length": 90,
    "prediction_length": 16,
    "patch_length": 10,
    "patch_stride": 10,
    "d_model": 16,
    "num_layers": 2,
    "decoder_d_model": 8,
    "decoder_num_layers": 2,
    "num_input_channels": 1,
}


@pytest.fixture(scope="session")
def ttm_weights(tmp_path_factory) -> Path:
    """A weights dir holding a small random-init TTM at <dir>/ttm/."""
    import torch
    from tsfm_public.models.tinytimemixer import TinyTimeMixerConfig, TinyTimeMixerForPrediction

    from jobs.granite.weights import TTM, write_random_init

    torch.manual_seed(2)
    weights_dir = tmp_path_factory.mktemp("weights")
    write_random_init(weights_dir, TTM, TinyTimeMixerForPrediction(TinyTimeMixerConfig(**TINY_TTM)))
    return weights_dir


def make_spec(manifest, *, model: str, model_id: str, horizon: int = 1, **hyper):
    return foundation_spec(manifest, model=model, model_id=model_id, env="granite", horizon=horizon, **hyper)


def run_job(spec, data_dir: Path, out_dir: Path, weights_dir: Path | None):
    """`python -m jobs run`, exactly as the executors call it, on 2 threads."""
    return run_job_process(spec, data_dir, out_dir, weights_dir, extra_env={"OMP_NUM_THREADS": "2"})
