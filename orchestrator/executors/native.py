"""Native executor: one virtualenv per environment, built from its pinned requirements (like nox)."""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from orchestrator.environments import Environment
from orchestrator.errors import UserError
from orchestrator.executors.base import ExecOutcome, JobRequest, killed_by, oom_kill_count, run_streaming, thread_env
from orchestrator.paths import REPO_ROOT, cache_dir

LIFELINE = Path(__file__).with_name("lifeline.py")


class VenvManager:
    """Venvs live at <cache>/venvs/<env>-<fingerprint>; a new fingerprint builds a new one."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_dir() / "venvs"

    def path(self, env: Environment) -> Path:
        safe = env.native_fingerprint().replace(":", "-").replace("/", "-")  # ':' would break PATH
        return self.root / f"{env.name}-{safe}"

    def python(self, env: Environment) -> Path:
        return self.path(env) / "bin" / "python"

    def is_ready(self, env: Environment) -> bool:
        return (self.path(env) / ".orch-ready").is_file()

    def ensure(self, env: Environment, say: Callable[[str], None]) -> Path:
        """Create the venv once (under a lock, so parallel runs build it once) and return its python."""
        if self.is_ready(env):
            return self.python(env)
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{env.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.is_ready(env):
                self._build(env, say)
        return self.python(env)

    def _build(self, env: Environment, say: Callable[[str], None]) -> None:
        target = self.path(env)
        building = target.with_name(target.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        say(f"creating venv for env {env.name!r} from {env.requirements.relative_to(REPO_ROOT)} (first use only)")
        steps = [
            [sys.executable, "-m", "venv", str(building)],
            [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(env.requirements)],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                shutil.rmtree(building, ignore_errors=True)
                tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise UserError(f"could not create venv for env {env.name!r}: {tail}")
        (building / ".orch-ready").write_text(env.native_fingerprint() + "\n")
        shutil.rmtree(target, ignore_errors=True)
        building.rename(target)
        for stale in self.root.glob(f"{env.name}-lock-*"):
            if stale != target and not stale.name.endswith(".building"):
                shutil.rmtree(stale, ignore_errors=True)
        say(f"venv for env {env.name!r} ready at {target}")


class NativeExecutor:
    name = "native"

    def __init__(self, venvs: VenvManager | None = None):
        self.venvs = venvs or VenvManager()

    def fingerprint(self, env: Environment) -> str:
        return env.native_fingerprint()

    def prepare(self, env: Environment, say: Callable[[str], None]) -> None:
        if not env.requirements.is_file():
            raise UserError(f"env {env.name!r} has no requirements file at {env.requirements}")
        self.venvs.ensure(env, say)

    def python(self, env: Environment) -> Path:
        """The interpreter a job of this env runs with."""
        return self.venvs.python(env)

    def execute(self, request: JobRequest) -> ExecOutcome:
        python = self.python(request.run.environment)
        command = [
            str(python), "-m", "jobs", "run",
            "--spec", str(request.staging / "spec.json"),
            "--data", str(request.data_dir),
            "--out", str(request.staging),
        ]
        if request.weights_dir is not None:
            command += ["--weights", str(request.weights_dir)]
        env = {
            **os.environ,
            **thread_env(request.threads),
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            "PYTHONHASHSEED": "0",
        }
        env.pop("VIRTUAL_ENV", None)
        oom_kills_before = oom_kill_count()
        code, reason, timed_out, interrupted = run_streaming(lifeline(command), request, env, cwd=REPO_ROOT)
        # A SIGKILL we did not send is called out of memory only if the kernel's OOM killer ran meanwhile.
        oom = (code == -signal.SIGKILL and not (timed_out or interrupted)
               and oom_kills_before is not None and (oom_kill_count() or 0) > oom_kills_before)
        if timed_out:
            reason = f"timed out after {request.timeout_s:.0f}s"
        elif interrupted:
            reason = "interrupted"
        elif oom:
            reason = "killed by SIGKILL: out of memory (the kernel's OOM killer ran during the job)"
        elif killed_by(code):
            reason = killed_by(code)
        elif code != 0 and not reason:
            reason = f"exited with code {code}"
        return ExecOutcome(code, reason, timed_out=timed_out, oom=oom, interrupted=interrupted)


def lifeline(command: list[str]) -> list[str]:
    """The job under lifeline.py, so that it dies with orch even when orch is killed with -9."""
    return [sys.executable, "-I", str(LIFELINE), *command]
