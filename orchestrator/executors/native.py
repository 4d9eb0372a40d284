"""Native executor: one virtualenv per environment, built from its pinned requirements (like nox)."""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from orchestrator.cpu_threads import thread_env
from orchestrator.environments import Environment
from orchestrator.errors import UserError
from orchestrator.executors.base import ExecOutcome, Executor, JobRequest, killed_by, oom_kill_count, run_streaming
from orchestrator.executors.ray_auth import secret_variables
from orchestrator.executors.venv_tools import choose_installer, installer_version, read_pip_settings
from orchestrator.paths import cache_dir, job_code_root
from shared_schema import executors as executor_names
from shared_schema.job_command import job_argv

LIFELINE = Path(__file__).with_name("lifeline.py")


def _stream(command: list[str], on_line: Callable[[str], None], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run `command`, passing each output line on as it comes; (exit code, last line)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
    last = "(no output)"
    for line in process.stdout:
        line = line.rstrip()
        if line:
            last = line
            on_line(line)
    return process.wait(), last


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
        installer = choose_installer()
        settings = read_pip_settings() if installer.name == "uv" else None
        built_with = installer_version(installer)
        say(f"creating venv for env {env.name!r} from {env.requirements} with {built_with} (first use only)")
        python = building / "bin" / "python"
        steps = [
            ("create the virtualenv", [sys.executable, "-m", "venv", str(building)], None),
            (
                "install the pinned requirements",
                installer.install_command(
                    python, env.requirements, settings, no_deps=env.installs_without_dependencies
                ),
                installer.environment(settings),
            ),
        ]
        shown = installer.milestones()
        for number, (what, step, step_env) in enumerate(steps, 1):
            say(f"venv {env.name}: step {number}/{len(steps)}: {what}")
            code, tail = _stream(
                step, lambda line: say(f"venv {env.name}: {line}") if line.startswith(shown) else None, step_env
            )
            if code != 0:
                shutil.rmtree(building, ignore_errors=True)
                raise UserError(f"could not create venv for env {env.name!r}: {tail}")
        (building / ".orch-ready").write_text(env.native_fingerprint() + "\n")
        (building / ".orch-built-with").write_text(built_with + "\n")
        shutil.rmtree(target, ignore_errors=True)
        building.rename(target)
        for stale in self.root.glob(f"{env.name}-lock-*"):
            if stale != target and not stale.name.endswith(".building"):
                shutil.rmtree(stale, ignore_errors=True)
        say(f"venv for env {env.name!r} ready at {target}")


class NativeExecutor(Executor):
    name = executor_names.NATIVE
    runs_seed_groups = True  # several seeds of one experiment in one process (JobRequest.more_seeds)

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
        command = job_argv(
            str(python),
            spec=str(request.staging / "spec.json"),
            data=str(request.data_dir),
            out=str(request.staging),
            more=[(str(staging / "spec.json"), str(staging)) for _, staging in request.more_seeds],
            weights=None if request.weights_dir is None else str(request.weights_dir),
        )
        env = {
            **os.environ,
            **thread_env(request.threads),
            **request.device_env,
            "PYTHONPATH": str(job_code_root()),
            "PYTHONUNBUFFERED": "1",
            "PYTHONHASHSEED": "0",
        }
        for name in ("VIRTUAL_ENV", *secret_variables()):
            env.pop(name, None)
        oom_kills_before = oom_kill_count()
        code, reason, timed_out, interrupted = run_streaming(lifeline(command), request, env, cwd=env["PYTHONPATH"])
        # A SIGKILL we did not send is called out of memory only if the kernel's OOM killer ran meanwhile.
        oom = (
            code == -signal.SIGKILL
            and not (timed_out or interrupted)
            and oom_kills_before is not None
            and (oom_kill_count() or 0) > oom_kills_before
        )
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
