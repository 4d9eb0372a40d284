"""Runs planned jobs, N at a time, within CPU/memory/GPU limits; Ctrl-C stops them cleanly."""

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from orchestrator import stopping
from orchestrator.errors import UserError
from orchestrator.executors.base import KILL_GRACE_SECONDS, ExecOutcome, Executor, JobRequest
from orchestrator.planner import Decision
from orchestrator.results import LOG_FILE, InvalidResult, ResultStore, describe_os_error, utc_now

# How long a stop may wait for one running job: its SIGTERM grace, its SIGKILL grace, its log
# readers and its failure record. Past that the job is reported as not stopped in time.
STOP_WAIT_SECONDS = 3 * KILL_GRACE_SECONDS + 15


@dataclass(frozen=True)
class JobOutcome:
    decision: Decision
    status: str  # ok | failed | cancelled
    kind: str  # ok | crash | invalid-result | timeout | oom | interrupted | environment | not-started
    reason: str
    seconds: float
    folder: Path | None
    test_auc: float | None = None
    val_auc: float | None = None


def host_has_gpu() -> bool:
    """CUDA via nvidia-smi, or Apple-silicon MPS; checked without importing any ML stack."""
    if sys.platform == "darwin" and os.uname().machine == "arm64":
        return True
    if shutil.which("nvidia-smi"):
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    return False


def total_memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 8.0


class ResourcePool:
    """Memory budget and a single GPU token; jobs wait until what they need is free."""

    def __init__(self, memory_gb: float, gpu: bool):
        self.free_memory = memory_gb
        self.gpu_free = gpu
        self.has_gpu = gpu
        self.cond = threading.Condition()

    def acquire(self, memory_gb: float, wants_gpu: bool, cancel: threading.Event) -> tuple[float, bool]:
        memory_gb = min(memory_gb, self.free_memory if self.free_memory > 0 else memory_gb)
        use_gpu = wants_gpu and self.has_gpu
        with self.cond:
            while not cancel.is_set() and (self.free_memory < memory_gb or (use_gpu and not self.gpu_free)):
                self.cond.wait(timeout=0.5)
            self.free_memory -= memory_gb
            if use_gpu:
                self.gpu_free = False
        return memory_gb, use_gpu

    def release(self, memory_gb: float, used_gpu: bool) -> None:
        with self.cond:
            self.free_memory += memory_gb
            if used_gpu:
                self.gpu_free = True
            self.cond.notify_all()


class Scheduler:
    def __init__(self, executor: Executor, store: ResultStore, data_dir: Path, weights_dir: Path | None,
                 jobs: int, keep_going: bool, timeout_s: float | None, say: Callable[[str], None],
                 on_progress: Callable[[str, str], None] = lambda slug, line: None):
        self.executor = executor
        self.store = store
        self.data_dir = data_dir
        self.weights_dir = weights_dir
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        self.timeout_s = timeout_s
        self.say = say
        self.on_progress = on_progress
        self.cancel = threading.Event()
        self.stop_scheduling = threading.Event()
        self.threads_per_job = max(1, (os.cpu_count() or 1) // self.jobs)
        self.pool = ResourcePool(total_memory_gb() * 0.9, host_has_gpu())

    def run(self, decisions: list[Decision]) -> list[JobOutcome]:
        todo = [d for d in decisions if d.action == "run"]
        outcomes: list[JobOutcome] = []
        pending: dict[Future, Decision] = {}
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            for env in dict.fromkeys(d.run.environment for d in todo):
                self.executor.prepare(env, self.say)
            pending = {pool.submit(self._run_one, d): d for d in todo}
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.pop(future)
                    outcomes.append(future.result())
                    if outcomes[-1].status == "failed" and not self.keep_going:
                        self.stop_scheduling.set()
        except KeyboardInterrupt:
            stopping.ignore_further()
            self.say(f"interrupted by {stopping.describe(stopping.stop_signal())}: "
                     "stopping running jobs, keeping finished results")
            outcomes += self._stop(pending)
            raise Interrupted(outcomes) from None
        except BaseException:
            self._stop(pending)  # a bug must not leave jobs running behind an exiting orch
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return outcomes

    def _stop(self, pending: dict[Future, Decision]) -> list[JobOutcome]:
        """Cancel what has not started and wait, a bounded time each, for running jobs to stop."""
        self.cancel.set()
        self.stop_scheduling.set()
        outcomes = []
        for future, decision in pending.items():
            if future.cancel():
                outcomes.append(JobOutcome(decision, "cancelled", "not-started", "interrupted before start", 0.0, None))
                continue
            try:
                outcomes.append(future.result(timeout=STOP_WAIT_SECONDS))
            except FutureTimeout:
                outcomes.append(JobOutcome(decision, "cancelled", "interrupted",
                                           f"did not stop within {STOP_WAIT_SECONDS:.0f}s", 0.0, None))
            except Exception as exc:  # noqa: BLE001 - reported, the stop goes on
                outcomes.append(JobOutcome(decision, "failed", "crash", f"{type(exc).__name__}: {exc}", 0.0, None))
        return outcomes

    def _run_one(self, decision: Decision) -> JobOutcome:
        run = decision.run
        if self.stop_scheduling.is_set():
            return JobOutcome(decision, "cancelled", "not-started", "not started: an earlier job failed (use --keep-going)", 0.0, None)
        resources = run.experiment.resources
        memory, gpu = self.pool.acquire(resources.memory_gb, resources.gpu != "none", self.cancel)
        started_clock = time.monotonic()
        staging = None
        try:
            if self.cancel.is_set():
                return JobOutcome(decision, "cancelled", "not-started", "interrupted before start", 0.0, None)
            try:
                staging = self.store.new_staging(run)
            except OSError as exc:
                return self._store_failed(decision, exc, None, time.monotonic() - started_clock)
            started = utc_now()
            self.on_progress(run.spec.slug, "started")
            request = JobRequest(
                run=run, staging=staging, data_dir=self.data_dir, weights_dir=self.weights_dir,
                threads=self.threads_per_job,
                timeout_s=self.timeout_s or resources.timeout_s[run.spec.profile],
                log_path=staging / LOG_FILE,
                on_line=lambda line: self.on_progress(run.spec.slug, line),
                cancel=self.cancel,
            )
            outcome = self.executor.execute(request)
            try:
                return self._finish(decision, staging, outcome, started, time.monotonic() - started_clock)
            except OSError as exc:
                return self._store_failed(decision, exc, staging, time.monotonic() - started_clock)
        finally:
            self.pool.release(memory, gpu)
            if staging is not None and staging.exists():
                self.store.discard(staging)

    def _store_failed(self, decision: Decision, exc: OSError, staging: Path | None, seconds: float) -> JobOutcome:
        """The results folder refused a write (read-only, full disk): say so in one line, and keep a
        failure record if there is still room for one."""
        reason = f"could not write to the results folder: {describe_os_error(exc)}"
        try:
            folder = self.store.record_failure(decision.run, "environment", reason, staging / LOG_FILE if staging else None)
        except OSError as again:
            folder = None
            reason += f"; no failure record either: {describe_os_error(again)}"
        return JobOutcome(decision, "failed", "environment", reason, seconds, folder)

    def _finish(self, decision: Decision, staging: Path, outcome: ExecOutcome, started, seconds: float) -> JobOutcome:
        run = decision.run
        if not outcome.ok:
            kind = "timeout" if outcome.timed_out else "oom" if outcome.oom else "interrupted" if outcome.interrupted else "crash"
            status = "cancelled" if outcome.interrupted else "failed"
            reason = f"interrupted by {stopping.describe(stopping.stop_signal())}" if outcome.interrupted else outcome.reason
            folder = self.store.record_failure(run, kind, reason, staging / LOG_FILE)
            return JobOutcome(decision, status, kind, reason, seconds, folder)
        try:
            result = self.store.ingest(staging, run, self.executor.name, started, outcome.image_id,
                                       outcome.env_differences)
        except InvalidResult as exc:
            folder = self.store.record_failure(run, "invalid-result", str(exc), staging / LOG_FILE)
            return JobOutcome(decision, "failed", "invalid-result", str(exc), seconds, folder)
        folder = self.store.commit(staging, run)
        return JobOutcome(decision, "ok", "ok", "", seconds, folder, result.metrics["test"].auc, result.metrics["val"].auc)


class Interrupted(UserError):
    """Exit status 128 + the signal, as a shell reports a process stopped by it (130 Ctrl-C, 143 SIGTERM)."""

    def __init__(self, outcomes: list[JobOutcome]):
        sig = stopping.stop_signal()
        super().__init__(f"interrupted by {stopping.describe(sig)}: running jobs stopped, finished results kept; rerun to resume")
        self.exit_code = 128 + sig.value
        self.outcomes = outcomes
