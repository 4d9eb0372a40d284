"""The one commit pipeline (shared_schema/commit.py) as the host and compose/run.py use it: the same
lock, the same failure record, the earlier result kept when a commit fails, and failure records
that cannot be read shown rather than dropped."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose import run as compose_run
from orchestrator.cli import cli
from orchestrator.registry import BY_SLUG
from orchestrator.results import RESULT_FILE, FailureRecord, ResultStore, UnreadableFailure
from orchestrator.runs import plan_run
from shared_schema.commit import STAGING_DIR, commit_staging
from tests.helpers import commit_with_store, race_committers


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
