"""Executors run one job under the job contract in some environment (venv, existing interpreter, container)."""

import platform
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from orchestrator.environments import Environment
from orchestrator.executors.base import ExecOutcome, Executor, JobRequest
from orchestrator.executors.native import NativeExecutor

__all__ = ["AutoExecutor", "ExecOutcome", "Executor", "JobRequest", "NativeExecutor", "RoutedExecutor",
           "choose_executor", "get_executor", "needs_native"]


def needs_native(env_name: str) -> bool:
    """Torch on macOS runs natively: Apple's MPS cannot reach a container."""
    return env_name == "torch" and sys.platform == "darwin" and platform.machine() == "arm64"


class RoutedExecutor:
    """Each env to its own executor (`--python ENV=PATH` routes, else the default).

    The scheduler stamps provenance with `executor.name` in the same worker thread that called
    `execute`, so `name` reports the executor that thread last used.
    """

    def __init__(self, default: Executor, routes: dict[str, Executor]):
        self.default = default
        self.routes = routes
        self._local = threading.local()

    def pick(self, env: Environment) -> Executor:
        return self.routes.get(env.name, self.default)

    @property
    def name(self) -> str:
        return getattr(self._local, "name", self.default.name)

    def fingerprint(self, env: Environment) -> str:
        return self.pick(env).fingerprint(env)

    def prepare(self, env: Environment, say: Callable[[str], None]) -> None:
        self.pick(env).prepare(env, say)

    def execute(self, request: JobRequest) -> ExecOutcome:
        executor = self.pick(request.run.environment)
        outcome = executor.execute(request)
        self._local.name = executor.name  # after: a nested router names its own choice only now
        return outcome


class AutoExecutor(RoutedExecutor):
    """Docker for every env except those that need the host's hardware (torch + MPS on a Mac)."""

    def __init__(self, docker: Executor, native: Executor):
        super().__init__(docker, {})
        self.docker = docker
        self.native = native

    def pick(self, env: Environment) -> Executor:
        return self.native if needs_native(env.name) else self.docker


def choose_executor(name: str, interpreters: dict[str, Path] | None = None) -> tuple[Executor, str]:
    """The executor for `--executor NAME` (+ `--python ENV=PATH` routes) and one line saying which
    runs what, and why: `auto` is docker when an engine answers, native for torch on Apple
    silicon, else native."""
    from orchestrator.errors import UserError
    from orchestrator.executors.docker import DockerExecutor, engine_status

    if name == "native":
        executor, why = NativeExecutor(), "native (--executor native): one venv per env, built from its pins"
    elif name == "docker":
        ok, detail = engine_status()
        if not ok:
            raise UserError(f"--executor docker: no Docker engine answers ({detail}); start one, or use --executor native")
        executor, why = DockerExecutor(), f"docker (--executor docker; {detail})"
    elif name == "auto":
        ok, detail = engine_status()
        if ok:
            executor = AutoExecutor(DockerExecutor(), NativeExecutor())
            why = f"docker (auto: Docker {detail} answers)" + ("; torch native, for MPS" if needs_native("torch") else "")
        else:
            executor, why = NativeExecutor(), f"native venvs (auto: no Docker engine answers: {detail})"
    else:
        raise UserError(f"unknown executor {name!r}: choose auto, native or docker")
    if interpreters:
        from orchestrator.executors.existing import ExistingPythonExecutor

        existing = ExistingPythonExecutor(interpreters)
        executor = RoutedExecutor(executor, {env: existing for env in interpreters})
        why += "; " + ", ".join(f"{env}: existing interpreter {path}" for env, path in sorted(interpreters.items()))
    return executor, why


def get_executor(name: str) -> Executor:
    return choose_executor(name)[0]
