"""Issue 13 items 9 and 10: planning costs O(experiments), not hashing per seed; a named experiment
that cannot run fails the command, while `--all` only lists it."""

import json

from click.testing import CliRunner

from orchestrator import registry, runs
from orchestrator.cli import cli
from orchestrator.results import ResultStore


def orch(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_planning_work_per_seed_is_constant(orch_home, monkeypatch):
    calls = {"code": 0, "failures": 0}
    real_code, real_failures = runs.code_sha256, ResultStore.failures

    def counting_code(env, model):
        calls["code"] += 1
        return real_code(env, model)

    def counting_failures(self):
        calls["failures"] += 1
        return real_failures(self)

    monkeypatch.setattr(runs, "code_sha256", counting_code)
    monkeypatch.setattr(ResultStore, "failures", counting_failures)
    result = orch("plan", "--all", "--seeds", "200", "--json")
    assert result.exit_code == 0, result.output[-500:]
    rows = json.loads(result.output)
    assert len(rows) == 200 * len(registry.EXPERIMENTS)
    assert len({row["run_key"] for row in rows}) == len(rows)  # every seed is its own run
    assert calls == {"code": len(registry.EXPERIMENTS), "failures": 1}


def test_seeds_are_capped(orch_home):
    result = orch("plan", "logreg-h1", "--seeds", "1001")
    assert result.exit_code == 2 and "1<=x<=1000" in result.output


def test_a_named_experiment_that_cannot_run_fails_the_command(orch_home):
    named = orch("run", "FD-01")
    assert named.exit_code == 2
    assert (
        named.output.strip()
        .splitlines()[-1]
        .startswith("Error: FD-01 lagllama-h1 cannot run: needs pretrained weights: run `orch weights pull lag-llama`")
    )
    by_model = orch("run", "--model", "timesfm")
    assert by_model.exit_code == 2 and "FD-03 timesfm-h1 cannot run" in by_model.output
    assert "(and 1 more: FD-04)" in by_model.output


def test_all_lists_what_cannot_run_and_succeeds(orch_home, monkeypatch):
    foundation = [e for e in registry.EXPERIMENTS if e.weights]
    monkeypatch.setattr(registry, "EXPERIMENTS", foundation)
    result = orch("run", "--all", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert [row["status"] for row in summary["experiments"]] == ["needs weights"] * len(foundation)
