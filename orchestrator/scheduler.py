"""Runs planned jobs, N at a time, within CPU/memory/GPU limits; Ctrl-C stops them cleanly."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.executors.base import ExecOutcome, Executor, JobRequest
from orchestrator.planner import Decision
from orchestrator.results import LOG_FILE, InvalidResult, ResultStore, utc_now


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
        for env in dict.fromkeys(d.run.environment for d in todo):
            self.executor.prepare(env, self.say)
        outcomes: list[JobOutcome] = []
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures: dict[Future, Decision] = {pool.submit(self._run_one, d): d for d in todo}
            try:
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        outcome = future.result()
                        outcomes.append(outcome)
                        if outcome.status == "failed" and not self.keep_going:
                            self.stop_scheduling.set()
            except KeyboardInterrupt:
                # A second Ctrl-C/SIGTERM must not cut the clean-up short and orphan running jobs.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                self.say("interrupted: stopping running jobs, keeping finished results")
                self.cancel.set()
                self.stop_scheduling.set()
                for future in futures:
                    future.cancel()
                for future in futures:
                    if not future.cancelled():
                        outcomes.append(future.result())
                outcomes += [JobOutcome(d, "cancelled", "not-started", "interrupted before start", 0.0, None)
                             for f, d in futures.items() if f.cancelled()]
                raise Interrupted(outcomes)
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
            staging = self.store.new_staging(run)
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
            return self._finish(decision, staging, outcome, started, time.monotonic() - started_clock)
        finally:
            self.pool.release(memory, gpu)
            if staging is not None and staging.exists():
                self.store.discard(staging)

    def _finish(self, decision: Decision, staging: Path, outcome: ExecOutcome, started, seconds: float) -> JobOutcome:
        run = decision.run
        if not outcome.ok:
            kind = "timeout" if outcome.timed_out else "oom" if outcome.oom else "interrupted" if outcome.interrupted else "crash"
            status = "cancelled" if outcome.interrupted else "failed"
            folder = self.store.record_failure(run, kind, outcome.reason, staging / LOG_FILE)
            return JobOutcome(decision, status, kind, outcome.reason, seconds, folder)
        try:
            result = self.store.ingest(staging, run, self.executor.name, started, outcome.image_id)
        except InvalidResult as exc:
            folder = self.store.record_failure(run, "invalid-result", str(exc), staging / LOG_FILE)
            return JobOutcome(decision, "failed", "invalid-result", str(exc), seconds, folder)
        folder = self.store.commit(staging, run)
        return JobOutcome(decision, "ok", "ok", "", seconds, folder, result.metrics["test"].auc, result.metrics["val"].auc)


class Interrupted(UserError):
    exit_code = 130

    def __init__(self, outcomes: list[JobOutcome]):
        super().__init__("interrupted by Ctrl-C: running jobs stopped, finished results kept; rerun to resume")
        self.outcomes = outcomes
