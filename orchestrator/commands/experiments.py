"""`orch list | plan | run | status | validate`: the experiment matrix and its results. The commands
parse options and print; planning, scheduling and committing a run is orchestrator/experiment_runs.py."""

import dataclasses
import functools
import math
import time
from pathlib import Path

import click

from orchestrator import paths, registry
from orchestrator.console import print_json, print_table, say
from orchestrator.errors import UserError
from orchestrator.executors import AUTO, EXECUTOR_CHOICES, executor_help
from orchestrator.executors.ray_cluster import RaySettings
from orchestrator.experiment_runs import (
    RunRequest,
    prepare_run,
    refuse_unavailable,
    run_decisions,
    start_scheduler,
)
from orchestrator.planner import Decision
from orchestrator.results import (
    FailureRecord,
    InvalidResult,
    ResultStore,
    UnreadableFailure,
    is_run_folder,
    load_finished,
)
from orchestrator.runs import weights_manifest_sha256
from orchestrator.scheduler import Interrupted, JobOutcome

# Variance across seeds is settled long before this; more is a typo, and each seed is a job.
MAX_SEEDS = 1000
MAX_TIMEOUT_S = 7 * 24 * 3600


def _finite_timeout(ctx, param, value: float | None) -> float | None:
    """FloatRange lets NaN through (every comparison with it is false), and NaN disables a timeout."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number of seconds")
    return value


def selection_options(func):
    options = [
        click.argument("names", nargs=-1),
        click.option("--all", "all_", is_flag=True, help="every experiment of the matrix"),
        click.option("--model", "models", multiple=True, help="only this model (repeatable)"),
        click.option("--horizon", "horizons", type=int, multiple=True, help="only this horizon (repeatable)"),
        click.option(
            "--profile",
            type=click.Choice(["quick", "full"]),
            default="quick",
            show_default=True,
            help="quick: CI/laptop sizes; full: the study's sizes",
        ),
        click.option(
            "--seeds",
            type=click.IntRange(min=1, max=MAX_SEEDS),
            default=1,
            show_default=True,
            help=f"run seeds 0..N-1 of each experiment (at most {MAX_SEEDS})",
        ),
        click.option("--dataset", default=paths.DEFAULT_DATASET, show_default=True, help="dataset name under data/"),
        click.option(
            "--executor",
            type=click.Choice(list(EXECUTOR_CHOICES)),
            default=AUTO,
            show_default=True,
            envvar="ORCH_EXECUTOR",
            help=f"{executor_help()} [env: ORCH_EXECUTOR]",
        ),
        click.option("--force", is_flag=True, help="rerun even when a valid cached result exists"),
        click.option(
            "--set",
            "overrides",
            multiple=True,
            metavar="KEY=VALUE",
            help="override a hyper-parameter of every selected experiment (value parsed as JSON if it can be)",
        ),
        click.option(
            "--python",
            "interpreters",
            multiple=True,
            metavar="ENV=PATH",
            help="run env ENV's jobs with this existing interpreter (no venv build; its packages are checked "
            "against the env's pins and differences recorded) [env: ORCH_PYTHON_<ENV>]",
        ),
        click.option(
            "--reuse-across-executors",
            "reuse_across",
            is_flag=True,
            help="reuse a result made with the same pins on another Python/platform (e.g. a native run on "
            "macOS for a Docker plan)",
        ),
    ]

    @functools.wraps(func)
    def with_request(**given):
        """The selection's values travel as one RunRequest (`request=`); --json is the command's too."""
        selection = {name: given.pop(name) for name in SELECTION_FIELDS}
        return func(request=RunRequest(**selection, as_json=given["as_json"]), **given)

    command = with_request
    for option in reversed(options):
        command = option(command)
    return command


# The fields selection_options fills (the rest come from the command: --json, Ray settings).
SELECTION_FIELDS = tuple(f.name for f in dataclasses.fields(RunRequest) if f.name not in ("as_json", "ray_settings"))


def seed_and_fold(d: Decision) -> str:
    """The seed, and the walk-forward fold where the dataset has folds."""
    return str(d.run.spec.seed) + ("" if d.run.spec.fold is None else f" f{d.run.spec.fold}")


def decision_rows(decisions: list[Decision]) -> list[list[str]]:
    return [[d.experiment.id, d.run.spec.slug, seed_and_fold(d), d.action, d.reason, _estimate(d)] for d in decisions]


def _estimate(decision: Decision) -> str:
    return decision.experiment.resources.estimate.get(decision.run.spec.profile, "")


SHOW_TEST_HELP = "also show test AUC (blind by default: tune on validation, read test once in `orch report`)"


def shown_split(show_test: bool) -> str:
    return "test" if show_test else "val"


def list_note(experiment: registry.Experiment) -> str | None:
    """The catalog's note, for a pretrained model how far its pre-training data may reach (a test
    period starting before that date gets the report's `pretraining-overlap` flag), and the licence
    where it restricts use."""
    facts = experiment.pretraining
    overlap = (
        None
        if facts is None
        else (
            f"pre-training data to {facts.cutoff}"
            + ("" if facts.cutoff_published else " (release; no cut-off published)")
            + ": earlier test periods are flagged"
        )
    )
    licence = None if experiment.licence is None else f"licence: {experiment.licence}"
    return "; ".join(text for text in (experiment.note, overlap, licence) if text) or None


def last_run_label(row: dict) -> str:
    """'quick', or 'quick, random-init' where the last result's weights make it no finding."""
    unfit = row["last_weights"] in ("random-init", "custom")
    return f"{row['last_profile']}, {row['last_weights']}" if unfit else row["last_profile"]


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--show-test", is_flag=True, help=SHOW_TEST_HELP)
def list_command(as_json: bool, show_test: bool) -> None:
    """Every experiment of the matrix, whether its job exists, and its last validation AUC."""
    latest = ResultStore(paths.results_dir()).latest_by_slug()
    split = shown_split(show_test)
    rows = []
    for e in registry.EXPERIMENTS:
        stored = latest.get(e.slug)
        auc = stored.result.metrics[split].auc if stored else None
        if e.unavailable is not None:
            status = e.unavailable.status
        elif not e.implemented:
            status = "not implemented"
        elif e.weights and weights_manifest_sha256(e, paths.weights_dir()) is None:
            status = "needs weights"
        else:
            status = "has result" if stored else "ready"
        rows.append(
            {
                "id": e.id,
                "slug": e.slug,
                "model": e.model,
                "role": e.role,
                "env": e.env,
                "horizon": e.horizon,
                "status": status,
                f"last_{split}_auc": auc,
                "last_profile": stored.result.spec.profile if stored else None,
                "last_weights": stored.result.weights.kind if stored else None,
                "note": e.unavailable.reason if e.unavailable is not None else list_note(e),
            }
        )
    if as_json:
        print_json(rows)
        return
    print_table(
        "Experiments",
        ["id", "slug", "model", "role", "env", "H", "status", f"last {split} AUC", "note"],
        [
            [
                r["id"],
                r["slug"],
                r["model"],
                r["role"],
                r["env"],
                r["horizon"],
                r["status"],
                f"{r[f'last_{split}_auc']:.3f} ({last_run_label(r)})" if r[f"last_{split}_auc"] is not None else "-",
                r["note"] or "",
            ]
            for r in rows
        ],
    )


@click.command("plan")
@selection_options
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def plan_command(*, request: RunRequest, as_json: bool):
    """Per experiment: run or skip, and why. Builds nothing (no image, no venv)."""
    decisions = prepare_run(request, build_dataset=False).decisions
    if as_json:
        print_json(
            [
                {
                    "id": d.experiment.id,
                    "slug": d.run.spec.slug,
                    "seed": d.run.spec.seed,
                    "fold": d.run.spec.fold,
                    "action": d.action,
                    "reason": d.reason,
                    "run_key": d.run.key.run_key,
                    "estimate": _estimate(d) or None,
                }
                for d in decisions
            ]
        )
        return
    print_table(
        f"Plan ({request.profile} profile)",
        ["id", "slug", "seed", "action", "reason", "estimate"],
        decision_rows(decisions),
    )


@click.command("run")
@selection_options
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True, help="experiments in parallel")
@click.option("--keep-going", is_flag=True, help="a failed job does not stop the others")
@click.option("--dry-run", is_flag=True, help="show the plan, run nothing")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1, max=MAX_TIMEOUT_S),
    callback=_finite_timeout,
    help="per-job timeout in seconds (default: per registry)",
)
@click.option(
    "--gpu-slots",
    type=click.IntRange(min=1),
    default=None,
    help="jobs sharing one GPU at most (default: as many as its free memory holds)",
)
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.option("--show-test", is_flag=True, help=SHOW_TEST_HELP)
@click.option(
    "--ray-address",
    envvar="ORCH_RAY_ADDRESS",
    metavar="HOST:PORT",
    help="--executor ray: the running cluster's head; without it a local one-machine cluster is "
    "started on 127.0.0.1 for the run [env: ORCH_RAY_ADDRESS]",
)
@click.option(
    "--ray-retries",
    envvar="ORCH_RAY_RETRIES",
    type=click.IntRange(0, 3),
    default=0,
    show_default=True,
    help="--executor ray: re-run a job whose worker or node died this many times [env: ORCH_RAY_RETRIES]",
)
def run_command(
    *,
    request: RunRequest,
    jobs,
    keep_going,
    dry_run,
    timeout,
    gpu_slots,
    as_json,
    show_test,
    ray_address,
    ray_retries,
):
    """Run the selected experiments (cached ones are skipped)."""
    ray_settings = RaySettings(address=ray_address or None, retries=ray_retries)  # only ray reads them
    prepared = prepare_run(dataclasses.replace(request, ray_settings=ray_settings), build_dataset=True)
    decisions = prepared.decisions
    if dry_run:
        print_table(
            f"Plan ({request.profile} profile, dry run)",
            ["id", "slug", "seed", "action", "reason", "estimate"],
            decision_rows(decisions),
        )
        return
    scheduler = start_scheduler(prepared, jobs=jobs, keep_going=keep_going, timeout_s=timeout, gpu_slots=gpu_slots)
    started = time.perf_counter()
    try:
        outcomes = run_decisions(scheduler, decisions, request.profile)
    except Interrupted as interrupted:
        _summarise(decisions, interrupted.outcomes, time.perf_counter() - started, as_json=as_json, show_test=show_test)
        raise
    finally:
        prepared.executor.close()  # a cluster connection; a local Ray instance stops here
    _summarise(decisions, outcomes, time.perf_counter() - started, as_json=as_json, show_test=show_test)
    failed = [o for o in outcomes if o.status != "ok"]
    if failed:
        raise UserError(
            f"{len(failed)} of {len(prepared.todo)} job(s) did not finish; see the summary above and results/_failed/"
        )
    if request.names or request.models:
        refuse_unavailable(decisions)


def _summarise(
    decisions: list[Decision], outcomes: list[JobOutcome], seconds: float, *, as_json: bool, show_test: bool = False
) -> None:
    by_key = {o.decision.run.folder_name: o for o in outcomes}
    rows = []
    for d in decisions:
        outcome = by_key.get(d.run.folder_name)
        if outcome is not None:
            auc = outcome.test_auc if show_test else outcome.val_auc
            status, detail = (
                outcome.status,
                (
                    f"{shown_split(show_test)} AUC {auc:.3f}"
                    if outcome.status == "ok" and auc is not None
                    else f"{outcome.kind}: {outcome.reason}"
                ),
            )
            secs = f"{outcome.seconds:.1f}"
        elif d.action == "skip":
            status, detail, secs = "cached", d.reason, "-"
        elif d.action == "unavailable":
            if d.experiment.unavailable is not None:
                status = d.experiment.unavailable.status
            else:
                status = "needs weights" if d.reason.startswith("needs pretrained weights") else "not implemented"
            detail, secs = d.reason, "-"
        else:
            status, detail, secs = "not run", d.reason, "-"
        rows.append([d.experiment.id, d.run.spec.slug, seed_and_fold(d), status, secs, detail])
    if as_json:
        print_json(
            {
                "seconds": seconds,
                "experiments": [dict(zip(["id", "slug", "seed", "status", "seconds", "detail"], r)) for r in rows],
            }
        )
        return
    counts = {}
    for row in rows:
        counts[row[3]] = counts.get(row[3], 0) + 1
    print_table(
        f"Summary ({seconds:.1f}s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
        ["id", "slug", "seed", "status", "seconds", "detail"],
        rows,
    )


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--show-test", is_flag=True, help=SHOW_TEST_HELP)
def status_command(as_json: bool, show_test: bool) -> None:
    """Finished results, recent failures and leftovers in the results folder."""
    store = ResultStore(paths.results_dir())
    finished = store.finished()
    failures = store.failures()
    unreadable = [f for f in failures if isinstance(f, UnreadableFailure)]
    if unreadable:
        say(f"warning: {len(unreadable)} failure record(s) could not be read, e.g. {unreadable[0].reason}")
    staging = sorted(p for p in store.staging_root.iterdir() if p.is_dir()) if store.staging_root.is_dir() else []
    abandoned = store.abandoned()
    split = shown_split(show_test)
    if as_json:
        print_json(
            {
                "finished": [
                    {
                        "folder": s.folder.name,
                        "slug": s.result.spec.slug,
                        f"{split}_auc": s.result.metrics[split].auc,
                        "profile": s.result.spec.profile,
                        "weights": s.result.weights.kind,
                    }
                    for s in finished
                ],
                "failures": [
                    f.model_dump(mode="json")
                    if isinstance(f, FailureRecord)
                    else {"folder": f.folder.name, "kind": f.kind, "reason": f.reason}
                    for f in failures
                ],
                "in_progress": [p.name for p in staging if p not in abandoned],
                "abandoned": [p.name for p in abandoned],
            }
        )
        return
    print_table(
        f"Finished runs in {store.root}",
        ["folder", f"{split} AUC", "profile", "weights", "finished"],
        [
            [
                s.folder.name,
                f"{s.result.metrics[split].auc:.3f}" if s.result.metrics[split].auc is not None else "-",
                s.result.spec.profile,
                s.result.weights.kind,
                f"{s.result.provenance.finished_at:%Y-%m-%d %H:%M}",
            ]
            for s in finished
        ],
    )
    if failures:
        print_table(
            "Failures",
            ["slug", "seed", "kind", "reason", "when"],
            [[f.slug, f.seed, f.kind, f.reason[:100], f"{f.finished_at:%Y-%m-%d %H:%M}"] for f in failures[-20:]],
        )
    if staging:
        say(
            f"{len(staging)} staging folder(s) in {store.staging_root}: {len(staging) - len(abandoned)} in progress, "
            f"{len(abandoned)} abandoned by a killed orch (the next `orch run` removes those)"
        )


@click.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def validate_command(path: Path | None) -> None:
    """Validate a run folder, a result.json, or every run under a results folder: the schema, every
    metric recomputed from predictions.parquet, and the run key (spec hash, key parts, folder name)."""
    path = path or paths.results_dir()
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_file() or (path / "result.json").is_file():
        folders = [path]
    else:
        folders = sorted(p for p in path.iterdir() if is_run_folder(p))
        if not folders:
            raise UserError(f"{path}: no run folders to validate")
    bad = 0
    for folder in folders:
        try:
            result = load_finished(folder)
            note = " [random-init weights]" if result.weights.kind == "random-init" else ""
            click.echo(f"ok       {folder}  ({result.spec.slug}, val AUC {result.metrics['val'].auc}){note}")
        except InvalidResult as exc:
            bad += 1
            click.echo(f"invalid  {exc}")
    if bad:
        raise UserError(f"{bad} of {len(folders)} result(s) invalid")
