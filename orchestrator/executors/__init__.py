"""Executors run one job under the job contract in some environment (venv, container)."""

from orchestrator.executors.base import ExecOutcome, Executor, JobRequest
from orchestrator.executors.native import NativeExecutor

__all__ = ["ExecOutcome", "Executor", "JobRequest", "NativeExecutor", "get_executor"]


def get_executor(name: str) -> Executor:
    """`auto` is the native executor until the docker executor exists; say so rather than guess."""
    from orchestrator.errors import UserError

    if name in ("auto", "native"):
        return NativeExecutor()
    raise UserError(f"executor {name!r} is not available yet (only 'native' is implemented; see `orch doctor`)")
