"""Executors run one job under the job contract in some environment (venv, existing interpreter,
container, cluster node).

`EXECUTOR_CHOICES` is the table `--executor` offers, nox-style: a name -> a factory, with what the
factory needs declared in `ExecutorOptions`. The CLI's choices, help and error text are made from
it; an executor's own capabilities are declared on its class (see `Executor`), and the routing
wrappers below answer for the executor each env is routed to."""

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.environments import Environment
from orchestrator.errors import UserError
from orchestrator.executors.base import ExecOutcome, Executor, JobRequest
from orchestrator.executors.native import NativeExecutor
from shared_schema import executors as names

if TYPE_CHECKING:
    from orchestrator.executors.ray_cluster import RaySettings

__all__ = [
    "AUTO",
    "EXECUTOR_CHOICES",
    "AutoExecutor",
    "ExecOutcome",
    "ExecutorChoice",
    "ExecutorOptions",
    "Executor",
    "JobRequest",
    "NativeExecutor",
    "RoutedExecutor",
    "choose_executor",
    "executor_help",
    "native_only_envs",
]

AUTO = "auto"  # not an executor of its own: it picks docker or native, and provenance names the pick


def native_only_envs(system: str | None = None, machine: str | None = None) -> frozenset[str]:
    """The envs that must run natively on this host: torch on Apple silicon, where only a native
    process reaches MPS. Defaults to this machine; a test passes another one's facts."""
    system = sys.platform if system is None else system
    machine = platform.machine() if machine is None else machine
    return frozenset({"torch"}) if system == "darwin" and machine == "arm64" else frozenset()


class RoutedExecutor(Executor):
    """Each env to its own executor (`--python ENV=PATH` routes, else the default). Every
    capability, and the name provenance records (`name_for`), is answered by the executor the env
    is routed to."""

    def __init__(self, default: Executor, routes: dict[str, Executor]):
        self.default = default
        self.routes = routes
        self.name = default.name

    def pick(self, env: Environment) -> Executor:
        return self.routes.get(env.name, self.default)

    @property
    def schedules_resources(self) -> bool:  # routes run on this machine (see ExecutorChoice.runs_here)
        return self.default.schedules_resources

    def groups_seeds(self, env: Environment) -> bool:
        return self.pick(env).groups_seeds(env)

    def name_for(self, env: Environment) -> str:
        return self.pick(env).name_for(env)

    def fingerprint(self, env: Environment) -> str:
        return self.pick(env).fingerprint(env)

    def describe(self, env: Environment) -> str | None:
        return self.pick(env).describe(env)

    def prepare(self, env: Environment, say: Callable[[str], None]) -> None:
        self.pick(env).prepare(env, say)

    def execute(self, request: JobRequest) -> ExecOutcome:
        return self.pick(request.run.environment).execute(request)

    def close(self) -> None:
        for executor in {id(e): e for e in (self.default, *self.routes.values())}.values():
            executor.close()


class AutoExecutor(RoutedExecutor):
    """Docker for every env except those that need the host's hardware (`native_only_envs`)."""

    def __init__(self, docker: Executor, native: Executor, native_envs: frozenset[str]):
        super().__init__(docker, {env: native for env in native_envs})


@dataclass(frozen=True)
class ExecutorOptions:
    """What the command line gives a factory besides the executor's name."""

    interpreters: dict[str, Path] = field(default_factory=dict)  # `--python ENV=PATH` routes
    ray_settings: "RaySettings | None" = None
    native_envs: frozenset[str] = field(default_factory=native_only_envs)  # auto: envs kept native here


@dataclass(frozen=True)
class ExecutorChoice:
    name: str
    summary: str  # one phrase, for --help
    make: Callable[[ExecutorOptions], tuple[Executor, str]]  # -> (executor, why it runs what)
    runs_here: bool = True  # jobs run on this machine, so `--python` routes may join it


def _native(options: ExecutorOptions) -> tuple[Executor, str]:
    return NativeExecutor(), "native (--executor native): one venv per env, built from its pins"


def _docker(options: ExecutorOptions) -> tuple[Executor, str]:
    from orchestrator.executors.docker import DockerExecutor
    from orchestrator.executors.engine import engine_status

    ok, detail = engine_status()
    if not ok:
        raise UserError(f"--executor docker: no Docker engine answers ({detail}); start one, or use --executor native")
    return DockerExecutor(), f"docker (--executor docker; {detail})"


def _auto(options: ExecutorOptions) -> tuple[Executor, str]:
    from orchestrator.executors.docker import DockerExecutor
    from orchestrator.executors.engine import engine_status

    ok, detail = engine_status()
    if not ok:
        return NativeExecutor(), f"native venvs (auto: no Docker engine answers: {detail})"
    native_envs = sorted(options.native_envs)
    why = f"docker (auto: Docker {detail} answers)" + (
        f"; {', '.join(native_envs)} native, for MPS" if native_envs else ""
    )
    return AutoExecutor(DockerExecutor(), NativeExecutor(), options.native_envs), why


def _ray(options: ExecutorOptions) -> tuple[Executor, str]:
    from orchestrator.executors.ray_cluster import RaySettings
    from orchestrator.executors.ray_executor import RayExecutor

    settings = options.ray_settings or RaySettings(address=None, retries=0)
    where = (
        f"the cluster at {settings.address}"
        if settings.address
        else "a local one-machine cluster on 127.0.0.1, started for the run"
    )
    return RayExecutor(settings), f"ray (--executor ray): {where}; each job in its env's pinned venv on a node"


EXECUTOR_CHOICES: dict[str, ExecutorChoice] = {
    choice.name: choice
    for choice in (
        ExecutorChoice(AUTO, "docker when an engine answers, else native", _auto),
        ExecutorChoice(names.NATIVE, "one venv per env, built from its pins", _native),
        ExecutorChoice(names.DOCKER, "one image per env", _docker),
        ExecutorChoice(names.RAY, "a Ray cluster (same cache as native)", _ray, runs_here=False),
    )
}


def executor_help() -> str:
    return "; ".join(f"{choice.name}: {choice.summary}" for choice in EXECUTOR_CHOICES.values())


def choose_executor(name: str, options: ExecutorOptions) -> tuple[Executor, str]:
    """The executor for `--executor NAME` (+ `--python ENV=PATH` routes) and one line saying which
    runs what, and why."""
    choice = EXECUTOR_CHOICES.get(name)
    if choice is None:
        raise UserError(f"unknown executor {name!r}: choose {', '.join(EXECUTOR_CHOICES)}")
    if options.interpreters and not choice.runs_here:
        raise UserError(f"--python runs jobs on this machine; it cannot be combined with --executor {name}")
    executor, why = choice.make(options)
    if options.interpreters:
        from orchestrator.executors.existing import ExistingPythonExecutor

        existing = ExistingPythonExecutor(options.interpreters)
        executor = RoutedExecutor(executor, {env: existing for env in options.interpreters})
        why += "; " + ", ".join(
            f"{env}: existing interpreter {path}" for env, path in sorted(options.interpreters.items())
        )
    return executor, why
