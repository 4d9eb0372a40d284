"""Fixtures of the in-environment TimesFM suite (runs inside the timesfm env; see pytest.ini).

The bundled S&P 500 dataset is built by the host interpreter (/work/main/.venv, which has arch
and TA-Lib) in a subprocess, once per session. Weights are random-initialised TimesFM 2.5
checkpoints saved in the published on-disk layout by `jobs.timesfm.model.save_random_init`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HOST_PYTHON = Path(os.environ.get("FDINVEST_HOST_PYTHON", REPO / ".venv" / "bin" / "python"))
# Same architecture class as the published 200M model (every layer kind, same parameter tree),
# with small dims so the suite runs in minutes on 2 CPU cores.
SMALL_ARCH = {"model_dims": 64, "num_layers": 2, "num_heads": 4}

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
    """(folder, DatasetManifest) of the real bundled dataset: the one `orch test-images` mounts at
    $ORCH_TEST_DATA, else built here by the host interpreter."""
    from shared_schema import DatasetManifest

    mounted = Path(os.environ.get("ORCH_TEST_DATA", "/nonexistent"))
    if (mounted / "sp500.manifest.json").is_file():  # inside an image (`orch test-images` mounts it)
        return mounted, DatasetManifest.model_validate_json((mounted / "sp500.manifest.json").read_text())
    folder = tmp_path_factory.mktemp("data")
    subprocess.run(
        [str(HOST_PYTHON), "-c", BUILD, str(folder)],
        cwd=REPO,
        check=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    manifest = DatasetManifest.model_validate_json((folder / "sp500.manifest.json").read_text())
    return folder, manifest


@pytest.fixture(scope="session")
def small_weights(tmp_path_factory) -> Path:
    """A weights dir holding a reduced random-init TimesFM 2.5 at <dir>/timesfm/."""
    from jobs.timesfm.model import save_random_init

    weights_dir = tmp_path_factory.mktemp("weights")
    save_random_init(weights_dir, SMALL_ARCH, seed=1)
    return weights_dir


def make_spec(manifest, horizon: int = 1, profile: str = "quick", **hyper):
    from shared_schema import DatasetRef, ExperimentSpec

    return ExperimentSpec(
        id="FD-03",
        slug=f"timesfm-test-h{horizon}",
        model="timesfm",
        env="timesfm",
        horizon=horizon,
        threshold=manifest.threshold,
        context_length=80,
        split_dates=manifest.split_dates,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
        seed=0,
        profile=profile,
        device="cpu",
        hyperparameters=hyper,
    )


def run_job(spec, data_dir: Path, out_dir: Path, weights_dir: Path | None) -> subprocess.CompletedProcess:
    """`python -m jobs run`, exactly as the executors call it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_file = out_dir / "spec.json"
    spec_file.write_text(json.dumps(spec.model_dump(mode="json")))
    command = [
        sys.executable,
        "-m",
        "jobs",
        "run",
        "--spec",
        str(spec_file),
        "--data",
        str(data_dir),
        "--out",
        str(out_dir),
    ]
    if weights_dir is not None:
        command += ["--weights", str(weights_dir)]
    return subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"},
    )
