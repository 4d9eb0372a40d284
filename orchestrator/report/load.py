"""Result folders -> validated runs -> experiments (the seeds of one spec), with their flags.

A folder that cannot be trusted is skipped with a one-line reason, never allowed to crash the
report or to slip into it half-read.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from orchestrator.registry import EXPERIMENTS
from orchestrator.results import check_metrics
from shared_schema import PREDICTION_DTYPES, JobResult, PredictionsFile

RESULT_FILE = "result.json"
PREDICTIONS_FILE = "predictions.parquet"

REFERENCE_MODEL = "patchtst"
CAUSAL_MODEL = "patchtst-causal"
# One source of truth for families: the experiment registry (pure data, no ML stack imported).
FAMILY_OF_MODEL = {e.model: e.family for e in EXPERIMENTS}
DEEP_FAMILIES = ("foundation", "transformer", "no-attention")

# Why a result may be shown but never used in a verdict.
FLAG_RANDOM_INIT = "random-init"
FLAG_QUICK = "quick"
FLAG_SINGLE_SEED = "single-seed"
FLAG_MEANING = {
    FLAG_RANDOM_INIT: "weights are random-initialised (a smoke test of the pipeline, not a model)",
    FLAG_QUICK: "quick profile (shortened training, for smoke tests)",
    FLAG_SINGLE_SEED: "only one seed, so seed-to-seed noise is unknown",
}


def model_family(model: str) -> str:
    """Family by exact name; foundation models may carry a mode suffix (e.g. 'timesfm-zeroshot')."""
    if model in FAMILY_OF_MODEL:
        return FAMILY_OF_MODEL[model]
    for name in ("lagllama", "timesfm"):
        if model.startswith(name + "-"):
            return "foundation"
    return "other"


@dataclass(frozen=True)
class SkippedFolder:
    folder: Path
    reason: str


@dataclass(frozen=True)
class Run:
    """One valid result folder: the job's result and its predictions (sorted by split, date)."""

    folder: Path
    result: JobResult
    predictions: pd.DataFrame

    def split(self, name: str) -> pd.DataFrame:
        return self.predictions[self.predictions["split"] == name]


@dataclass(frozen=True)
class Experiment:
    """All seeds of one spec (same everything but the seed) under one weights kind."""

    label: str
    runs: tuple[Run, ...]

    @property
    def spec(self):
        return self.runs[0].result.spec

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def horizon(self) -> int:
        return self.spec.horizon

    @property
    def family(self) -> str:
        return model_family(self.model)

    @property
    def weights(self):
        return self.runs[0].result.weights

    @property
    def seeds(self) -> list[int]:
        return [run.result.spec.seed for run in self.runs]

    @property
    def flags(self) -> list[str]:
        flags = []
        if self.weights.kind == "random-init":
            flags.append(FLAG_RANDOM_INIT)
        if self.spec.profile == "quick":
            flags.append(FLAG_QUICK)
        # Classical baselines use no seed in their fit (deterministic given the data): one run is all seeds.
        if len(self.runs) < 2 and self.family != "classical":
            flags.append(FLAG_SINGLE_SEED)
        return flags

    @property
    def eligible(self) -> bool:
        """Only unflagged experiments may support or refute a hypothesis."""
        return not self.flags

    def metric_values(self, split: str, name: str) -> np.ndarray:
        values = [getattr(run.result.metrics[split], name) for run in self.runs]
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    def mean_metric(self, split: str, name: str) -> float:
        values = self.metric_values(split, name)
        return float(np.mean(values)) if np.isfinite(values).all() else float("nan")


@dataclass(frozen=True)
class LoadedResults:
    experiments: list[Experiment]
    skipped: list[SkippedFolder]
    warnings: list[str]


def _read_predictions(path: Path) -> pd.DataFrame:
    table = pq.read_table(path)
    PredictionsFile.model_validate({"dtypes": {f.name: str(f.type) for f in table.schema}, **table.to_pydict()})
    frame = table.to_pandas()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.sort_values(["split", "date"], kind="mergesort").reset_index(drop=True)


def _first_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:240]}"


def read_run(folder: Path) -> Run:
    """Validate one folder; raise ValueError with the reason it cannot be used."""
    result_path, predictions_path = folder / RESULT_FILE, folder / PREDICTIONS_FILE
    if not result_path.is_file():
        raise ValueError(f"{RESULT_FILE} missing")
    try:
        result = JobResult.model_validate(json.loads(result_path.read_text()))
    except Exception as exc:
        raise ValueError(f"invalid {RESULT_FILE} ({_first_line(exc)})") from exc
    if not predictions_path.is_file():
        raise ValueError(f"{PREDICTIONS_FILE} missing")
    if not folder.name.startswith(f"{result.spec.slug}-"):
        raise ValueError(f"folder name does not start with the result's slug {result.spec.slug!r}")
    try:
        predictions = _read_predictions(predictions_path)
    except Exception as exc:
        raise ValueError(f"invalid {PREDICTIONS_FILE} (expected columns {list(PREDICTION_DTYPES)}; {_first_line(exc)})") from exc
    check_metrics(result, predictions)  # the same check as `orch validate`; raises InvalidResult (a ValueError)
    return Run(folder=folder, result=result, predictions=predictions)


def _experiment_key(run: Run) -> str:
    """Everything that defines the experiment except the seed (and the device request)."""
    spec = run.result.spec.model_dump(mode="json", exclude={"seed", "device"})
    return json.dumps({"spec": spec, "weights": run.result.weights.kind}, sort_keys=True)


def _finished_at(run: Run) -> float:
    if run.result.provenance is not None:
        return run.result.provenance.finished_at.timestamp()
    return (run.folder / RESULT_FILE).stat().st_mtime


def _variant(run: Run) -> dict[str, object]:
    """What may tell two experiments with the same id apart, most telling first."""
    spec = run.result.spec
    rest = {"context_length": spec.context_length, "threshold": spec.threshold, "dataset": spec.dataset.sha256[:12]}
    return {"profile": spec.profile, "weights": run.result.weights.kind, **spec.hyperparameters, **rest}


def _labels(groups: dict[str, list[Run]]) -> dict[str, str]:
    """'<id> <slug>', extended where two experiments collide: first by profile/weights/mode if they
    differ, else by whichever other settings differ, else by a hash of the whole key."""
    base = {key: f"{runs[0].result.spec.id} {runs[0].result.spec.slug}" for key, runs in groups.items()}
    labels = dict(base)
    for label in set(base.values()):
        colliding = [key for key, value in base.items() if value == label]
        if len(colliding) < 2:
            continue
        variants = {key: _variant(groups[key][0]) for key in colliding}
        differing = [name for name in dict.fromkeys(n for v in variants.values() for n in v)
                     if len({json.dumps(v.get(name), sort_keys=True) for v in variants.values()}) > 1]
        for shown in ([n for n in differing if n in ("profile", "weights", "mode")], differing):
            tags = {key: ", ".join(f"{n}={variants[key].get(n)}" for n in shown) for key in colliding}
            if all(tags.values()) and len(set(tags.values())) == len(colliding):
                break
        else:
            tags = {key: hashlib.sha256(key.encode()).hexdigest()[:6] for key in colliding}
        for key in colliding:
            labels[key] = f"{label} [{tags[key]}]"
    return labels


def load_results(results_dir: Path, ignore: frozenset[Path] = frozenset()) -> LoadedResults:
    """Read every result folder under `results_dir`; names starting with '_' or '.' are not results."""
    skipped: list[SkippedFolder] = []
    groups: dict[str, dict[int, Run]] = {}
    ignored = {path.resolve() for path in ignore}
    for folder in sorted(Path(results_dir).iterdir()):
        if not folder.is_dir() or folder.name[0] in "_." or folder.resolve() in ignored:
            continue
        try:
            run = read_run(folder)
        except ValueError as exc:
            skipped.append(SkippedFolder(folder, str(exc)))
            continue
        seeds = groups.setdefault(_experiment_key(run), {})
        seed = run.result.spec.seed
        if seed in seeds:
            newer, older = sorted([seeds[seed], run], key=_finished_at, reverse=True)
            skipped.append(SkippedFolder(older.folder, f"superseded by {newer.folder.name} (same experiment and seed, finished later)"))
            run = newer
        seeds[seed] = run
    ordered = {key: [seeds[s] for s in sorted(seeds)] for key, seeds in groups.items()}
    labels = _labels(ordered)
    experiments = sorted(
        (Experiment(label=labels[key], runs=tuple(runs)) for key, runs in ordered.items()),
        key=lambda e: (e.horizon, e.label),
    )
    datasets = sorted({e.spec.dataset.sha256[:12] for e in experiments})
    warnings = []
    if len(datasets) > 1:
        warnings.append(f"results come from {len(datasets)} different datasets ({', '.join(datasets)}); "
                        "comparisons are made only where labels agree on common dates")
    return LoadedResults(experiments=experiments, skipped=skipped, warnings=warnings)
