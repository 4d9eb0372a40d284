"""Real runs made the way a user makes them (`orch run`, native executor, quick profile, bundled
data) and `orch report` over them, once per session: for the export and browser tests."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared_schema import JobResult
from shared_schema.identity import KeyParts, canonical_spec_json, run_folder_name, sha256_text
from tests.support.helpers import REPO

BASELINE_SLUGS = ("logreg-h1", "logreg-h3", "logregvol-h1", "logregvol-h3")
RUN_TIMEOUT_S = 1800  # a cold session builds the sklearn venv first


@dataclass(frozen=True)
class RealRuns:
    results: Path
    env: dict[str, str]  # the ORCH_* environment the runs were made with


def orch(
    *args: str, env: dict[str, str], cwd: Path = REPO, timeout: float = RUN_TIMEOUT_S
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def baseline_runs(tmp_path_factory, bundled_data, venv_cache) -> RealRuns:
    """The four logistic-regression baselines (H1, H3) run by `orch run`, then `orch report`."""
    home = tmp_path_factory.mktemp("baseline-runs")
    data_dir, manifest = bundled_data
    env = {
        **os.environ,
        "ORCH_DATA_DIR": str(data_dir),
        "ORCH_RESULTS_DIR": str(home / "results"),
        "ORCH_CACHE_DIR": str(venv_cache),
        "ORCH_WEIGHTS_DIR": str(home / "weights"),
        "ORCH_EXECUTOR": "native",
    }
    done = orch("run", *BASELINE_SLUGS, "-j", "2", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    done = orch("report", "--bootstrap", "200", env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return RealRuns(home / "results", env)


def copy_run(source: Path, results: Path, *, seed: int | None = None, weights_kind: str | None = None) -> Path:
    """A committed copy of a real run with another seed and/or weights kind, keyed exactly as a commit
    keys it (the metrics stay true to the predictions, which are copied as they are)."""
    result = JobResult.model_validate(json.loads((source / "result.json").read_text()))
    spec = result.spec.model_copy(update={"seed": result.spec.seed if seed is None else seed})
    provenance = result.provenance
    spec_sha = sha256_text(canonical_spec_json(spec))
    parts = KeyParts(
        spec_sha,
        provenance.dataset_sha256,
        provenance.env_fingerprint,
        provenance.code_sha256,
        provenance.weights_sha256,
    )
    update = {
        "spec": spec,
        "provenance": provenance.model_copy(update={"spec_sha256": spec_sha, "run_key": parts.run_key}),
    }
    if weights_kind is not None:
        update["weights"] = result.weights.model_copy(update={"kind": weights_kind})
    copied = JobResult.model_validate(result.model_copy(update=update).model_dump())
    folder = results / run_folder_name(spec, parts.run_key)
    folder.mkdir(parents=True)
    (folder / "predictions.parquet").write_bytes((source / "predictions.parquet").read_bytes())
    (folder / "result.json").write_text(copied.model_dump_json(indent=2) + "\n")
    return folder
