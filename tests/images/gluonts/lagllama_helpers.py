"""Helpers for the gluonts image suite (imported by the tests; fixtures live in conftest.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from shared_schema import DatasetManifest, DatasetRef, ExperimentSpec

REPO = Path(__file__).resolve().parents[3]
# Copies of shared/fixtures/lag_llama (facts about the published checkpoint), so the suite is self-contained in the image.
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def make_spec(manifest: DatasetManifest, horizon: int, profile: str = "quick", **hyper) -> ExperimentSpec:
    return ExperimentSpec(
        id="FD-01",
        slug=f"lagllama-h{horizon}",
        model="lagllama",
        env="gluonts",
        horizon=horizon,
        threshold=manifest.threshold,
        context_length=80,
        split_dates=manifest.split_dates,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
        seed=0,
        profile=profile,
        hyperparameters=hyper,
    )


def run_job(spec: ExperimentSpec, data_dir: Path, out_dir: Path, weights: Path | None) -> subprocess.CompletedProcess:
    """`python -m jobs run` exactly as the executors call it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_file = out_dir / "spec.json"
    spec_file.write_text(json.dumps(spec.model_dump(mode="json")))
    cmd = [
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
    if weights is not None:
        cmd += ["--weights", str(weights)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
