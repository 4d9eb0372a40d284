"""Executors run one job under the job contract in some environment (venv, container)."""

import platform
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.environments import Environment
from orchestrator.executors.base import ExecOutcome, Executor, JobRequest
from orchestrator.executors.native import NativeExecutor

if TYPE_CHECKING:
    from orchestrator.executors.ray_cluster import RaySettings

__all__ = ["AutoExecutor", "ExecOutcome", "Executor", "JobRequest", "NativeExecutor", "get_executor", "needs_native"]


def needs_native(env_name: str) -> bool:
    """Torch on macOS runs natively: Apple's MPS cannot reach a container."""
    return env_name == "torch" and sys.platform == "darwin" and platform.machine() == "arm64"


class AutoExecutor:
    """Docker for every env except those that need the host's hardware (torch + MPS on a Mac).

    The scheduler stamps provenance with `executor.name` in the same worker thread that called
    `execute`, so `name` reports the executor that thread last used.
    """

    def __init__(self, docker: Executor, native: Executor):
        self.docker = docker
        self.native = native
        self._local = threading.local()

    def pick(self, env: Environment) -> Executor:
        return self.native if needs_native(env.name) else self.docker

    @property
    def name(self) -> str:
        return getattr(self._local, "name", self.docker.name)

    def fingerprint(self, env: Environment) -> str:
        return self.pick(env).fingerprint(env)

    def prepare(self, env: Environment, say: Callable[[str], None]) -> None:
        self.pick(env).prepare(env, say)

    def execute(self, request: JobRequest) -> ExecOutcome:
        executor = self.pick(request.run.environment)
        self._local.name = executor.name
        return executor.execute(request)


def get_executor(name: str, ray_settings: "RaySettings | None" = None) -> Executor:
    """`native`, `docker` (a clear error when no engine answers), `auto` (docker when an engine
    answers, native for torch on Apple silicon, else native) or `ray` (a cluster; see ray_executor)."""
    from orchestrator.errors import UserError
    from orchestrator.executors.docker import DockerExecutor, engine_status

    if name == "native":
        return NativeExecutor()
    if name == "docker":
        ok, detail = engine_status()
        if not ok:
            raise UserError(f"--executor docker: no Docker engine answers ({detail}); start one, or use --executor native")
        return DockerExecutor()
    if name == "ray":
        from orchestrator.executors.ray_cluster import RaySettings
        from orchestrator.executors.ray_executor import RayExecutor

        return RayExecutor(ray_settings or RaySettings(address=None, retries=0))
    if name == "auto":
        ok, _ = engine_status()
        return AutoExecutor(DockerExecutor(), NativeExecutor()) if ok else NativeExecutor()
    raise UserError(f"unknown executor {name!r}: choose auto, native, docker or ray")
