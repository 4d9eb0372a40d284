"""The `orch plan` / `orch run` use case, without Click: a RunRequest is checked and decided run by
run (`prepare_run`: builds no image or venv), then scheduled (`start_scheduler`) and run, each result
committed as its job ends (`run_decisions`). commands/experiments.py parses the options and prints."""

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator import paths
from orchestrator.console import console, say
from orchestrator.data.bundled import ensure_dataset
from orchestrator.environments import ENVIRONMENTS
from orchestrator.errors import UserError
from orchestrator.executors import AUTO, Executor, ExecutorOptions, choose_executor
from orchestrator.executors.ray_cluster import RaySettings
from orchestrator.gpu_slots import GpuSlots, discover_gpus
from orchestrator.overrides import checked_overrides
from orchestrator.planner import Decision, decide_runs
from orchestrator.progress import ProgressBoard, ProgressDisplay, expected_durations
from orchestrator.results import ResultStore, describe_os_error
from orchestrator.scheduler import JobOutcome, Scheduler
from orchestrator.selection import select


def parse_interpreters(pairs: tuple[str, ...]) -> dict[str, Path]:
    """ORCH_PYTHON_<ENV> for each env, overridden by `--python ENV=PATH`."""
    chosen = {
        env: os.environ[f"ORCH_PYTHON_{env.upper()}"]
        for env in ENVIRONMENTS
        if os.environ.get(f"ORCH_PYTHON_{env.upper()}")
    }
    for pair in pairs:
        env, sep, path = pair.partition("=")
        if not sep or not path:
            raise UserError(f"--python expects ENV=PATH, got {pair!r}")
        if env not in ENVIRONMENTS:
            raise UserError(f"--python {pair}: unknown env {env!r}; known: {', '.join(ENVIRONMENTS)}")
        chosen[env] = path
    return {env: Path(path).expanduser() for env, path in chosen.items()}


@dataclass(frozen=True)
class RunRequest:
    """What `orch plan` / `orch run` were asked for: the selection and how to run it."""

    names: tuple[str, ...] = ()
    all_: bool = False
    models: tuple[str, ...] = ()
    horizons: tuple[int, ...] = ()
    profile: str = "quick"
    seeds: int = 1
    dataset: str = paths.DEFAULT_DATASET
    executor: str = AUTO
    force: bool = False
    overrides: tuple[str, ...] = ()  # `--set KEY=VALUE`, unchecked
    interpreters: tuple[str, ...] = ()  # `--python ENV=PATH`, unchecked
    reuse_across: bool = False
    as_json: bool = False  # machine-readable output: the executor line is not printed
    ray_settings: RaySettings | None = None


@dataclass(frozen=True)
class PreparedRun:
    """A checked request: every decision, the executor that will carry them out, and where."""

    decisions: list[Decision]
    executor: Executor
    store: ResultStore
    data_dir: Path

    @property
    def todo(self) -> list[Decision]:
        """The decisions to run (the rest are cached, unavailable or left out)."""
        return [d for d in self.decisions if d.action == "run"]


def prepare_run(request: RunRequest, *, build_dataset: bool) -> PreparedRun:
    """Check every input, then choose the executor and decide, per run, run or skip (builds no image
    or venv; the bundled dataset is written only with `build_dataset`, for `orch run`)."""
    experiments = select(request.names, request.all_, request.models, request.horizons)
    checked = checked_overrides(request.overrides, experiments, request.profile)
    data_dir = paths.data_dir()
    # every input is checked before the executor is chosen
    manifest = ensure_dataset(data_dir, request.dataset, build=build_dataset)
    executor, why = choose_executor(
        request.executor,
        ExecutorOptions(interpreters=parse_interpreters(request.interpreters), ray_settings=request.ray_settings),
    )
    # What the executor decides per env (e.g. an image's platform) is checked here, before any work.
    details = [d for env in sorted({e.env for e in experiments}) if (d := executor.describe(ENVIRONMENTS[env]))]
    if not request.as_json:  # --json output stays parseable; the choice is for people
        say("executor: " + "; ".join([why, *details]))
    store = ResultStore(paths.results_dir())
    decisions = decide_runs(
        experiments=experiments,
        manifest=manifest,
        profile=request.profile,
        seeds=list(range(request.seeds)),
        store=store,
        fingerprint=lambda env: executor.fingerprint(ENVIRONMENTS[env]),
        force=request.force,
        overrides=checked,
        weights_dir=paths.weights_dir(),
        reuse_across=request.reuse_across,
    )
    return PreparedRun(decisions, executor, store, data_dir)


def start_scheduler(
    prepared: PreparedRun, *, jobs: int, keep_going: bool, timeout_s: float | None, gpu_slots: int | None
) -> Scheduler:
    """The scheduler for a prepared run; where anything will run, a read-only results or cache folder
    is refused first and what killed runs left in staging is cleared."""
    if prepared.todo:
        _prepare_results_folder(prepared.store)
        _check_cache_writable()
    return Scheduler(
        prepared.executor,
        prepared.store,
        prepared.data_dir,
        paths.weights_dir() if paths.weights_dir().is_dir() else None,
        jobs=jobs,
        keep_going=keep_going,
        timeout_s=timeout_s,
        say=say,
        gpu_slots=GpuSlots(discover_gpus(), gpu_slots),
    )


def run_decisions(scheduler: Scheduler, decisions: list[Decision], profile: str) -> list[JobOutcome]:
    """Run the decisions marked 'run' under the live progress board; each result is committed by the
    scheduler as its job ends (Interrupted carries the outcomes so far)."""
    total = sum(d.action == "run" for d in decisions)
    if total == 0:
        return []
    board = ProgressBoard(total, scheduler.jobs, expected_durations(scheduler.store, profile))
    board.plan([d.run.spec.slug for d in decisions if d.action == "run"])
    with ProgressDisplay(board, console) as display:
        scheduler.watcher = display
        return scheduler.run(decisions)


def refuse_unavailable(decisions: list[Decision]) -> None:
    """An experiment the user named (by id, slug or --model) that cannot run is a failure, so a
    script or CI does not read 'skipped for lack of weights' as 'ran'; `--all` only lists them."""
    blocked = {d.experiment.id: d for d in decisions if d.action == "unavailable"}
    if not blocked:
        return
    first = next(iter(blocked.values()))
    others = f" (and {len(blocked) - 1} more: {', '.join(list(blocked)[1:6])})" if len(blocked) > 1 else ""
    raise UserError(f"{first.experiment.id} {first.experiment.slug} cannot run: {first.reason}{others}")


def _prepare_results_folder(store: ResultStore) -> None:
    """Refuse a read-only results folder before any job starts, and clear what killed runs left."""
    try:
        store.check_writable()
        swept = store.sweep_abandoned()
    except OSError as exc:
        raise UserError(
            f"results folder {store.root} is not writable: {describe_os_error(exc)}; "
            "fix its permissions or point ORCH_RESULTS_DIR at a writable folder"
        ) from None
    if swept:
        say(f"cleared {len(swept)} folder(s) a killed run left in .staging: {', '.join(swept)}")


def _check_cache_writable() -> None:
    """Venvs, image locks and tool caches go under the cache folder: refuse a read-only one up front."""
    cache = paths.cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe = cache / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"cache folder {cache} is not writable: {describe_os_error(exc)}; "
            "fix its permissions or point ORCH_CACHE_DIR at a writable folder"
        ) from None
