"""The job contract: spec + dataset in, validated result.json + predictions.parquet out."""

import importlib.metadata
import math
import os
import platform
import random
import time
from pathlib import Path

import numpy as np

from jobs import registry
from jobs.common.contract import ModelOutput
from jobs.common.dataset import load_dataset
from jobs.common.errors import JobError
from jobs.common.io import predictions_table, write_outputs
from jobs.common.metrics import DECISION_RULE, auc_roc, choose_threshold, split_metrics
from shared_schema import EnvironmentInfo, ExperimentSpec, JobResult, Timings
from shared_schema.base import read_json_model

BASE_PACKAGES = ("numpy", "pandas", "pyarrow", "pydantic")


def read_spec(path: Path) -> ExperimentSpec:
    if not Path(path).exists():
        raise JobError(f"spec file not found: {path}")
    try:
        return read_json_model(ExperimentSpec, path)
    except ValueError as exc:
        raise JobError(f"{path}: invalid spec: {exc}") from exc


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for name in dict.fromkeys(names):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def thread_count() -> int:
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


def build_result(spec: ExperimentSpec, output: ModelOutput, total_seconds: float) -> JobResult:
    threshold = choose_threshold(output.val.y, output.val.p)
    return JobResult(
        spec=spec,
        metrics={
            "val": split_metrics(output.val.y, output.val.p, threshold),
            "test": split_metrics(output.test.y, output.test.p, threshold),
        },
        decision_threshold=threshold,
        decision_rule=DECISION_RULE,
        n_parameters=output.n_parameters,
        n_train=output.n_train,
        weights=output.weights,
        timings=Timings(
            train_seconds=output.train_seconds,
            predict_seconds=output.predict_seconds,
            total_seconds=total_seconds,
        ),
        environment=EnvironmentInfo(
            python=platform.python_version(),
            platform=f"{platform.system()}-{platform.machine()}",
            device=output.device,
            threads=thread_count(),
            packages=package_versions(BASE_PACKAGES + output.packages),
        ),
        notes={**finite_notes(output.notes), **point_score_aucs(output)},
        inputs=output.inputs,
    )


def finite_notes(notes: dict) -> dict:
    """The job's notes without non-finite numbers (a loss never evaluated is NaN): JSON has no NaN,
    and a note that could not be computed is left out rather than written as a string."""
    return {key: value for key, value in notes.items() if not (isinstance(value, float) and not math.isfinite(value))}


def point_score_aucs(output: ModelOutput) -> dict[str, float]:
    """AUC of the point-forecast arm beside the distribution's, so the pair shows in result.json."""
    notes = {}
    for name, part in (("val", output.val), ("test", output.test)):
        value = None if part.point_score is None else auc_roc(part.y, part.point_score)
        if value is not None:
            notes[f"point_score_auc_{name}"] = round(value, 6)
    return notes


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run_job(spec_path: Path, data_dir: Path, out_dir: Path, weights_dir: Path | None) -> JobResult:
    started = time.perf_counter()
    spec = read_spec(spec_path)
    fit_predict = registry.resolve(spec.model, spec.env)
    seed_everything(spec.seed)
    dataset = load_dataset(data_dir, spec)
    print(
        f"[job] {spec.id} {spec.slug}: model={spec.model} profile={spec.profile} rows={len(dataset.frame)}", flush=True
    )
    output = fit_predict(spec, dataset, weights_dir)
    return finish(spec, output, out_dir, time.perf_counter() - started)


def run_seed_group(
    spec_paths: list[Path], data_dir: Path, out_dirs: list[Path], weights_dir: Path | None
) -> list[JobResult]:
    """Several seeds of one experiment in this process: the dataset is loaded once, and each
    seed's result is written to its own folder as soon as it is ready, exactly as if it had run
    alone (a later seed's failure never loses an earlier one's result)."""
    started = time.perf_counter()
    specs = [read_spec(path) for path in spec_paths]
    first = specs[0]
    differing = [s.seed for s in specs[1:] if s.model_copy(update={"seed": first.seed}) != first]
    if differing:
        raise JobError(f"a seed group must differ only in seed; the specs for seeds {differing} differ in more")
    if len({s.seed for s in specs}) != len(specs):
        raise JobError(f"a seed group lists a seed twice: {[s.seed for s in specs]}")
    fit_predict_seeds = registry.resolve_group(first.model, first.env)
    dataset = load_dataset(data_dir, first)
    print(
        f"[job] {first.id} {first.slug}: model={first.model} profile={first.profile} rows={len(dataset.frame)} "
        f"seeds={[s.seed for s in specs]}",
        flush=True,
    )
    outputs = iter(fit_predict_seeds(specs, dataset, weights_dir))
    results = []
    for spec, out_dir in zip(specs, out_dirs):
        seed_everything(spec.seed)  # the entry trains this seed inside `next`
        results.append(finish(spec, next(outputs), out_dir, time.perf_counter() - started))
        started = time.perf_counter()
    return results


def seed_everything(seed: int) -> None:
    """Python's and numpy's global generators; torch jobs seed torch themselves."""
    random.seed(seed)
    np.random.seed(seed % 2**32)


def finish(spec: ExperimentSpec, output: ModelOutput, out_dir: Path, seconds: float) -> JobResult:
    """Check the probabilities, build and write the result, and say so."""
    for name, part in (("val", output.val), ("test", output.test)):
        if not np.all(np.isfinite(part.p)) or part.p.min() < 0 or part.p.max() > 1:
            raise JobError(f"model produced invalid probabilities on {name} (NaN/inf or outside [0, 1])")
        if part.point_score is not None and not np.all(np.isfinite(part.point_score)):
            raise JobError(f"model produced a non-finite point_score on {name}")
    result = build_result(spec, output, seconds)
    write_outputs(Path(out_dir), result, predictions_table(output))
    print(
        f"[job] done: val AUC={_fmt(result.metrics['val'].auc)} in {result.timings.total_seconds:.1f}s",
        flush=True,
    )
    return result
