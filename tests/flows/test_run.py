"""Orchestrator core against real jobs in a real (sklearn) venv: plan, cache, failures, Ctrl-C."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator import registry
from orchestrator.cli import cli
from orchestrator.environments import ENVIRONMENTS, Environment
from orchestrator.executors.native import NativeExecutor, VenvManager
from orchestrator.results import RESULT_FILE
from tests.support.helpers import EVENT_TIMEOUT, JOB_STARTED, REPO, replace_experiment, wait_for

BASELINES = ["logreg-h1", "logreg-h3", "logregvol-h1", "gboost-h1"]


def orch(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def plan_json(*selection: str) -> dict[str, dict]:
    result = orch("plan", *selection, "--json")
    assert result.exit_code == 0, result.output
    return {(row["slug"], row["seed"]): row for row in json.loads(result.output)}


def run_folders(results: Path) -> list[Path]:
    return (
        sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
        if results.is_dir()
        else []
    )


def test_registry_is_complete():
    ids = {e.id for e in registry.EXPERIMENTS}
    assert {f"FD-{n:02d}" for n in range(1, 19)} <= ids
    slugs = [e.slug for e in registry.EXPERIMENTS]
    for stem in (
        "lagllama",
        "timesfm",
        "itransformer",
        "timemixer",
        "informer",
        "autoformer",
        "fedformer",
        "etsformer",
        "crossformer",
        "patchtst",
        "logreg",
        "gboost",
    ):
        assert {f"{stem}-h1", f"{stem}-h3"} <= set(slugs)
    assert registry.BY_ID["FD-03"].slug == "timesfm-h1" and registry.BY_ID["FD-18"].slug == "crossformer-h3"
    for e in registry.EXPERIMENTS:
        assert e.resources.memory_gb > 0 and e.resources.cpus >= 1, e.slug


def test_list_and_plan_show_what_cannot_run(orch_home, monkeypatch):
    replace_experiment(monkeypatch, "gboost-h3", model="not-written-yet")
    rows = {r["slug"]: r for r in json.loads(orch("list", "--json").output)}
    assert rows["gboost-h3"]["status"] == "not implemented"
    assert rows["logreg-h1"]["status"] == "ready"
    assert rows["timesfm-h1"]["status"] in ("needs weights", "not implemented")  # no weights offline
    plan = plan_json("gboost-h3", "timesfm-h1")
    assert plan[("gboost-h3", 0)]["action"] == "unavailable"
    assert plan[("timesfm-h1", 0)]["action"] == "unavailable"
    run = orch("run", "gboost-h3", "timesfm-h1")  # named, so not running them is a failure (issue 13 item 10)
    assert run.exit_code == 2 and "not implemented" in run.output and "cannot run" in run.output


def test_second_wave_rows_are_listed_with_their_status(orch_home):
    """Timer, ARMA-Attention and PatchTST 200M run; MarketGPT and LENS are listed with a reason, never dropped."""
    assert [registry.BY_ID[i].slug for i in ("FD-19", "FD-20", "FD-21", "FD-22", "BL-09", "BL-10")] == [
        "timer-h1",
        "timer-h3",
        "armattn-h1",
        "armattn-h3",
        "patchtst-200m-h1",
        "patchtst-200m-h3",
    ]
    rows = {r["slug"]: r for r in json.loads(orch("list", "--json").output)}
    assert rows["timer-h1"]["status"] == "needs weights"  # offline: no published checkpoint in the cache
    assert rows["armattn-h3"]["status"] == "ready"
    assert rows["marketgpt-h1"]["status"] == "not applicable" and "order-book" in rows["marketgpt-h1"]["note"]
    assert rows["lens-h3"]["status"] == "no public weights" and rows["lens-h3"]["note"]
    assert "stand-in" in rows["patchtst-200m-h1"]["note"]
    assert registry.BY_SLUG["patchtst-200m-h1"].params("full")["size"] == 200_000_000
    assert registry.BY_SLUG["patchtst-200m-h1"].resources.gpu == "required"
    plan = {
        r["slug"]: r
        for r in json.loads(orch("plan", "--json", "--profile", "full", "patchtst-200m-h1", "lens-h1").output)
    }
    assert "GPU" in plan["patchtst-200m-h1"]["estimate"]
    assert plan["lens-h1"]["action"] == "unavailable" and plan["lens-h1"]["reason"].startswith("no public weights: ")
    table = orch("plan", "--profile", "full", "patchtst-200m-h3").output
    assert "needs a GPU" in " ".join(table.split())


def test_unknown_experiment_is_one_line_error(orch_home):
    result = orch("run", "FD-99")
    assert result.exit_code == 2 and "unknown experiment 'FD-99'" in result.output


def test_run_cache_and_plan_reasons(orch_home, monkeypatch):
    results = orch_home["ORCH_RESULTS_DIR"]
    assert plan_json("logreg-h1")[("logreg-h1", 0)]["reason"] == "missing (never run)"
    first = orch("run", "logreg-h1", "--jobs", "1")
    assert first.exit_code == 0, first.output
    [folder] = run_folders(results)
    assert json.loads((folder / RESULT_FILE).read_text())["provenance"]["executor"] == "native"
    assert plan_json("logreg-h1")[("logreg-h1", 0)]["action"] == "skip"

    again = orch("run", "logreg-h1")  # everything cached: no work, folder untouched
    assert again.exit_code == 0 and "1 cached" in again.output
    assert run_folders(results) == [folder]

    with monkeypatch.context() as m:
        replace_experiment(m, "logreg-h1", hyperparameters={"quick": {"C": 0.5}, "full": {}})
        assert plan_json("logreg-h1")[("logreg-h1", 0)]["reason"] == "spec changed"
    with monkeypatch.context() as m:
        m.setattr("orchestrator.runs.code_sha256", lambda env, model: "f" * 64)
        assert plan_json("logreg-h1")[("logreg-h1", 0)]["reason"] == "code changed"
    with monkeypatch.context() as m:
        m.setattr(Environment, "native_fingerprint", lambda self: "lock-different")
        assert plan_json("logreg-h1")[("logreg-h1", 0)]["reason"] == "environment changed"
    with monkeypatch.context() as m:
        rebuilt = orch(
            "data", "build", "--threshold", "0.01", "--horizons", "1,3,5", "--out", str(orch_home["ORCH_DATA_DIR"])
        )
        assert rebuilt.exit_code == 0, rebuilt.output
        assert plan_json("logreg-h1")[("logreg-h1", 0)]["reason"] == "data changed"


def test_failures_are_reported_while_others_finish(orch_home, monkeypatch):
    """A crash, an invalid result and a timeout each fail with their reason; the rest finish."""
    results = orch_home["ORCH_RESULTS_DIR"]
    replace_experiment(monkeypatch, "logreg-h3", hyperparameters={"quick": {"C": -1.0}, "full": {}})
    slow = dataclasses.replace(registry.BY_SLUG["gboost-h1"].resources, timeout_s={"quick": 2, "full": 2})
    replace_experiment(
        monkeypatch, "gboost-h1", resources=slow, hyperparameters={"quick": {"max_iter": 100000}, "full": {}}
    )

    class CorruptingExecutor(NativeExecutor):
        """The real executor, then a job output broken the way a buggy job would break it."""

        def execute(self, request):
            outcome = super().execute(request)
            if request.run.spec.slug == "logregvol-h1":
                path = request.staging / RESULT_FILE
                payload = json.loads(path.read_text())
                payload["metrics"]["test"]["auc"] = 1.7
                path.write_text(json.dumps(payload))
            return outcome

    monkeypatch.setattr(
        "orchestrator.experiment_runs.choose_executor",
        lambda name, options: (CorruptingExecutor(), "corrupting test executor"),
    )
    result = orch("run", *BASELINES, "--jobs", "2", "--keep-going", "--json")
    assert result.exit_code == 2
    summary = {row["slug"]: row for row in json.loads(_json_block(result.output))["experiments"]}
    assert summary["logreg-h1"]["status"] == "ok"
    assert summary["logreg-h3"]["status"] == "failed" and "crash" in summary["logreg-h3"]["detail"]
    assert "C" in summary["logreg-h3"]["detail"]  # the job names the bad parameter
    assert summary["gboost-h1"]["status"] == "failed" and "timed out after 2s" in summary["gboost-h1"]["detail"]
    assert summary["logregvol-h1"]["status"] == "failed" and "invalid-result" in summary["logregvol-h1"]["detail"]
    assert [p.name.rsplit("-", 1)[0] for p in run_folders(results)] == ["logreg-h1-s0"]
    failures = {
        json.loads(p.read_text())["slug"]: json.loads(p.read_text())
        for p in (results / "_failed").glob("*/failure.json")
    }
    assert {f["kind"] for f in failures.values()} == {"crash", "invalid-result", "timeout"}
    assert not list((results / ".staging").iterdir())
    assert plan_json("logreg-h3")[("logreg-h3", 0)]["reason"].startswith("previous run failed (crash")


def _json_block(output: str) -> str:
    """The JSON summary printed on stdout, without the progress lines on stderr."""
    start = output.index('{\n  "seconds"')
    return output[start:]


def test_parallel_runs_produce_valid_results(orch_home):
    result = orch("run", *BASELINES[:3], "--jobs", "3")
    assert result.exit_code == 0, result.output
    folders = run_folders(orch_home["ORCH_RESULTS_DIR"])
    assert len(folders) == 3
    validated = orch("validate", str(orch_home["ORCH_RESULTS_DIR"]))
    assert validated.exit_code == 0 and validated.output.count("ok ") == 3


def test_validate_rejects_a_broken_result(orch_home):
    orch("run", "logreg-h1")
    [folder] = run_folders(orch_home["ORCH_RESULTS_DIR"])
    payload = json.loads((folder / RESULT_FILE).read_text())
    payload["unexpected"] = True
    (folder / RESULT_FILE).write_text(json.dumps(payload))
    result = orch("validate", str(folder))
    assert result.exit_code == 2 and "Extra inputs are not permitted" in result.output


def test_sigint_stops_jobs_and_leaves_no_partial_result(orch_home):
    results = orch_home["ORCH_RESULTS_DIR"]
    env = {**os.environ, **{k: str(v) for k, v in orch_home.items()}}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "run",
            "gboost-h1",
            "gboost-h3",
            "--jobs",
            "2",
            "--set",
            "max_iter=100000",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    staging = results / ".staging"
    # Both jobs are past start-up once each has printed its first line; bounded, never reached when healthy.
    wait_for(
        lambda: len([log for log in staging.glob("*/job.log") if JOB_STARTED in log.read_text()]) == 2,
        "both jobs to start",
        process=process,
    )
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=EVENT_TIMEOUT)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert run_folders(results) == []
    assert list(staging.iterdir()) == []
    leftover = subprocess.run(
        ["pgrep", "-f", f"jobs run --spec {staging}"], capture_output=True, text=True
    ).stdout.split()
    assert not leftover, f"orphan job processes: {leftover}"


def test_native_venv_is_created_once_and_reused(venv_cache, tmp_path):
    env = ENVIRONMENTS["sklearn"]
    venvs = VenvManager(venv_cache / "venvs")
    messages: list[str] = []
    python = venvs.ensure(env, messages.append)
    marker = venvs.path(env) / ".orch-ready"
    stamp = marker.stat().st_mtime_ns
    assert python.is_file()
    assert subprocess.run([str(python), "-c", "import sklearn, pyarrow, pydantic"]).returncode == 0
    messages.clear()
    assert venvs.ensure(env, messages.append) == python
    assert messages == [] and marker.stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_requirements_change_gives_a_new_venv_fingerprint(tmp_path, monkeypatch):
    env = ENVIRONMENTS["sklearn"]
    copy = tmp_path / "requirements.txt"
    copy.write_text(env.requirements.read_text() + "\n# changed\n")
    monkeypatch.setattr(Environment, "requirements", property(lambda self: copy))
    changed = env.native_fingerprint()
    monkeypatch.undo()
    assert changed != env.native_fingerprint()
    name = VenvManager(tmp_path).path(env).name
    assert name == "sklearn-" + env.native_fingerprint().replace(":", "-").replace("/", "-")  # ':' breaks PATH


def test_orchestrator_imports_no_job_stack():
    """The design's import rule: the host never loads a job stack (torch, jax, gluonts, timesfm, sklearn, chronos)."""
    code = (
        "import sys, pkgutil, importlib, orchestrator\n"
        "for m in pkgutil.walk_packages(orchestrator.__path__, 'orchestrator.'): importlib.import_module(m.name)\n"
        "print([m for m in ('torch', 'jax', 'gluonts', 'timesfm', 'sklearn', 'lightning', 'chronos', 'transformers') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_walk_forward_runs_one_job_per_fold_and_stays_blind_to_test(orch_home):
    """Real sklearn jobs on two walk-forward folds of the bundled data; run/list show validation AUC only."""
    built = orch("data", "build", "--folds", "2", "--out", str(orch_home["ORCH_DATA_DIR"]))
    assert built.exit_code == 0, built.output
    assert "fold 1: train < 2017-01-01 <= val < 2018-01-01 <= test < 2019-01-01" in built.output
    run = orch("run", "logreg-h1", "--dataset", "sp500-wf2")
    assert run.exit_code == 0, run.output
    folders = run_folders(orch_home["ORCH_RESULTS_DIR"])
    assert [f.name.split("-s0-")[0] for f in folders] == ["logreg-h1-f0", "logreg-h1-f1"]
    specs = [json.loads((f / RESULT_FILE).read_text())["spec"] for f in folders]
    assert [(s["fold"], s["split_dates"]["val_end"]) for s in specs] == [(0, "2017-01-01"), (1, "2018-01-01")]
    assert "val AUC" in run.output and "test AUC" not in run.output
    listed = orch("list")
    assert "last val AUC" in listed.output and "test AUC" not in listed.output
    assert "last test AUC" in orch("list", "--show-test").output
    assert "val AUC=" in (folders[0] / "job.log").read_text() and "test AUC" not in (folders[0] / "job.log").read_text()


@pytest.mark.parametrize("tool", ["pip", "uv"])
def test_venv_build_reports_its_steps_and_packages(tmp_path, monkeypatch, tool):
    """A venv build is never silent: its steps and each package the installer installs are reported."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("threadpoolctl==3.8.0\n")
    monkeypatch.setattr(Environment, "requirements", property(lambda self: requirements))
    monkeypatch.setenv("ORCH_VENV_TOOL", tool)
    messages: list[str] = []
    VenvManager(tmp_path / "venvs").ensure(ENVIRONMENTS["sklearn"], messages.append)
    assert messages[0].startswith("creating venv") and f"with {tool}" in messages[0]
    assert "venv sklearn: step 1/2: create the virtualenv" in messages
    assert "venv sklearn: step 2/2: install the pinned requirements" in messages
    if tool == "pip":
        assert any(m.startswith("venv sklearn: Collecting threadpoolctl==3.8.0") for m in messages)
        assert any(m.startswith("venv sklearn: Successfully installed threadpoolctl") for m in messages)
    else:
        assert "venv sklearn:  + threadpoolctl==3.8.0" in messages, messages
