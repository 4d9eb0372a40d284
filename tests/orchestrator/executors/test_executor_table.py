"""The executor table: what `--executor` offers, what provenance may record, and capabilities that
survive the routing wrappers (`--python ENV=PATH`, and `auto` with torch kept native on Apple silicon)."""

import json
import sys

import pytest
from click.testing import CliRunner
from pydantic import TypeAdapter, ValidationError

from jobs.registry import GROUP_ENTRYPOINTS
from orchestrator.cli import cli
from orchestrator.errors import UserError
from orchestrator.executors import (
    EXECUTOR_CHOICES,
    AutoExecutor,
    Executor,
    ExecutorOptions,
    NativeExecutor,
    RoutedExecutor,
    choose_executor,
    native_only_envs,
)
from orchestrator.executors.docker import DockerExecutor
from orchestrator.executors.existing import ExistingPythonExecutor
from orchestrator.executors.ray_executor import RayExecutor
from orchestrator.experiment_runs import RunRequest, prepare_run
from orchestrator.seed_groups import seed_groups
from shared_schema import Provenance


def _seeds_per_unit(executor: Executor, decisions) -> dict[str, list[list[int]]]:
    units = seed_groups([d for d in decisions if d.action == "run"], executor.groups_seeds)
    by_slug: dict[str, list[list[int]]] = {}
    for unit in units:
        by_slug.setdefault(unit[0].run.spec.slug, []).append([d.run.spec.seed for d in unit])
    return by_slug


def test_cli_choices_and_schema_come_from_the_table():
    """--help offers every choice; the factories that need no engine make the executor of their
    name; the result schema accepts the name each executor records and refuses any other."""
    run_help = CliRunner().invoke(cli, ["run", "--help"]).output
    for choice in EXECUTOR_CHOICES.values():
        assert choice.name in run_help
    for name in (NativeExecutor.name, RayExecutor.name):
        executor, _ = EXECUTOR_CHOICES[name].make(ExecutorOptions())
        assert executor.name == name
    recorded = TypeAdapter(Provenance.model_fields["executor"].annotation)
    for executor_class in (NativeExecutor, DockerExecutor, RayExecutor, ExistingPythonExecutor):
        assert recorded.validate_python(executor_class.name) == executor_class.name
    with pytest.raises(ValidationError):
        recorded.validate_python("direct")


def test_unknown_executor_lists_the_table(orch_home):
    with pytest.raises(UserError, match="choose auto, native, docker, ray"):
        choose_executor("podman", ExecutorOptions())
    result = CliRunner().invoke(cli, ["plan", "logreg-h1", "--executor", "podman"])
    assert result.exit_code == 2 and "podman" in result.output


def test_python_cannot_join_an_executor_that_runs_elsewhere():
    with pytest.raises(UserError, match="cannot be combined with --executor ray"):
        choose_executor("ray", ExecutorOptions(interpreters={"torch": sys.executable}))


def test_base_class_declares_every_capability_with_its_default():
    class Minimal(Executor):
        name = "native"

    minimal = Minimal()
    assert (minimal.runs_seed_groups, minimal.schedules_resources) == (False, False)
    assert minimal.groups_seeds(None) is False and minimal.close() is None
    assert NativeExecutor().runs_seed_groups and not DockerExecutor().runs_seed_groups


def test_seed_groups_stay_on_with_an_existing_interpreter(orch_home):
    """`--python torch=PATH` routes torch to ExistingPythonExecutor (a native process): its seeds share one."""
    prepared = prepare_run(
        RunRequest(
            names=("dlinear-h1", "logreg-h1"), seeds=3, executor="native", interpreters=(f"torch={sys.executable}",)
        ),
        build_dataset=True,
    )
    assert isinstance(prepared.executor, RoutedExecutor)
    assert _seeds_per_unit(prepared.executor, prepared.decisions) == {
        "dlinear-h1": [[0, 1, 2]],
        "logreg-h1": [[0], [1], [2]],
    }


def test_seed_groups_stay_on_for_torch_routed_native_by_auto(orch_home):
    """`auto` on Apple silicon (its platform facts injected): torch runs natively and groups its
    seeds; on Linux the same plan sends torch to Docker, which runs one seed per container."""
    decisions = prepare_run(RunRequest(names=("dlinear-h1",), seeds=2, executor="native"), build_dataset=True).decisions
    on_a_mac = AutoExecutor(DockerExecutor(), NativeExecutor(), native_only_envs("darwin", "arm64"))
    on_linux = AutoExecutor(DockerExecutor(), NativeExecutor(), native_only_envs("linux", "x86_64"))
    assert _seeds_per_unit(on_a_mac, decisions) == {"dlinear-h1": [[0, 1]]}
    assert _seeds_per_unit(on_linux, decisions) == {"dlinear-h1": [[0], [1]]}
    wrapped = RoutedExecutor(on_a_mac, {"sklearn": ExistingPythonExecutor({"sklearn": sys.executable})})
    assert _seeds_per_unit(wrapped, decisions) == {"dlinear-h1": [[0, 1]]}


def test_scheduler_groups_seeds_through_the_python_route(orch_home, monkeypatch):
    """End to end: `orch run --python sklearn=<this interpreter>` trains both seeds in one process
    (the logreg model joins the groups for this test, as in test_seed_groups)."""
    monkeypatch.setitem(GROUP_ENTRYPOINTS, "logreg", "jobs.baselines.sklearn_models:unused")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["run", "logreg-h1", "--seeds", "2", "--executor", "native", "--python", f"sklearn={sys.executable}"]
    )
    assert result.exit_code == 0, result.output
    assert "logreg-h1 seeds 0-1 (one process): started" in result.output
    rows = json.loads(runner.invoke(cli, ["status", "--json"]).output)["finished"]
    assert sorted(row["slug"] for row in rows) == ["logreg-h1", "logreg-h1"]
