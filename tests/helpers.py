"""Helpers shared by tests (fixtures live in conftest.py)."""

import json
import subprocess
import sys
from pathlib import Path

from shared_schema import DatasetManifest, DatasetRef, ExperimentSpec

REPO = Path(__file__).resolve().parent.parent


def make_spec(manifest: DatasetManifest, model: str, env: str, horizon: int = 1, **hyper) -> ExperimentSpec:
    return ExperimentSpec(
        id="BL-99", slug=f"test-{model}-h{horizon}", model=model, env=env, horizon=horizon,
        threshold=manifest.threshold, context_length=80, split_dates=manifest.split_dates,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256), seed=0, profile="quick",
        hyperparameters=hyper,
    )


def run_job_subprocess(spec: ExperimentSpec, data_dir: Path, out_dir: Path) -> subprocess.CompletedProcess:
    """The job entrypoint exactly as executors call it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_file = out_dir / "spec.json"
    spec_file.write_text(json.dumps(spec.model_dump(mode="json")))
    return subprocess.run(
        [sys.executable, "-m", "jobs", "run", "--spec", str(spec_file), "--data", str(data_dir), "--out", str(out_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
