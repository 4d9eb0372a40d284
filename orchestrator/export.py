"""Every valid run as one tidy table, for a notebook or another tool: `orch export` and
`orchestrator.results.table()` / `.predictions()`.

A run counts only if it passes the one run-folder reader (orchestrator/run_folder.py, through the
report's `read_run`), exactly as `orch validate` and `orch report` count it. Flags are the report's:
random-init and quick-profile results stay labelled as such in every row.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console

from orchestrator import paths
from orchestrator.errors import UserError
from orchestrator.fsutil import atomic_write_bytes

# The report's own grouping and flags, so that an exported row is flagged exactly as the report flags it.
from orchestrator.report.defaults import DEFAULT_MIN_SEEDS
from orchestrator.report.load import Run, SeedGroup, SkippedFolder, model_family, read_run, seed_group_key
from orchestrator.run_folder import InvalidResult, is_run_folder, run_folders
from orchestrator.step_bar import step_bar
from shared_schema.commit import FAILED_DIR, STAGING_DIR

FORMATS = ("parquet", "csv")
METRICS = ("auc", "accuracy", "precision", "recall", "brier", "ece", "log_loss", "base_rate", "n")
# One row per run: these columns, in this order (an empty results folder gives them too).
RUN_COLUMNS = (
    "experiment_id",
    "slug",
    "model",
    "family",
    "env",
    "horizon",
    "seed",
    "fold",
    "profile",
    "flags",
    "eligible",
    "weights_kind",
    "weights_source",
    *(f"{split}_{name}" for split in ("val", "test") for name in METRICS),
    "decision_threshold",
    "n_parameters",
    "train_seconds",
    "total_seconds",
    "executor",
    "node",
    "run_key",
    "dataset_name",
    "dataset_sha256",
    "git_commit",
    "finished_at",
    "folder",
)
# What identifies a run in every row of the predictions table.
PREDICTION_KEYS = (
    "run_key",
    "experiment_id",
    "slug",
    "model",
    "horizon",
    "seed",
    "fold",
    "profile",
    "weights_kind",
    "flags",
    "dataset_sha256",
)


@dataclass(frozen=True)
class ValidRuns:
    runs: list[Run]
    skipped: list[SkippedFolder]


def existing_run_folders(results_dir: Path) -> list[Path]:
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"{results_dir}: no such results folder")
    return run_folders(results_dir)


def read_valid_runs(results_dir: Path, on_folder: Callable[[], None] = lambda: None) -> ValidRuns:
    """Every run folder that passes the one reader; the rest with the reason, one line each."""
    runs, skipped = [], []
    for folder in existing_run_folders(results_dir):
        try:
            runs.append(read_run(folder))
        except InvalidResult as exc:
            skipped.append(SkippedFolder(folder, exc.in_folder))
        on_folder()
    return ValidRuns(runs, skipped)


def experiment_flags(runs: list[Run], min_seeds: int) -> dict[Path, tuple[list[str], bool]]:
    """folder -> (flags, eligible) of the experiment it belongs to in the report (all seeds of one
    spec on one dataset), so few-seeds and missing-folds read exactly as in `orch report`."""
    by_dataset: dict[str, list[Run]] = {}
    for run in runs:
        by_dataset.setdefault(run.result.spec.dataset.sha256, []).append(run)
    flags = {}
    for dataset_runs in by_dataset.values():
        folds = tuple(sorted({run.result.spec.fold for run in dataset_runs}, key=lambda f: -1 if f is None else f))
        groups: dict[str, list[Run]] = {}
        for run in dataset_runs:
            groups.setdefault(seed_group_key(run), []).append(run)
        for members in groups.values():
            experiment = SeedGroup(label="", runs=tuple(members), min_seeds=min_seeds, expected_folds=folds)
            for run in members:
                flags[run.folder] = (experiment.flags, experiment.eligible)
    return flags


def weights_source(run: Run) -> str:
    weights = run.result.weights
    if weights.kind != "pretrained":
        return weights.kind
    return f"{weights.hub_id}@{weights.revision or 'unknown revision'} (sha256 {weights.sha256[:12]})"


def run_row(run: Run, flags: list[str], eligible: bool) -> dict:
    result, spec, provenance = run.result, run.result.spec, run.result.provenance
    row = {
        "experiment_id": spec.id,
        "slug": spec.slug,
        "model": spec.model,
        "family": model_family(spec.model),
        "env": spec.env,
        "horizon": spec.horizon,
        "seed": spec.seed,
        "fold": spec.fold,
        "profile": spec.profile,
        "flags": ",".join(flags),
        "eligible": eligible,
        "weights_kind": result.weights.kind,
        "weights_source": weights_source(run),
    }
    for split in ("val", "test"):
        metrics = result.metrics[split]
        row |= {f"{split}_{name}": getattr(metrics, name) for name in METRICS}
    return row | {
        "decision_threshold": result.decision_threshold,
        "n_parameters": result.n_parameters,
        "train_seconds": result.timings.train_seconds,
        "total_seconds": result.timings.total_seconds,
        "executor": provenance.executor,
        "node": provenance.node,
        "run_key": provenance.run_key,
        "dataset_name": spec.dataset.name,
        "dataset_sha256": spec.dataset.sha256,
        "git_commit": provenance.git_commit,
        "finished_at": provenance.finished_at,
        "folder": run.folder.name,
    }


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """A single split has no fold: a nullable integer column, not floats with NaN."""
    return frame.astype({"fold": "Int64"}) if "fold" in frame else frame


def runs_frame(valid: ValidRuns, min_seeds: int = DEFAULT_MIN_SEEDS) -> pd.DataFrame:
    flags = experiment_flags(valid.runs, min_seeds)
    rows = [run_row(run, *flags[run.folder]) for run in valid.runs]
    frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    frame = (
        _typed(frame).sort_values(
            ["horizon", "experiment_id", "slug", "seed", "fold"], kind="mergesort", ignore_index=True
        )
        if rows
        else frame
    )
    frame.attrs["skipped"] = [(str(s.folder), s.reason) for s in valid.skipped]
    return frame


def predictions_frame(valid: ValidRuns, min_seeds: int = DEFAULT_MIN_SEEDS) -> pd.DataFrame:
    """One row per (run, split, date): the run's keys, then date, split, y_true, p (and point_score)."""
    flags = experiment_flags(valid.runs, min_seeds)
    parts = []
    for run in valid.runs:
        row = run_row(run, *flags[run.folder])
        keys = pd.DataFrame({key: [row[key]] * len(run.predictions) for key in PREDICTION_KEYS})
        parts.append(pd.concat([keys, run.predictions.reset_index(drop=True)], axis=1))
    frame = _typed(pd.concat(parts, ignore_index=True)) if parts else pd.DataFrame(columns=list(PREDICTION_KEYS))
    frame.attrs["skipped"] = [(str(s.folder), s.reason) for s in valid.skipped]
    return frame


def encode(frame: pd.DataFrame, file_format: str) -> bytes:
    if file_format == "csv":
        return frame.to_csv(index=False).encode()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@dataclass(frozen=True)
class ExportRequest:
    results_dir: Path
    out: Path
    file_format: str
    predictions: bool
    min_seeds: int = DEFAULT_MIN_SEEDS


def check_request(request: ExportRequest) -> None:
    """Everything the user can get wrong, before any result is read."""
    if request.file_format not in FORMATS:
        raise UserError(f"unknown format {request.file_format!r}: choose one of {', '.join(FORMATS)}")
    if request.out.is_dir():
        raise UserError(
            f"--out {request.out} is a folder; name the file to write, e.g. {request.out / ('runs.' + request.file_format)}"
        )
    if request.out.suffix != f".{request.file_format}":
        other = request.out.suffix.lstrip(".")
        fix = f"pass --format {other}" if other in FORMATS else f"name it *.{request.file_format}"
        raise UserError(f"--out {request.out} does not end in .{request.file_format}: {fix}")
    existing_run_folders(request.results_dir)
    check_not_a_project_file(request)


def check_not_a_project_file(request: ExportRequest) -> None:
    """--out must not land inside a run folder, a failure record or a staging folder (it would replace
    a finished run's files), nor inside the datasets folder."""
    target = request.out.resolve()
    results = request.results_dir.resolve()
    inside = [folder for folder in target.parents if folder.parent == results]
    if inside and (inside[0].name in (FAILED_DIR, STAGING_DIR) or is_run_folder(inside[0])):
        raise UserError(
            f"--out {request.out} is inside {inside[0]}, which belongs to the results store; write elsewhere"
        )
    data = paths.data_dir().resolve()
    if target == data or data in target.parents:
        raise UserError(f"--out {request.out} is inside the datasets folder {data}; write elsewhere")


def export(request: ExportRequest, console: Console) -> tuple[pd.DataFrame, list[SkippedFolder]]:
    """Read, validate, write atomically. Raises UserError when no valid run is there."""
    check_request(request)
    with step_bar(console, len(existing_run_folders(request.results_dir)), "[bold]reading results") as advance:
        valid = read_valid_runs(request.results_dir, advance)
    if not valid.runs:
        why = f" ({len(valid.skipped)} invalid folder(s); `orch validate` says why)" if valid.skipped else ""
        raise UserError(f"no valid runs in {request.results_dir}{why}")
    build = predictions_frame if request.predictions else runs_frame
    frame = build(valid, request.min_seeds)
    try:
        atomic_write_bytes(request.out, encode(frame, request.file_format))
    except OSError as exc:
        raise UserError(f"cannot write {request.out}: {exc.strerror or exc}") from exc
    return frame, valid.skipped
