"""Hostile use of the results folder and of running jobs: concurrent commits, full and read-only
disks, results edited inside the schema, jobs and orch killed from outside, SIGTERM vs Ctrl-C.

Real jobs run in the real sklearn venv on the bundled S&P 500 data; every wait is on an event
(a log line, a process exit) and bounded.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.registry import BY_SLUG
from orchestrator.results import PREDICTIONS_FILE, RESULT_FILE, InvalidResult, ResultStore, load_finished
from orchestrator.runs import plan_run
from tests.support.helpers import EVENT_TIMEOUT, JOB_STARTED, REPO, commit_with_store, race_committers, wait_for


def orch(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_folders(results: Path) -> list[Path]:
    return (
        sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
        if results.is_dir()
        else []
    )


def start_orch(orch_home, *args: str) -> subprocess.Popen:
    env = {**os.environ, **{k: str(v) for k, v in orch_home.items()}}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started_jobs(results: Path, count: int) -> list[Path]:
    """Staging folders whose job has printed its first line (it is past start-up, into the work)."""
    logs = [log for log in (results / ".staging").glob("*/job.log") if JOB_STARTED in log.read_text()]
    return [log.parent for log in logs] if len(logs) >= count else []


def job_pids(staging: Path) -> list[int]:
    """The job processes (not their lifelines) working in `staging`."""
    listed = subprocess.run(["pgrep", "-a", "-f", f"jobs run --spec {staging}"], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in listed.splitlines() if "lifeline.py" not in line and "pgrep" not in line]


def failure_records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "_failed").glob("*/failure.json"))]


# -- concurrent commits ---------------------------------------------------------------------------
def test_concurrent_commits_of_the_same_run_are_safe(tmp_path, bundled_data):
    """Real processes committing the same run at once: no error, one complete folder, no trash."""
    run = plan_run(BY_SLUG["logreg-h1"], bundled_data[1], "quick", 0, env_fingerprint="test")
    commits = 40
    assert race_committers([commit_with_store] * 4, tmp_path, run, commits) == []
    final = tmp_path / run.folder_name
    assert sorted(p.name for p in final.iterdir()) == [RESULT_FILE, "spec.json"]
    assert json.loads((final / RESULT_FILE).read_text())["i"] == commits - 1  # some writer's last commit
    assert list((tmp_path / ".staging").iterdir()) == []  # no replaced-* or staging leftovers


# -- full and read-only disks -----------------------------------------------------------------------
def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "results/x")


def test_full_disk_leaves_no_empty_staging_and_failures_keep_their_record(tmp_path, bundled_data, monkeypatch):
    run = plan_run(BY_SLUG["logreg-h1"], bundled_data[1], "quick", 0, env_fingerprint="test")
    store = ResultStore(tmp_path)
    log = tmp_path / "job.log"
    log.write_text("a long job log\n")
    with monkeypatch.context() as m:
        m.setattr("orchestrator.results.atomic_write_text", _no_space)  # the staging folder's spec.json
        m.setattr("shared_schema.commit.atomic_write_text", _no_space)  # the failure record
        with pytest.raises(OSError):
            store.new_staging(run)
        with pytest.raises(OSError):
            store.record_failure(run, "crash", "boom", log)
    assert list(store.staging_root.iterdir()) == []
    assert list((tmp_path / "_failed").iterdir()) == []  # no record rather than an empty one
    with monkeypatch.context() as m:
        m.setattr("shared_schema.commit.copy_own_file", _no_space)  # room for failure.json, not for the log
        folder = store.record_failure(run, "crash", "boom", log)
    assert sorted(p.name for p in folder.iterdir()) == ["failure.json"]


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB filesystem (tmpfs) as the results folder; needs root, as on the CI machine."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (the CI machine runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_full_and_read_only_results_disk_give_one_line_and_keep_results(orch_home, small_disk, monkeypatch):
    monkeypatch.setenv("ORCH_RESULTS_DIR", str(small_disk))
    first = orch("run", "logreg-h1")
    assert first.exit_code == 0, first.output
    [kept] = run_folders(small_disk)
    before = (kept / RESULT_FILE).read_bytes()

    _fill(small_disk)
    full = orch("run", "logreg-h1", "--force")
    assert full.exit_code == 2
    assert "Traceback" not in full.output and "No space left on device" in full.output
    assert full.output.strip().splitlines()[-1].startswith("Error: 1 of 1 job(s) did not finish")
    assert [p for p in (small_disk / ".staging").iterdir()] == []
    assert all((p / "failure.json").is_file() for p in (small_disk / "_failed").iterdir())
    assert (kept / RESULT_FILE).read_bytes() == before and load_finished(kept)

    (small_disk / "filler").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    read_only = orch("run", "logreg-h1", "--force")
    assert read_only.exit_code == 2
    [line] = read_only.output.strip().splitlines()[-1:]
    assert "is not writable: Read-only file system" in line and "Traceback" not in read_only.output
    assert (kept / RESULT_FILE).read_bytes() == before


# -- results edited inside the schema -----------------------------------------------------------------
def _edit_result(folder: Path, change) -> None:
    payload = json.loads((folder / RESULT_FILE).read_text())
    change(payload)
    (folder / RESULT_FILE).write_text(json.dumps(payload))


def _shuffle_predictions(folder: Path) -> None:
    table = pq.read_table(folder / PREDICTIONS_FILE)
    p = np.random.default_rng(0).permutation(table.column("p").to_numpy())
    pq.write_table(table.set_column(3, "p", pa.array(p, pa.float64())), folder / PREDICTIONS_FILE)


TAMPERINGS = {
    "auc": lambda folder: _edit_result(folder, lambda r: r["metrics"]["test"].update(auc=0.99)),
    "shuffled": _shuffle_predictions,
    "slug": lambda folder: _edit_result(folder, lambda r: r["spec"].update(slug="logregvol-h1")),
    "hyperparameters": lambda folder: _edit_result(folder, lambda r: r["spec"]["hyperparameters"].update(C=5.0)),
}


def test_results_edited_inside_the_schema_are_invalid_everywhere(orch_home):
    results = orch_home["ORCH_RESULTS_DIR"]
    assert orch("run", "logreg-h1").exit_code == 0
    [folder] = run_folders(results)
    pristine = results.parent / "pristine"
    shutil.copytree(folder, pristine)
    (results / "figures").mkdir()  # what `orch report` leaves in the results folder
    (results / "figures" / "auc-h1.png").write_bytes(b"png")
    (results / "report.md").write_text("# report\n")
    clean = orch("validate")
    assert clean.exit_code == 0 and clean.output.count("ok ") == 1, clean.output

    for name, tamper in TAMPERINGS.items():
        shutil.rmtree(folder)
        shutil.copytree(pristine, folder)
        tamper(folder)
        with pytest.raises(InvalidResult):
            load_finished(folder)
        validated = orch("validate")
        assert validated.exit_code == 2 and "invalid" in validated.output, (name, validated.output)
        listed = {row["slug"]: row for row in json.loads(orch("list", "--json", "--show-test").output)}
        assert listed["logreg-h1"]["last_test_auc"] is None, name
        plan = json.loads(orch("plan", "logreg-h1", "--json").output)
        assert plan[0]["action"] == "run" and plan[0]["reason"].startswith("invalid result"), (name, plan)


# -- jobs and orch killed from outside ------------------------------------------------------------------
LONG_JOB = ("run", "gboost-h1", "--set", "max_iter=100000")  # trains for minutes unless stopped


def test_external_kill_9_of_a_job_is_reported_as_signal_9(orch_home):
    results = orch_home["ORCH_RESULTS_DIR"]
    process = start_orch(orch_home, *LONG_JOB)
    [staging] = wait_for(lambda: started_jobs(results, 1), "the job to start", process=process)
    for pid in wait_for(lambda: job_pids(staging), "the job's process"):
        os.kill(pid, signal.SIGKILL)
    _, err = process.communicate(timeout=EVENT_TIMEOUT)
    assert process.returncode == 2, err
    [record] = failure_records(results)
    assert record["kind"] == "crash" and record["reason"] == "killed by signal 9 (SIGKILL)"
    assert "out of memory" not in err


def test_sigterm_is_reported_as_sigterm(orch_home):
    results = orch_home["ORCH_RESULTS_DIR"]
    process = start_orch(orch_home, *LONG_JOB)
    wait_for(lambda: started_jobs(results, 1), "the job to start", process=process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=EVENT_TIMEOUT)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "interrupted by SIGTERM" in err and "Ctrl-C" not in err
    [record] = failure_records(results)
    assert record["kind"] == "interrupted" and record["reason"] == "interrupted by SIGTERM"


def test_kill_9_of_orch_takes_its_jobs_along_and_the_next_run_sweeps_staging(orch_home):
    results = orch_home["ORCH_RESULTS_DIR"]
    process = start_orch(orch_home, *LONG_JOB)
    [staging] = wait_for(lambda: started_jobs(results, 1), "the job to start", process=process)
    assert job_pids(staging)
    process.kill()
    process.communicate(timeout=EVENT_TIMEOUT)
    wait_for(lambda: not job_pids(staging), "the orphaned job to stop", timeout=60)
    assert staging.is_dir()  # abandoned: nothing ran the clean-up
    status = json.loads(orch("status", "--json").output)
    assert status["abandoned"] == [staging.name] and status["in_progress"] == []
    compose_staging = results / ".staging" / "logreg-h3-s0-0123456789ab-cafe0123"  # `docker compose up` at work
    compose_staging.mkdir()
    rerun = orch("run", "logreg-h1")
    assert rerun.exit_code == 0, rerun.output
    assert f"cleared 1 folder(s) a killed run left in .staging: {staging.name}" in rerun.output
    assert [p for p in (results / ".staging").iterdir()] == [compose_staging]  # not orch's: left alone


def test_report_on_a_full_or_read_only_results_disk_is_one_line(small_disk, bundled_data):
    """Issue 36 item 5: the report's writes fail in one line, before or after the bootstraps."""
    from jobs.common.runner import run_job
    from tests.support.helpers import seal_run
    from tests.support.planted_results import result_folder, spec_for

    data_dir, manifest = bundled_data
    folder = result_folder(small_disk, spec_for("logreg", 1, 0, "quick", manifest.sha256))
    run_job(folder / "spec.json", data_dir, folder, None)
    seal_run(folder)
    _fill(small_disk)
    full = orch("report", "--results", str(small_disk))
    assert full.exit_code == 2 and "Traceback" not in full.output
    assert full.output.strip().splitlines()[-1].startswith(f"Error: cannot write the report to {small_disk}: No space")
    (small_disk / "filler").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    read_only = orch("report", "--results", str(small_disk))
    assert read_only.exit_code == 2 and "Read-only file system" in read_only.output.strip().splitlines()[-1]
