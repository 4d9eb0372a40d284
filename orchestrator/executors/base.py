"""What every executor receives and returns, and the subprocess plumbing they share."""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.environments import Environment
from orchestrator.runs import PlannedRun

KILL_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class JobRequest:
    run: PlannedRun
    staging: Path  # the job's own writable results folder; spec.json is already in it
    data_dir: Path
    weights_dir: Path | None
    threads: int
    timeout_s: float
    log_path: Path
    on_line: Callable[[str], None] = lambda line: None
    cancel: threading.Event = field(default_factory=threading.Event)
    device_env: dict[str, str] = field(default_factory=dict)  # the GPU slot's pinning (CUDA_VISIBLE_DEVICES)
    # Further seeds of the same experiment trained in this process: (run, its own staging folder).
    more_seeds: tuple[tuple[PlannedRun, Path], ...] = ()


@dataclass(frozen=True)
class ExecOutcome:
    returncode: int | None
    reason: str  # one line: the job's own last stderr line, or what the executor saw
    timed_out: bool = False
    oom: bool = False
    interrupted: bool = False
    image_id: str | None = None
    env_differences: dict[str, str] | None = None  # existing-python: pinned package -> what is installed
    node: str | None = None  # the cluster node that ran the job (ray)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not (self.timed_out or self.oom or self.interrupted)


class Executor:
    """What the scheduler and the CLI use of an executor, every attribute declared here with its
    default, so that a new executor states only what differs and a wrapper can pass each one on.

    Capabilities (class attributes):
      runs_seed_groups: trains several seeds of one experiment in one process (JobRequest.more_seeds);
      schedules_resources: places jobs on CPUs, memory and GPUs itself (a cluster), so the host's
        memory budget and GPU slots do not apply and -j alone bounds what is submitted.
    """

    name: str  # recorded as provenance `executor` (shared_schema.executors.PROVENANCE_EXECUTORS)
    runs_seed_groups: bool = False
    schedules_resources: bool = False

    def fingerprint(self, env: Environment) -> str:
        raise NotImplementedError

    def describe(self, env: Environment) -> str | None:
        """What this executor decided for the env that the executor line should say (e.g. an image's
        platform, and why); None when there is nothing beyond the executor's own line."""
        return None

    def prepare(self, env: Environment, say: Callable[[str], None]) -> None:
        """Make the env usable (build a venv or an image, connect to a cluster); nothing by default."""

    def execute(self, request: JobRequest) -> ExecOutcome:
        raise NotImplementedError

    def groups_seeds(self, env: Environment) -> bool:
        """Whether this env's seeds may share one process here (a router answers for the env's executor)."""
        return self.runs_seed_groups

    def name_for(self, env: Environment) -> str:
        """The executor that runs the env's jobs, as provenance names it (a router answers for its route)."""
        return self.name

    def close(self) -> None:
        """Release what the run held (a cluster connection); nothing by default."""


def run_streaming(
    command: list[str],
    request: JobRequest,
    env: dict[str, str],
    *,
    cwd: Path,
    on_kill: Callable[[], None] | None = None,
) -> tuple[int | None, str, bool, bool]:
    """Run `command` in its own process group, tee output to the log, enforce timeout and cancel.

    Returns (returncode, last stderr line, timed_out, interrupted).
    """
    log_lock = threading.Lock()
    last_err: list[str] = []
    with open(request.log_path, "a", buffering=1) as log:
        # stdin is a pipe nobody writes to: a lifeline (see lifeline.py) reads EOF when orch dies.
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
        )

        def pump(stream, is_err: bool) -> None:
            for line in stream:
                with log_lock:
                    log.write(line)
                stripped = line.rstrip()
                if is_err and stripped:
                    last_err.append(stripped)
                    del last_err[:-20]
                request.on_line(stripped)

        readers = [
            threading.Thread(target=pump, args=(process.stdout, False), daemon=True),
            threading.Thread(target=pump, args=(process.stderr, True), daemon=True),
        ]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + request.timeout_s
        timed_out = interrupted = False
        while process.poll() is None:
            if request.cancel.is_set():
                interrupted = True
            elif time.monotonic() > deadline:
                timed_out = True
            if timed_out or interrupted:
                stop_process_group(process)
                if on_kill:
                    on_kill()
                break
            time.sleep(0.1)
        try:
            process.wait(timeout=KILL_GRACE_SECONDS)  # immediate unless even SIGKILL has not ended it yet
        except subprocess.TimeoutExpired:
            pass  # stuck in the kernel: reported with no exit status rather than waited for forever
        process.stdin.close()
        _kill_leftovers(process)
        for reader in readers:
            reader.join(timeout=5)
    reason = next(
        (line for line in reversed(last_err) if line.startswith("job failed:")), last_err[-1] if last_err else ""
    )
    return process.returncode, reason, timed_out, interrupted


def _kill_leftovers(process: subprocess.Popen) -> None:
    """Whatever the job started in its process group must not outlive it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def killed_by(returncode: int | None) -> str | None:
    """'killed by signal 9 (SIGKILL)' for a process a signal ended, else None."""
    if returncode is None or returncode >= 0:
        return None
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "unknown signal"
    return f"killed by signal {-returncode} ({name})"


def oom_kill_count() -> int | None:
    """The kernel's running count of OOM kills (Linux /proc/vmstat; memory-cgroup kills included),
    or None where the kernel keeps no such record (macOS)."""
    try:
        with open("/proc/vmstat") as stats:
            for line in stats:
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left after a grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, KILL_GRACE_SECONDS)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
