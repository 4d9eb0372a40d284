"""Live progress of `orch run`: a line per running job (epoch k/N, validation AUC so far) and an
overall k/N with an ETA from past durations. A live display on a terminal, plain lines in logs.

Jobs report through `jobs.common.progress` lines on stdout. Only validation figures are shown:
the test split is scored once at the end and stays out of every progress line (blind mode).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from jobs.common.progress import parse_progress_line
from orchestrator.scheduler import JobOutcome, Watcher


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@dataclass
class RunningJob:
    slug: str
    seeds: tuple[int, ...]
    started: float
    seed: int | None = None  # the seed training now (a seed group trains them in turn)
    epoch: int | None = None
    epochs: int | None = None
    val_auc: float | None = None
    seeds_done: int = 0

    def describe(self, now: float) -> str:
        label = self.slug + (
            f" s{self.seed if self.seed is not None else self.seeds[0]}"
            if len(self.seeds) == 1
            else f" seeds {self.seeds[0]}-{self.seeds[-1]} ({self.seeds_done}/{len(self.seeds)} done)"
        )
        parts = [label]
        if self.epoch is not None:
            seed = f"s{self.seed} " if len(self.seeds) > 1 and self.seed is not None else ""
            parts.append(f"{seed}epoch {self.epoch}/{self.epochs}")
            if self.val_auc is not None:
                parts.append(f"val AUC {self.val_auc:.3f}")
        parts.append(duration(now - self.started))
        return ", ".join(parts)


@dataclass
class ProgressBoard:
    """What is running, what is done, and how long the rest should take. Thread-safe."""

    total: int
    parallel: int
    expected_seconds: dict[str, float] = field(default_factory=dict)  # slug -> a past run's duration
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.done = 0
        self.failed = 0
        self.durations: list[float] = []
        self.running: dict[str, RunningJob] = {}
        self.waiting_slugs: list[str] = []
        self.started_at = self.clock()
        self.lock = threading.Lock()

    def plan(self, slugs: list[str]) -> None:
        """Every run still to start (one entry per seed)."""
        with self.lock:
            self.waiting_slugs = list(slugs)

    def start(self, key: str, slug: str, seeds: tuple[int, ...]) -> None:
        with self.lock:
            self.running[key] = RunningJob(slug, seeds, self.clock())
            for _ in seeds:
                if slug in self.waiting_slugs:
                    self.waiting_slugs.remove(slug)

    def job_line(self, key: str, line: str) -> bool:
        """Apply a job's stdout line; True when it was a progress line."""
        fields = parse_progress_line(line)
        if fields is None:
            return False
        with self.lock:
            job = self.running.get(key)
            if job is None:
                return False
            if "seed" in fields and fields["seed"] != job.seed:
                if job.seed is not None:
                    job.seeds_done += 1  # a seed group moved on to its next seed
                job.seed, job.val_auc = fields["seed"], None
            job.epoch = fields.get("epoch", job.epoch)
            job.epochs = fields.get("epochs", job.epochs)
            job.val_auc = fields.get("val_auc", job.val_auc)
        return True

    def finish(self, key: str, seconds: float, ok: bool, last_of_unit: bool) -> None:
        with self.lock:
            self.done += 1
            self.failed += 0 if ok else 1
            if ok:
                self.durations.append(seconds)
            if last_of_unit:
                self.running.pop(key, None)

    def expected(self, slug: str) -> float | None:
        if slug in self.expected_seconds:
            return self.expected_seconds[slug]
        return sum(self.durations) / len(self.durations) if self.durations else None

    def eta_seconds(self) -> float | None:
        """Expected work left (waiting runs + the rest of running ones) over the parallel slots."""
        with self.lock:
            now = self.clock()
            left = 0.0
            for slug in self.waiting_slugs:
                expected = self.expected(slug)
                if expected is None:
                    return None
                left += expected
            for job in self.running.values():
                expected = self.expected(job.slug)
                if expected is None:
                    return None
                remaining_seeds = len(job.seeds) - job.seeds_done
                left += max(0.0, expected * remaining_seeds - (now - job.started))
            return left / max(1, self.parallel)

    def overall(self) -> str:
        eta = self.eta_seconds()
        with self.lock:
            failed = f", {self.failed} failed" if self.failed else ""
            elapsed = duration(self.clock() - self.started_at)
            text = f"[{self.done}/{self.total}] done{failed}, {len(self.running)} running, {elapsed} elapsed"
        return text + (f", ETA {duration(eta)}" if eta is not None else ", ETA after the first job")

    def running_lines(self) -> list[str]:
        with self.lock:
            now = self.clock()
            return [job.describe(now) for job in self.running.values()]


class ProgressDisplay(Watcher):
    """The scheduler's watcher for `orch run`: a live board on a terminal, plain lines otherwise
    (CI logs): one per start, epoch and finish, each finish with the overall count and ETA."""

    def __init__(self, board: ProgressBoard, console: Console):
        self.board = board
        self.console = console
        self.live: Live | None = None

    def __enter__(self) -> "ProgressDisplay":
        if self.console.is_terminal:
            self.live = Live(
                self._render(), console=self.console, refresh_per_second=2, transient=True, get_renderable=self._render
            )
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
            self.live = None

    def _render(self) -> Group:
        return Group(
            Text(self.board.overall(), style="bold"), *(Text("  " + line) for line in self.board.running_lines())
        )

    def _say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def started(self, key: str, slug: str, seeds: tuple[int, ...]) -> None:
        self.board.start(key, slug, seeds)
        if self.live is None:
            self._say(
                f"  {slug} {'s' + str(seeds[0]) if len(seeds) == 1 else f'seeds {seeds[0]}-{seeds[-1]} (one process)'}: started"
            )

    def line(self, key: str, line: str) -> None:
        if self.board.job_line(key, line) and self.live is None:
            job = self.board.running.get(key)
            if job is not None:
                self._say(f"  {job.describe(self.board.clock())}")

    def finished(self, key: str, outcome: JobOutcome, last: bool) -> None:
        ok = outcome.status == "ok"
        self.board.finish(key, outcome.seconds, ok, last)
        spec = outcome.decision.run.spec
        # A failure's reason is printed once, in the summary.
        what = f"ok in {duration(outcome.seconds)}" if ok else f"{outcome.status} ({outcome.kind})"
        self._say(f"{self.board.overall()} | {spec.slug} s{spec.seed}: {what}")


def expected_durations(store, profile: str) -> dict[str, float]:
    """slug -> wall time of its newest finished run in this profile (the ETA's estimate)."""
    return {
        s.result.spec.slug: s.result.timings.total_seconds for s in store.finished() if s.result.spec.profile == profile
    }
