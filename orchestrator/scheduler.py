"""Runs planned jobs, N at a time, within CPU/memory/GPU limits; Ctrl-C stops them cleanly."""

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from orchestrator import stopping
from orchestrator.cpu_threads import ThreadChoice, choose_threads
from orchestrator.errors import UserError
from orchestrator.executors.base import KILL_GRACE_SECONDS, ExecOutcome, Executor, JobRequest
from orchestrator.gpu_slots import NO_GPU, GpuSlots, discover_gpus, measured_peaks_gb, peak_gb
from orchestrator.planner import Decision
from orchestrator.results import LOG_FILE, RESULT_FILE, InvalidResult, ResultStore, describe_os_error, utc_now
from orchestrator.seed_groups import seed_groups
from shared_schema.files import copy_own_file

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


def total_memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 8.0


class ResourcePool:
    """Host memory budget; jobs wait until what they need is free (GPU slots are `GpuSlots`)."""

    def __init__(self, memory_gb: float):
        self.free_memory = memory_gb
        self.cond = threading.Condition()

    def acquire(self, memory_gb: float, cancel: threading.Event) -> float:
        memory_gb = min(memory_gb, self.free_memory if self.free_memory > 0 else memory_gb)
        with self.cond:
            while not cancel.is_set() and self.free_memory < memory_gb:
                self.cond.wait(timeout=0.5)
            self.free_memory -= memory_gb
        return memory_gb

    def release(self, memory_gb: float) -> None:
        with self.cond:
            self.free_memory += memory_gb
            self.cond.notify_all()


class Scheduler:
    def __init__(
        self,
        executor: Executor,
        store: ResultStore,
        data_dir: Path,
        weights_dir: Path | None,
        *,
        jobs: int,
        keep_going: bool,
        timeout_s: float | None,
        say: Callable[[str], None],
        watcher: "Watcher | None" = None,
        gpu_slots: GpuSlots | None = None,
    ):
        self.executor = executor
        self.store = store
        self.data_dir = data_dir
        self.weights_dir = weights_dir
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        self.timeout_s = timeout_s
        self.say = say
        self.watcher = watcher or Watcher()
        self.cancel = threading.Event()
        self.stop_scheduling = threading.Event()
        # A cluster executor schedules CPUs, memory and GPUs itself; -j alone bounds what is submitted.
        remote = executor.schedules_resources
        self.pool = ResourcePool(float("inf") if remote else total_memory_gb() * 0.9)
        self.gpus = GpuSlots([]) if remote else gpu_slots if gpu_slots is not None else GpuSlots(discover_gpus())
        self.threads = ThreadLedger(self.jobs)

    def run(self, decisions: list[Decision]) -> list[JobOutcome]:
        todo = [d for d in decisions if d.action == "run"]
        outcomes: list[JobOutcome] = []
        pending: dict[Future, tuple[Decision, ...]] = {}
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            for env in dict.fromkeys(d.run.environment for d in todo):
                self.executor.prepare(env, self.say)
            units = seed_groups(todo, self.executor.groups_seeds)
            peaks = measured_peaks_gb(self.store)
            pending = {pool.submit(self._run_unit, u, peaks): u for u in units}
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.pop(future)
                    for outcome in future.result():
                        outcomes.append(outcome)
                        if outcome.status == "failed" and not self.keep_going:
                            self.stop_scheduling.set()
        except KeyboardInterrupt:
            # A second Ctrl-C/SIGTERM must not cut the clean-up short; stop first, then say so (with
            # the terminal gone the message itself may raise, and nothing must then keep jobs alive).
            stopping.ignore_further()
            self.cancel.set()
            self.stop_scheduling.set()
            try:
                self.say(
                    f"interrupted by {stopping.describe(stopping.stop_signal())}: "
                    "stopping running jobs, keeping finished results"
                )
            except OSError:
                pass
            outcomes += self._stop(pending)
            raise Interrupted(outcomes) from None
        except BaseException:
            self._stop(pending)  # a bug must not leave jobs running behind an exiting orch
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return outcomes

    def _stop(self, pending: dict[Future, tuple[Decision, ...]]) -> list[JobOutcome]:
        """Cancel what has not started and wait, a bounded time each, for running jobs to stop."""
        self.cancel.set()
        self.stop_scheduling.set()
        outcomes = []
        for future, unit in pending.items():
            if future.cancel():
                outcomes += [
                    JobOutcome(d, "cancelled", "not-started", "interrupted before start", 0.0, None) for d in unit
                ]
                continue
            try:
                outcomes += future.result(timeout=STOP_WAIT_SECONDS)
            except FutureTimeout:
                outcomes += [
                    JobOutcome(
                        d, "cancelled", "interrupted", f"did not stop within {STOP_WAIT_SECONDS:.0f}s", 0.0, None
                    )
                    for d in unit
                ]
            except Exception as exc:
                outcomes += [JobOutcome(d, "failed", "crash", f"{type(exc).__name__}: {exc}", 0.0, None) for d in unit]
        return outcomes

    def _run_unit(self, unit: tuple[Decision, ...], peaks: dict[tuple[str, str], float]) -> list[JobOutcome]:
        """One process: a single run, or several seeds of one experiment trained together."""
        outcomes = self._run_process(unit, peaks)
        for i, outcome in enumerate(outcomes):
            self.watcher.finished(unit_key(unit), outcome, last=i == len(outcomes) - 1)
        return outcomes

    def _run_process(self, unit: tuple[Decision, ...], peaks: dict[tuple[str, str], float]) -> list[JobOutcome]:
        run = unit[0].run
        if self.stop_scheduling.is_set():
            return [
                JobOutcome(
                    d, "cancelled", "not-started", "not started: an earlier job failed (use --keep-going)", 0.0, None
                )
                for d in unit
            ]
        resources = run.experiment.resources
        memory = self.pool.acquire(resources.memory_gb, self.cancel)
        wants_gpu = resources.gpu != "none" and self.gpus.has_gpu
        lease = (
            self.gpus.acquire(peak_gb(run.experiment, run.spec.profile, peaks), self.cancel) if wants_gpu else NO_GPU
        )
        choice = self.threads.take()
        threads = choice.threads
        started_clock = time.monotonic()
        stagings: list[Path] = []
        try:
            if self.cancel.is_set():
                return [JobOutcome(d, "cancelled", "not-started", "interrupted before start", 0.0, None) for d in unit]
            try:
                for d in unit:
                    stagings.append(self.store.new_staging(d.run))
            except OSError as exc:
                return [self._store_failed(d, exc, None, time.monotonic() - started_clock) for d in unit]
            started = utc_now()
            self.watcher.started(unit_key(unit), run.spec.slug, tuple(d.run.spec.seed for d in unit))
            request = JobRequest(
                run=run,
                staging=stagings[0],
                data_dir=self.data_dir,
                weights_dir=self.weights_dir,
                threads=threads,
                timeout_s=(self.timeout_s or resources.timeout_s[run.spec.profile]) * len(unit),
                log_path=stagings[0] / LOG_FILE,
                on_line=lambda line: self.watcher.line(unit_key(unit), line),
                cancel=self.cancel,
                device_env=lease.visible_devices(),
                more_seeds=tuple(zip((d.run for d in unit[1:]), stagings[1:])),
            )
            outcome = self.executor.execute(request)
            seconds = (time.monotonic() - started_clock) / len(unit)
            for staging in stagings[1:]:  # every run folder keeps the group's (shared) log
                if request.log_path.is_file() and not request.log_path.is_symlink():
                    copy_own_file(request.log_path, staging / LOG_FILE)
            return [
                self._finish_or_report(d, staging, outcome, started=started, seconds=seconds, grouped=len(unit) > 1)
                for d, staging in zip(unit, stagings)
            ]
        finally:
            self.threads.give_back(threads)
            self.gpus.release(lease)
            self.pool.release(memory)
            for staging in stagings:
                if staging.exists():
                    self.store.discard(staging)

    def _finish_or_report(
        self, decision: Decision, staging: Path, outcome: ExecOutcome, *, started, seconds: float, grouped: bool
    ) -> JobOutcome:
        try:
            return self._finish(decision, staging, outcome, started=started, seconds=seconds, grouped=grouped)
        except OSError as exc:
            return self._store_failed(decision, exc, staging, seconds)

    def _store_failed(self, decision: Decision, exc: OSError, staging: Path | None, seconds: float) -> JobOutcome:
        """The results folder refused a write (read-only, full disk): say so in one line, and keep a
        failure record if there is still room for one."""
        reason = f"could not write to the results folder: {describe_os_error(exc)}"
        try:
            folder = self.store.record_failure(
                decision.run, "environment", reason, staging / LOG_FILE if staging else None
            )
        except OSError as again:
            folder = None
            reason += f"; no failure record either: {describe_os_error(again)}"
        return JobOutcome(decision, "failed", "environment", reason, seconds, folder)

    def _finish(
        self, decision: Decision, staging: Path, outcome: ExecOutcome, *, started, seconds: float, grouped: bool
    ) -> JobOutcome:
        run = decision.run
        # In a seed group, a seed whose result was written before the process failed is finished.
        finished_anyway = grouped and (staging / RESULT_FILE).is_file()
        if not outcome.ok and not finished_anyway:
            kind = (
                "timeout"
                if outcome.timed_out
                else "oom"
                if outcome.oom
                else "interrupted"
                if outcome.interrupted
                else "crash"
            )
            status = "cancelled" if outcome.interrupted else "failed"
            reason = (
                f"interrupted by {stopping.describe(stopping.stop_signal())}" if outcome.interrupted else outcome.reason
            )
            folder = self.store.record_failure(run, kind, reason, staging / LOG_FILE)
            return JobOutcome(decision, status, kind, reason, seconds, folder)
        try:
            result = self.store.ingest(
                staging,
                run,
                executor=self.executor.name_for(run.environment),
                started=started,
                image_id=outcome.image_id,
                env_differences=outcome.env_differences,
                node=outcome.node,
            )
        except InvalidResult as exc:
            folder = self.store.record_failure(run, "invalid-result", str(exc), staging / LOG_FILE)
            return JobOutcome(decision, "failed", "invalid-result", str(exc), seconds, folder)
        folder = self.store.commit(staging, run)
        return JobOutcome(
            decision, "ok", "ok", "", seconds, folder, result.metrics["test"].auc, result.metrics["val"].auc
        )


class Watcher:
    """What the scheduler tells a display; this one ignores it (see orchestrator.progress).
    A unit is one process: one run, or a seed group; its key is unique within a run."""

    def started(self, key: str, slug: str, seeds: tuple[int, ...]) -> None: ...

    def line(self, key: str, line: str) -> None: ...

    def finished(self, key: str, outcome: JobOutcome, last: bool) -> None: ...


def unit_key(unit: tuple[Decision, ...]) -> str:
    return f"{unit[0].run.spec.slug}-s{unit[0].run.spec.seed}"


class ThreadLedger:
    """Threads per job, chosen at each job's start from the cores free then (see cpu_threads)."""

    def __init__(self, parallel_jobs: int):
        self.parallel_jobs = parallel_jobs
        self.running = 0
        self.lock = threading.Lock()

    def take(self) -> ThreadChoice:
        with self.lock:
            own = self.running
        choice = choose_threads(self.parallel_jobs, own)
        with self.lock:
            self.running += choice.threads
        return choice

    def give_back(self, threads: int) -> None:
        with self.lock:
            self.running -= threads


class Interrupted(UserError):
    """Exit status 128 + the signal, as a shell reports a process stopped by it (130 Ctrl-C, 143 SIGTERM)."""

    def __init__(self, outcomes: list[JobOutcome]):
        sig = stopping.stop_signal()
        super().__init__(
            f"interrupted by {stopping.describe(sig)}: running jobs stopped, finished results kept; rerun to resume"
        )
        self.exit_code = 128 + sig.value
        self.outcomes = outcomes
