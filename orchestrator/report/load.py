"""Result folders -> validated runs -> experiments (the seeds of one spec), with their flags.

A folder that cannot be trusted is skipped with a one-line reason, never allowed to crash the
report or to slip into it half-read.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator import registry
from orchestrator.errors import UserError
from orchestrator.registry import EXPERIMENTS
from orchestrator.report.defaults import DEFAULT_MIN_SEEDS  # a verdict needs this many seeds of a trained model
from orchestrator.run_folder import InvalidResult, read_run_folder, run_folders
from shared_schema import JobResult
from shared_schema.commit import RESULT_FILE

REFERENCE_MODEL = registry.REFERENCE_MODEL
# One source of truth for families: the model catalog (pure data, no ML stack imported).
FAMILY_OF_MODEL = {e.model: e.family for e in EXPERIMENTS}
PRETRAINING_OF_MODEL = {e.model: e.pretraining for e in EXPERIMENTS if e.pretraining is not None}

# Why a result may be shown but never used in a verdict.
FLAG_RANDOM_INIT = "random-init"
FLAG_CUSTOM_WEIGHTS = "custom-weights"
FLAG_QUICK = "quick"
FLAG_FEW_SEEDS = "few-seeds"
FLAG_MISSING_FOLDS = "missing-folds"
FLAG_PRETRAINING_OVERLAP = "pretraining-overlap"
FLAG_MEANING = {
    FLAG_RANDOM_INIT: "weights are random-initialised (a smoke test of the pipeline, not a model)",
    FLAG_CUSTOM_WEIGHTS: "imported weights that are not the published checkpoint (`orch weights list` says how they "
    "differ), so the result is not the published model's",
    FLAG_QUICK: "quick profile (shortened training, for smoke tests)",
    FLAG_FEW_SEEDS: "fewer seeds than the report's minimum (--min-seeds), so seed-to-seed noise is not pinned down",
    FLAG_MISSING_FOLDS: "some walk-forward fold has no result for some seed, so the pooled test set is incomplete",
    FLAG_PRETRAINING_OVERLAP: "a test period starts before the pre-training data's cut-off (see the model catalog), "
    "so the published weights may have seen the test years",
}
# Flags that keep a result in verdicts but must be named by every verdict resting on it (the rest
# of FLAG_MEANING keeps a result out of verdicts).
WARNING_FLAGS = frozenset({FLAG_PRETRAINING_OVERLAP})


def model_family(model: str) -> str:
    """The catalog's family; 'other' for a model the catalog does not know (a result from elsewhere)."""
    return FAMILY_OF_MODEL.get(model, "other")


def pretraining_overlap(model: str, weights_kind: str, test_starts) -> bool:
    """Whether published pre-training data may reach into a test period: pretrained weights of a model
    whose catalog entry names a cut-off, and some test period (per fold) starting on or before it."""
    facts = PRETRAINING_OF_MODEL.get(model)
    if weights_kind != "pretrained" or facts is None:
        return False
    return any(start <= facts.cutoff for start in test_starts)


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
class SeedGroup:
    """All seeds (and walk-forward folds) of one spec under one weights kind: what the report calls
    one experiment; named apart from `orchestrator.registry.Experiment`, the planned entry it came from."""

    label: str
    runs: tuple[Run, ...]
    min_seeds: int = DEFAULT_MIN_SEEDS
    # Walk-forward folds of the report's dataset; (None,) for a single split.
    expected_folds: tuple[int | None, ...] = (None,)

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
        """Seeds with a run for every expected fold (the only ones whose test set is complete)."""
        folds_of = {}
        for run in self.runs:
            folds_of.setdefault(run.result.spec.seed, set()).add(run.result.spec.fold)
        return sorted(seed for seed, folds in folds_of.items() if folds >= set(self.expected_folds))

    @property
    def missing_folds(self) -> bool:
        return len(self.seeds) < len({run.result.spec.seed for run in self.runs})

    def seed_frames(self, split: str, column: str = "p") -> list[pd.DataFrame]:
        """Per complete seed: date, y_true, score (`column`) and fold of every fold's rows, in date order."""
        frames = []
        for seed in self.seeds:
            parts = [
                run.split(split).assign(fold=-1 if run.result.spec.fold is None else run.result.spec.fold)
                for run in self.runs
                if run.result.spec.seed == seed
            ]
            frame = pd.concat(parts).sort_values("date", kind="mergesort")
            frames.append(frame[["date", "y_true", column, "fold"]].rename(columns={column: "score"}))
        return frames

    def has_column(self, column: str) -> bool:
        return all(column in run.predictions and run.predictions[column].notna().all() for run in self.runs)

    def fold_test_aucs(self) -> dict[int, float]:
        """Seed-mean test AUC per walk-forward fold (-1 = the single split)."""
        by_fold: dict[int, list[float]] = {}
        for run in self.runs:
            if run.result.spec.seed in self.seeds and run.result.metrics["test"].auc is not None:
                fold = -1 if run.result.spec.fold is None else run.result.spec.fold
                by_fold.setdefault(fold, []).append(run.result.metrics["test"].auc)
        return {fold: float(np.mean(values)) for fold, values in sorted(by_fold.items())}

    def seed_test_aucs(self) -> dict[int, float]:
        """Fold-averaged test AUC per seed."""
        by_seed: dict[int, list[float]] = {}
        for run in self.runs:
            if run.result.spec.seed in self.seeds and run.result.metrics["test"].auc is not None:
                by_seed.setdefault(run.result.spec.seed, []).append(run.result.metrics["test"].auc)
        return {seed: float(np.mean(values)) for seed, values in sorted(by_seed.items())}

    @property
    def flags(self) -> list[str]:
        flags = []
        if self.weights.kind == "random-init":
            flags.append(FLAG_RANDOM_INIT)
        if self.weights.kind == "custom":
            flags.append(FLAG_CUSTOM_WEIGHTS)
        if self.spec.profile == "quick":
            flags.append(FLAG_QUICK)
        # Classical baselines use no seed in their fit (deterministic given the data): one run is all seeds.
        if len(self.seeds) < self.min_seeds and self.family != "classical":
            flags.append(FLAG_FEW_SEEDS)
        if self.missing_folds or not self.seeds:
            flags.append(FLAG_MISSING_FOLDS)
        if pretraining_overlap(
            self.model, self.weights.kind, [run.result.spec.split_dates.val_end for run in self.runs]
        ):
            flags.append(FLAG_PRETRAINING_OVERLAP)
        return flags

    @property
    def warning_flags(self) -> list[str]:
        return [flag for flag in self.flags if flag in WARNING_FLAGS]

    @property
    def eligible(self) -> bool:
        """Only experiments without an excluding flag may support or refute a hypothesis (warning
        flags are named by the verdicts instead)."""
        return all(flag in WARNING_FLAGS for flag in self.flags)

    def metric_values(self, split: str, name: str) -> np.ndarray:
        values = [getattr(run.result.metrics[split], name) for run in self.runs if run.result.spec.seed in self.seeds]
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    def mean_metric(self, split: str, name: str) -> float:
        values = self.metric_values(split, name)
        return float(np.mean(values)) if len(values) and np.isfinite(values).all() else float("nan")


@dataclass(frozen=True)
class DatasetIdentity:
    name: str
    sha256: str
    folds: tuple[int | None, ...]


@dataclass(frozen=True)
class LoadedResults:
    """The experiments of exactly one dataset; other datasets' runs are listed, never mixed in."""

    experiments: list[SeedGroup]
    skipped: list[SkippedFolder]
    dataset: DatasetIdentity | None = None
    excluded: list[SkippedFolder] = field(default_factory=list)


def read_run(folder: Path) -> Run:
    """One run folder through the one reader (orchestrator/run_folder.py: schema, metrics recomputed,
    run key, no links out), its predictions sorted by split and date; raise InvalidResult."""
    checked = read_run_folder(folder)
    frame = checked.predictions.to_pandas()
    frame["date"] = pd.to_datetime(frame["date"])
    frame = frame.sort_values(["split", "date"], kind="mergesort").reset_index(drop=True)
    return Run(folder=checked.folder, result=checked.result, predictions=frame)


def seed_group_key(run: Run) -> str:
    """Everything that defines the experiment except the seed, the walk-forward fold (and its
    dates) and the device request."""
    spec = run.result.spec.model_dump(mode="json", exclude={"seed", "device", "fold", "split_dates"})
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
        differing = [
            name
            for name in dict.fromkeys(n for v in variants.values() for n in v)
            if len({json.dumps(v.get(name), sort_keys=True) for v in variants.values()}) > 1
        ]
        for shown in ([n for n in differing if n in ("profile", "weights", "mode")], differing):
            tags = {key: ", ".join(f"{n}={variants[key].get(n)}" for n in shown) for key in colliding}
            if all(tags.values()) and len(set(tags.values())) == len(colliding):
                break
        else:
            tags = {key: hashlib.sha256(key.encode()).hexdigest()[:6] for key in colliding}
        for key in colliding:
            labels[key] = f"{label} [{tags[key]}]"
    return labels


def _choose_dataset(runs: list[Run], dataset: str | None) -> str | None:
    """sha256 of the one dataset to report on: the only one present, or the one asked for by name or sha256 prefix."""
    present = {run.result.spec.dataset.sha256: run.result.spec.dataset.name for run in runs}
    listing = ", ".join(
        f"{name} (sha256 {sha[:12]}, {sum(r.result.spec.dataset.sha256 == sha for r in runs)} runs)"
        for sha, name in sorted(present.items(), key=lambda item: item[1])
    )
    if dataset is None:
        if len(present) > 1:
            raise UserError(
                f"results come from {len(present)} datasets: {listing}; a report covers one, choose it with --dataset NAME"
            )
        return next(iter(present), None)
    chosen = [
        sha
        for sha, name in present.items()
        if dataset in (name, sha) or (len(dataset) >= 8 and sha.startswith(dataset))
    ]
    if len(chosen) != 1:
        found = "no" if not chosen else "more than one"
        raise UserError(f"--dataset {dataset!r} matches {found} dataset among the results: {listing or 'none'}")
    return chosen[0]


def load_results(
    results_dir: Path,
    ignore: frozenset[Path] = frozenset(),
    min_seeds: int = DEFAULT_MIN_SEEDS,
    dataset: str | None = None,
) -> LoadedResults:
    """Read every run folder under `results_dir` (`run_folder.is_run_folder`: run-named or holding a
    result.json; `_failed`, `.staging`, report output and CI artifacts are not runs), each as
    `orch validate` reads it.

    Raises UserError when the folder holds several datasets and `dataset` does not pick one."""
    skipped: list[SkippedFolder] = []
    valid: list[Run] = []
    ignored = {path.resolve() for path in ignore}
    for folder in run_folders(results_dir):
        if folder.resolve() in ignored:
            continue
        try:
            valid.append(read_run(folder))
        except InvalidResult as exc:
            skipped.append(SkippedFolder(folder, exc.in_folder))
    sha = _choose_dataset(valid, dataset)
    excluded = [
        SkippedFolder(
            run.folder,
            f"dataset {run.result.spec.dataset.name} (sha256 {run.result.spec.dataset.sha256[:12]}), "
            "not the one this report covers",
        )
        for run in valid
        if run.result.spec.dataset.sha256 != sha
    ]
    groups: dict[str, dict[tuple[int, int | None], Run]] = {}
    for run in (run for run in valid if run.result.spec.dataset.sha256 == sha):
        seeds = groups.setdefault(seed_group_key(run), {})
        slot = (run.result.spec.seed, run.result.spec.fold)
        if slot in seeds:
            newer, older = sorted([seeds[slot], run], key=_finished_at, reverse=True)
            skipped.append(
                SkippedFolder(
                    older.folder, f"superseded by {newer.folder.name} (same experiment, seed and fold, finished later)"
                )
            )
            run = newer
        seeds[slot] = run
    folds = tuple(sorted({slot[1] for runs in groups.values() for slot in runs}, key=lambda f: -1 if f is None else f))
    ordered = {
        key: [runs[slot] for slot in sorted(runs, key=lambda s: (s[0], -1 if s[1] is None else s[1]))]
        for key, runs in groups.items()
    }
    labels = _labels(ordered)
    experiments = sorted(
        (
            SeedGroup(label=labels[key], runs=tuple(runs), min_seeds=min_seeds, expected_folds=folds)
            for key, runs in ordered.items()
        ),
        key=lambda e: (e.horizon, e.label),
    )
    identity = None
    if experiments:
        spec = experiments[0].spec
        identity = DatasetIdentity(spec.dataset.name, spec.dataset.sha256, folds)
    return LoadedResults(experiments=experiments, skipped=skipped, dataset=identity, excluded=excluded)
