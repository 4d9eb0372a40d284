"""Native executor with an existing interpreter: a managed GPU box, a cluster image or Colab, where
the stack is preinstalled and pip may not reach the internet. `--python ENV=PATH` (or
ORCH_PYTHON_<ENV>) points an env at that interpreter; no venv is built.

The interpreter's packages are checked against the env's pins (images/<env>/requirements.txt).
Every pinned package missing or at another version is a difference: it is printed before the run,
recorded in each result's provenance (`env_differences`) and hashed into the environment identity,
so such a result never passes for one made with the exact pins (and an interpreter that matches
them exactly shares the venv's cache).
"""

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.environments import Environment, package_key
from orchestrator.errors import UserError
from orchestrator.executors.base import ExecOutcome, JobRequest
from orchestrator.executors.native import NativeExecutor
from shared_schema import executors as executor_names

MIN_PYTHON = (3, 11)  # pyproject's requires-python: the job code uses 3.11 syntax and stdlib

# Run by the interpreter under test: its Python, platform and installed distributions.
_INSPECT = """
import importlib.metadata as m, json, platform, sys
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "system": platform.system(), "machine": platform.machine(),
                  "packages": {d.metadata["Name"]: d.version for d in m.distributions() if d.metadata["Name"]}}))
"""


@dataclass(frozen=True)
class InterpreterReport:
    path: Path
    python: str
    platform: str
    differences: dict[str, str]  # package -> "pinned -> found" (found: a version, or "missing")


def pin_differences(pins: dict[str, str], installed: dict[str, str]) -> dict[str, str]:
    """Each pinned package that is missing or at another version; extra packages are not differences."""
    found = {package_key(name): version for name, version in installed.items()}
    differences = {}
    for name, pinned in sorted(pins.items()):
        have = found.get(name)
        if have is None:
            differences[name] = f"{pinned or 'any'} -> missing"
        elif pinned and have != pinned:
            differences[name] = f"{pinned} -> {have}"
    return differences


def inspect_interpreter(env: Environment, python: Path) -> InterpreterReport:
    from shared_schema.identity import platform_name

    if not python.is_file() or not os.access(python, os.X_OK):
        raise UserError(f"--python {env.name}={python}: not an executable file")
    try:
        done = subprocess.run([str(python), "-c", _INSPECT], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"--python {env.name}={python}: could not run it ({exc})") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise UserError(f"--python {env.name}={python}: not a working Python ({last})")
    try:
        facts = json.loads((done.stdout.strip().splitlines() or [""])[-1])
        report = InterpreterReport(
            python,
            str(facts["python"]),
            platform_name(facts["system"], facts["machine"]),
            pin_differences(env.pins(), dict(facts["packages"])),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError(
            f"--python {env.name}={python}: not a working Python (it did not report its version and packages)"
        ) from None
    if tuple(int(part) for part in report.python.split(".")[:2] if part.isdigit()) < MIN_PYTHON:
        raise UserError(
            f"--python {env.name}={python}: Python {report.python}; the job code needs "
            f"{'.'.join(map(str, MIN_PYTHON))} or newer"
        )
    return report


class ExistingPythonExecutor(NativeExecutor):
    """Runs jobs exactly like the native executor, with a given interpreter instead of a venv."""

    name = executor_names.EXISTING_PYTHON

    def __init__(self, interpreters: dict[str, Path]):
        super().__init__()
        self.interpreters = interpreters
        self._reports: dict[str, InterpreterReport] = {}

    def report(self, env: Environment) -> InterpreterReport:
        if env.name not in self._reports:
            self._reports[env.name] = inspect_interpreter(env, self.interpreters[env.name])
        return self._reports[env.name]

    def python(self, env: Environment) -> Path:
        return self.interpreters[env.name]

    def fingerprint(self, env: Environment) -> str:
        report = self.report(env)
        return env.identity(report.python, report.platform, report.differences).fingerprint

    def prepare(self, env: Environment, say: Callable[[str], None]) -> None:
        report = self.report(env)
        if report.differences:
            shown = ", ".join(f"{name} {change}" for name, change in list(report.differences.items())[:8])
            more = f" (+{len(report.differences) - 8} more)" if len(report.differences) > 8 else ""
            say(
                f"env {env.name!r}: {report.path} (python {report.python}) differs from "
                f"images/{env.name}/requirements.txt in {len(report.differences)} package(s): {shown}{more}; "
                "recorded in provenance and in the run key"
            )
        else:
            say(f"env {env.name!r}: {report.path} (python {report.python}) matches every pin")

    def execute(self, request: JobRequest) -> ExecOutcome:
        outcome = super().execute(request)
        differences = self.report(request.run.environment).differences
        return ExecOutcome(
            outcome.returncode,
            outcome.reason,
            outcome.timed_out,
            outcome.oom,
            outcome.interrupted,
            env_differences=differences,
        )
