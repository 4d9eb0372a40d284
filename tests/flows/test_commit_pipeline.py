"""The one commit pipeline (shared_schema/commit.py) as the host and compose/run.py use it: the same
lock, the same failure record, the earlier result kept when a commit fails, and failure records
that cannot be read shown rather than dropped."""

import datetime as dt
import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from compose import run as compose_run
from jobs.common.runner import run_job
from orchestrator.cli import cli
from orchestrator.registry import BY_SLUG
from orchestrator.results import RESULT_FILE, FailureRecord, ResultStore, UnreadableFailure
from orchestrator.runs import plan_run
from shared_schema.commit import STAGING_DIR, commit_staging, write_failure_record
from tests.support.helpers import commit_with_store, race_committers


def _commit_like_compose(root: str, run, commits: int, barrier, errors) -> None:
    """What compose/run.py does after validation: its own unlocked staging folder, then commit_staging."""
    results = Path(root)
    barrier.wait()
    for i in range(commits):
        try:
            staging = results / STAGING_DIR / f"{run.folder_name}-compose{os.getpid()}-{i}"
            staging.mkdir(parents=True)
            (staging / RESULT_FILE).write_text(json.dumps({"writer": "compose", "i": i}))
            commit_staging(results, staging, results / run.folder_name)
        except Exception as exc:
            errors.put(f"compose: {type(exc).__name__}: {exc}")


def test_compose_and_orch_commits_of_one_run_take_turns(tmp_path, bundled_data):
    """Real processes, two of each kind, committing the same run at once: without the shared lock
    the exists()/rename steps race (ENOTEMPTY, a vanished trash folder); with it, no error and one
    complete folder."""
    run = plan_run(BY_SLUG["logreg-h1"], bundled_data[1], "quick", 0, env_fingerprint="test")
    commits = 40
    assert race_committers([_commit_like_compose, commit_with_store] * 2, tmp_path, run, commits) == []
    final = tmp_path / run.folder_name
    assert json.loads((final / RESULT_FILE).read_text())["i"] == commits - 1
    assert list((tmp_path / STAGING_DIR).iterdir()) == []


def test_a_failed_commit_keeps_the_earlier_result(tmp_path):
    final = tmp_path / "logreg-h1-s0-0123456789ab"
    final.mkdir()
    (final / RESULT_FILE).write_text("earlier")
    with pytest.raises(OSError):
        commit_staging(tmp_path, tmp_path / STAGING_DIR / "vanished", final)  # the rename itself fails
    assert (final / RESULT_FILE).read_text() == "earlier"
    assert list((tmp_path / STAGING_DIR).iterdir()) == []


def test_compose_failure_record_is_the_hosts_model(tmp_path, bundled_data):
    run = plan_run(BY_SLUG["logreg-h1"], bundled_data[1], "quick", 0, env_fingerprint="test")
    log = tmp_path / "job.log"
    log.write_text("the job's output\n")
    compose_run.record_failure(
        tmp_path, folder_name=run.folder_name, key=run.key, spec=run.spec, kind="crash", reason="boom", log=log
    )
    [record] = ResultStore(tmp_path).failures()
    assert isinstance(record, FailureRecord)
    assert (record.slug, record.seed, record.run_key, record.kind, record.reason) == (
        "logreg-h1",
        0,
        run.key.run_key,
        "crash",
        "boom",
    )


def test_an_unreadable_failure_record_is_shown_not_dropped(orch_home):
    results = orch_home["ORCH_RESULTS_DIR"]
    broken = results / "_failed" / "logreg-h1-s0-0123456789ab-20260101T000000000000"
    broken.mkdir(parents=True)
    (broken / "failure.json").write_text('{"slug": "logreg-h1", "kind": ')
    [entry] = ResultStore(results).failures()
    assert isinstance(entry, UnreadableFailure) and entry.folder == broken
    runner = CliRunner()
    shown = runner.invoke(cli, ["status"])
    assert shown.exit_code == 0, shown.output
    warning = [line for line in shown.output.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "1 failure record(s) could not be read" in warning[0]
    assert "unreadable record" in shown.output and broken.name[:20] in shown.output
    listed = json.loads(runner.invoke(cli, ["status", "--json"]).stdout)["failures"]
    assert listed == [{"folder": broken.name, "kind": "unreadable record", "reason": entry.reason}]
    planned = runner.invoke(cli, ["plan", "logreg-h1", "--executor", "native", "--json"])
    assert planned.exit_code == 0 and json.loads(planned.stdout)[0]["reason"] == "missing (never run)"


# -- a commit killed between any two of its steps (issue 36 item 2) -------------------------------------
def _committed_run(store: ResultStore, run, outputs: Path, started) -> Path:
    """Through orch's own path: a flocked staging folder, the job's outputs, validation, provenance."""
    staging = store.new_staging(run)
    for name in ("result.json", "predictions.parquet"):
        shutil.copyfile(outputs / name, staging / name)
    store.ingest(staging, run, executor="native", started=started)
    return staging


@pytest.fixture(scope="module")
def job_outputs(tmp_path_factory, bundled_data) -> tuple[Path, object]:
    """A real logreg-h1 job's outputs (no provenance yet) and the run they answer."""
    data_dir, manifest = bundled_data
    run = plan_run(BY_SLUG["logreg-h1"], manifest, "quick", 0, env_fingerprint="test")
    outputs = tmp_path_factory.mktemp("outputs")
    (outputs / "spec.json").write_text(run.spec.model_dump_json())
    with threadpool_limits(limits=1):
        run_job(outputs / "spec.json", data_dir, outputs, None)
    return outputs, run


class _Killer:
    """Counts the commit's filesystem steps and SIGKILLs this process just before step `at`."""

    def __init__(self, at: int):
        self.at, self.done = at, 0

    def step(self) -> None:
        if self.done == self.at:
            os.kill(os.getpid(), signal.SIGKILL)
        self.done += 1


def _commit_and_die(root: str, run, outputs: Path, at: int, swap: bool) -> None:
    """A child process: a --force rerun of `run` whose commit is killed before its step `at`."""
    import shared_schema.commit as commit

    killer = _Killer(at)
    real_rename, real_rmtree, real_exchange = Path.rename, shutil.rmtree, commit.exchange

    def rename(self, target):
        killer.step()
        return real_rename(self, target)

    def rmtree(path, ignore_errors=False):
        killer.step()
        return real_rmtree(path, ignore_errors=ignore_errors)

    def exchange(a, b):
        if not swap:
            return False  # a system without an atomic swap: the fallback path
        killer.step()
        return real_exchange(a, b)

    store = ResultStore(Path(root))
    staging = _committed_run(store, run, outputs, dt.datetime.now(dt.UTC))
    Path.rename, commit.shutil.rmtree, commit.exchange = rename, rmtree, exchange
    store.commit(staging, run)
    os._exit(0)  # ran past every step


@pytest.mark.parametrize("swap", [True, False], ids=["atomic swap", "no atomic swap"])
@pytest.mark.parametrize("at", range(4))
def test_a_commit_killed_between_any_two_steps_loses_no_finished_result(tmp_path, job_outputs, swap, at):
    """A finished run, then a --force rerun whose commit is SIGKILLed before its 1st, 2nd, 3rd step
    or not at all: `orch plan` and `orch status` must still find a valid result (the old one until the
    new one is in place), and the next run's sweep restores, never deletes, a result set aside."""
    import multiprocessing

    outputs, run = job_outputs
    store = ResultStore(tmp_path)
    store.commit(_committed_run(store, run, outputs, dt.datetime.now(dt.UTC)), run)
    old = store.lookup(run)[0].provenance.finished_at
    child = multiprocessing.get_context("fork").Process(
        target=_commit_and_die, args=(str(tmp_path), run, outputs, at, swap)
    )
    child.start()
    child.join(timeout=60)
    killed = child.exitcode == -signal.SIGKILL
    assert killed == (at < 3)
    found, why = ResultStore(tmp_path).lookup(run)
    # only the no-swap path has a window (between its two renames) with no folder in place
    in_window = not swap and at == 1
    assert (found is None) == in_window, why
    ResultStore(tmp_path).sweep_abandoned()
    found, why = ResultStore(tmp_path).lookup(run)
    assert found is not None, why
    new_is_in = at >= (1 if swap else 2)
    assert (found.provenance.finished_at > old) == new_is_in
    assert list((tmp_path / STAGING_DIR).iterdir()) == []
    assert [s.folder.name for s in ResultStore(tmp_path).finished()] == [run.folder_name]


# -- nothing followed out of staging, results or _failed (issue 36 item 3) ------------------------------
def _failure(results: Path, run, log: Path):
    return write_failure_record(
        results, run_folder=run.folder_name, spec=run.spec, key=run.key, kind="crash", reason="boom", log=log
    )


def test_a_log_link_planted_in_staging_is_not_followed(tmp_path, job_outputs):
    _, run = job_outputs
    secret = tmp_path / "outside" / "secret"
    secret.parent.mkdir()
    secret.write_text("host secret\n")
    secret.chmod(0o600)
    staging = tmp_path / "results" / STAGING_DIR / "orch-x"
    staging.mkdir(parents=True)
    (staging / "job.log").symlink_to(secret)
    record = _failure(tmp_path / "results", run, staging / "job.log")
    copied = record / "job.log"
    assert not copied.is_symlink() and "host secret" not in copied.read_text()
    assert "symbolic link; not followed" in copied.read_text()
    # a real log keeps its permissions: never more readable than the job left it
    (staging / "job.log").unlink()
    (staging / "job.log").write_text("the job's own output\n")
    (staging / "job.log").chmod(0o600)
    record = _failure(tmp_path / "results", run, staging / "job.log")
    assert (record / "job.log").read_text() == "the job's own output\n"
    assert (record / "job.log").stat().st_mode & 0o777 == 0o600


def test_store_folders_that_are_links_out_are_refused(tmp_path, job_outputs):
    _, run = job_outputs
    outside = tmp_path / "outside"
    outside.mkdir()
    results = tmp_path / "results"
    results.mkdir()
    (results / "_failed").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OSError, match="symbolic link"):
        _failure(results, run, None)
    [entry] = ResultStore(results).failures()
    assert isinstance(entry, UnreadableFailure) and "not followed" in entry.reason
    (results / STAGING_DIR).symlink_to(outside, target_is_directory=True)
    with pytest.raises(OSError, match="symbolic link"):
        ResultStore(results).new_staging(run)
    assert list(outside.iterdir()) == []
