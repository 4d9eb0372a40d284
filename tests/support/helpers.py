"""Helpers shared by tests (fixtures live in conftest.py)."""

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator import registry
from shared_schema import DatasetManifest, DatasetRef, ExperimentSpec

REPO = Path(__file__).resolve().parents[2]
JOB_STARTED = "[job] "  # the job's first log line, printed once the dataset is loaded
EVENT_TIMEOUT = 180  # upper bound for any single wait on an event; reached only when something is broken


def make_spec(manifest: DatasetManifest, model: str, env: str, horizon: int = 1, **hyper) -> ExperimentSpec:
    return ExperimentSpec(
        id="BL-99",
        slug=f"test-{model}-h{horizon}",
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


def run_job_subprocess(spec: ExperimentSpec, data_dir: Path, out_dir: Path) -> subprocess.CompletedProcess:
    """The job entrypoint exactly as executors call it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_file = out_dir / "spec.json"
    spec_file.write_text(json.dumps(spec.model_dump(mode="json")))
    return subprocess.run(
        [sys.executable, "-m", "jobs", "run", "--spec", str(spec_file), "--data", str(data_dir), "--out", str(out_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def wait_for(condition, what: str, timeout: float = EVENT_TIMEOUT, process: subprocess.Popen | None = None):
    """Poll `condition` until it returns something truthy; fail (with orch's output) past `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"orch exited ({process.returncode}) before {what}: {process.communicate()}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def commit_with_store(root: str, run, commits: int, barrier, errors) -> None:
    """One process committing `run` again and again through orch's ResultStore (for race tests)."""
    from orchestrator.results import RESULT_FILE, ResultStore

    store = ResultStore(Path(root))
    barrier.wait()
    for i in range(commits):
        try:
            staging = store.new_staging(run)
            (staging / RESULT_FILE).write_text(json.dumps({"writer": "orch", "i": i}))
            store.commit(staging, run)
        except Exception as exc:
            errors.put(f"orch: {type(exc).__name__}: {exc}")


def race_committers(targets, root: Path, run, commits: int) -> list[str]:
    """Each target(root, run, commits, barrier, errors) in its own real process, all released at
    once; returns the errors they reported (each process must exit cleanly, within EVENT_TIMEOUT)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    barrier, errors = context.Barrier(len(targets)), context.Queue()
    workers = [context.Process(target=target, args=(str(root), run, commits, barrier, errors)) for target in targets]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=EVENT_TIMEOUT)
        assert worker.exitcode == 0
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    return failures


def seal_run(folder: Path, env_fingerprint: str = "test-fixture") -> Path:
    """Commit a folder of job outputs written in place by a test (no executor ran it): provenance
    stamped by the shared commit pipeline with a test environment and code identity, and the folder
    renamed after its run key, so every reader (`orch validate`, report, export) accepts it. The
    weights kind is part of the code identity: two fixtures of one spec under different weights
    are two runs (as are two under different `env_fingerprint`s)."""
    import datetime as dt

    from shared_schema import JobResult
    from shared_schema.commit import RESULT_FILE, stamp_provenance
    from shared_schema.identity import KeyParts, canonical_spec_json, run_folder_name, sha256_text

    result = JobResult.model_validate_json((folder / RESULT_FILE).read_bytes())
    key = KeyParts(
        spec_sha256=sha256_text(canonical_spec_json(result.spec)),
        dataset_sha256=result.spec.dataset.sha256,
        env_fingerprint=env_fingerprint,
        code_sha256=sha256_text(f"test fixture, weights {result.weights.kind}"),
        weights_sha256=None,
    )
    moment = dt.datetime.now(dt.UTC)
    stamp_provenance(
        folder,
        result,
        key,
        executor="native",
        git_commit=None,
        git_dirty=None,
        host_platform="test fixture",
        started_at=moment,
        finished_at=moment,
        wall_seconds=0.0,
    )
    sealed = folder.parent / run_folder_name(result.spec, key.run_key)
    folder.rename(sealed)
    return sealed


def replace_experiment(monkeypatch, slug: str, **changes) -> None:
    """Swap one registry entry for a modified copy, for this test only."""
    old = registry.BY_SLUG[slug]
    new = dataclasses.replace(old, **changes)
    monkeypatch.setitem(registry.BY_SLUG, slug, new)
    monkeypatch.setitem(registry.BY_ID, old.id, new)
    monkeypatch.setattr(registry, "EXPERIMENTS", [new if e.slug == slug else e for e in registry.EXPERIMENTS])
