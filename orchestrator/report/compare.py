"""Applies the statistics to experiments: per-experiment intervals, the two reference baselines per
horizon, paired comparisons against them, and Holm's correction over the comparisons made."""

import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from orchestrator.report.defaults import DEFAULT_BLOCK_LENGTH, DEFAULT_MIN_SEEDS, DEFAULT_RESAMPLES
from orchestrator.report.load import FLAG_MEANING, REFERENCE_MODEL, SeedGroup
from orchestrator.report.plan import ALPHA, HORIZONS
from orchestrator.report.stats import (
    Interval,
    PairedDifference,
    auc_interval,
    fold_block_lengths,
    fold_runs,
    holm_adjust,
    mean_auc,
    mean_interval,
    paired_auc_difference,
    stratified_block_counts,
)

SEED_NOISE_MULTIPLE = 2.0
ROLE_PATCHTST = "PatchTST"
ROLE_CLASSICAL = "best classical"

OUTCOME_BETTER = "better"
OUTCOME_WORSE = "worse"
OUTCOME_NO_DIFFERENCE = "no detectable difference"
OUTCOME_SEED_NOISE = "within seed noise"


@dataclass(frozen=True)
class ReportOptions:
    n_resamples: int = DEFAULT_RESAMPLES
    block_length: int | None = DEFAULT_BLOCK_LENGTH  # None: chosen from the data, per fold
    seed: int = 0
    min_seeds: int = DEFAULT_MIN_SEEDS
    # Let results whose test period starts inside a model's pre-training count in verdicts (each such
    # verdict says so); by default those verdicts read "not answerable (test period inside pre-training)".
    allow_pretraining_overlap: bool = False


@dataclass(frozen=True)
class ExperimentSummary:
    experiment: SeedGroup
    test_auc: Interval
    seed_sd: float | None
    n_test: int


@dataclass(frozen=True)
class Comparison:
    """subject - reference on the test days both have, seed means on each side."""

    subject: SeedGroup
    reference: SeedGroup
    role: str
    n_common: int
    subject_auc: float = float("nan")
    reference_auc: float = float("nan")
    difference: PairedDifference | None = None
    brier_difference: Interval | None = None
    seed_noise: float | None = None
    problem: str | None = None
    p_bootstrap_holm: float = float("nan")
    p_delong_holm: float = float("nan")

    @property
    def eligible(self) -> bool:
        return self.subject.eligible and self.reference.eligible

    @property
    def flags(self) -> list[str]:
        return [flag for flag in FLAG_MEANING if flag in self.subject.flags or flag in self.reference.flags]

    @property
    def relative(self) -> float:
        """subject AUC / reference AUC: the research plan's thresholds are relative (1.05, 0.98-1.02)."""
        return self.subject_auc / self.reference_auc

    @property
    def within_seed_noise(self) -> bool | None:
        if self.difference is None or self.seed_noise is None:
            return None
        return abs(self.difference.interval.estimate) < SEED_NOISE_MULTIPLE * self.seed_noise

    @property
    def outcome(self) -> str | None:
        """Better/worse only if Holm-significant (bootstrap), the interval excludes 0 and the gap
        exceeds seed noise where that is known."""
        if self.difference is None:
            return None
        interval = self.difference.interval
        if self.within_seed_noise:
            return OUTCOME_SEED_NOISE
        if self.p_bootstrap_holm < ALPHA and interval.low > 0:
            return OUTCOME_BETTER
        if self.p_bootstrap_holm < ALPHA and interval.high < 0:
            return OUTCOME_WORSE
        return OUTCOME_NO_DIFFERENCE


@dataclass(frozen=True)
class Baselines:
    patchtst: SeedGroup | None
    patchtst_note: str
    classical: SeedGroup | None
    classical_note: str


@dataclass(frozen=True)
class HorizonAnalysis:
    horizon: int
    summaries: list[ExperimentSummary]
    baselines: Baselines
    comparisons: list[Comparison]

    @property
    def experiments(self) -> list[SeedGroup]:
        return [s.experiment for s in self.summaries]

    def summary(self, experiment: SeedGroup) -> ExperimentSummary:
        return next(s for s in self.summaries if s.experiment is experiment)

    def comparisons_with(self, role: str) -> list[Comparison]:
        return [c for c in self.comparisons if c.role == role]

    def comparison(self, subject: SeedGroup, role: str) -> Comparison | None:
        return next((c for c in self.comparisons_with(role) if c.subject is subject), None)


def _rng(options: ReportOptions, *names: str) -> np.random.Generator:
    """Resamples depend on the seed and on what is compared, not on what else is in the report."""
    return np.random.default_rng([options.seed, *(zlib.crc32(name.encode()) for name in names)])


@dataclass(frozen=True)
class AlignedScores:
    """Labels, walk-forward fold of each day, and one (seeds, days) score matrix per experiment,
    on the test days every complete seed of every experiment has (in date order)."""

    y: np.ndarray
    folds: np.ndarray
    scores: list[np.ndarray]

    def block_lengths(self, options: "ReportOptions", scale: float = 1.0) -> tuple[int, ...]:
        """Per fold: the fixed --block-length, or the Politis-White choice on the AUC influence series of
        the statistic (first experiment minus second, or the first alone); `scale` for sensitivity runs."""
        n_folds = len(fold_runs(self.folds))
        chosen = (
            (options.block_length,) * n_folds
            if options.block_length is not None
            else fold_block_lengths(self.y, self.scores[:2], self.folds)
        )
        return tuple(max(1, int(round(length * scale))) for length in chosen)

    def counts(self, options: "ReportOptions", *names: str, scale: float = 1.0) -> np.ndarray:
        return stratified_block_counts(
            self.folds, options.n_resamples, self.block_lengths(options, scale), _rng(options, *names)
        )


def aligned_test_scores(experiments: list[SeedGroup], columns: list[str] | None = None) -> AlignedScores:
    """Raises ValueError when the runs disagree on a label for the same day (different data)."""
    columns = columns or ["p"] * len(experiments)
    per_experiment = [e.seed_frames("test", column) for e, column in zip(experiments, columns)]
    frames = [frame.set_index("date") for seeds in per_experiment for frame in seeds]
    if not frames:
        return AlignedScores(np.zeros(0, dtype=bool), np.zeros(0, dtype=int), [np.zeros((0, 0)) for _ in experiments])
    common = frames[0].index
    for frame in frames[1:]:
        common = common.intersection(frame.index)
    common = common.sort_values()
    labels = np.vstack([frame.loc[common, "y_true"].to_numpy() for frame in frames])
    if len(common) and not (labels == labels[0]).all():
        raise ValueError("labels differ on common test days (different dataset or threshold?)")
    scores = [
        np.vstack([frame.set_index("date").loc[common, "score"].to_numpy(dtype=np.float64) for frame in seeds])
        for seeds in per_experiment
    ]
    folds = frames[0].loc[common, "fold"].to_numpy()
    return AlignedScores(labels[0].astype(bool), folds, scores)


def each_fold_has_both_classes(y: np.ndarray, folds: np.ndarray, at_least: int) -> bool:
    return len(y) > 0 and all(min(y[folds == f].sum(), (~y[folds == f]).sum()) >= at_least for f in np.unique(folds))


def _seed_sd(experiment: SeedGroup) -> float | None:
    values = np.array(list(experiment.seed_test_aucs().values()))
    if len(values) < 2 or not np.isfinite(values).all():
        return None
    return float(np.std(values, ddof=1))


def summarise(experiment: SeedGroup, options: ReportOptions) -> ExperimentSummary:
    """Seed-mean (fold-averaged) test AUC with an interval over days and seeds; NaN when the seeds
    disagree on labels or a class is absent."""
    seed_sd = _seed_sd(experiment)
    try:
        aligned = aligned_test_scores([experiment])
    except ValueError:
        aligned = AlignedScores(np.zeros(0, dtype=bool), np.zeros(0, dtype=int), [np.zeros((0, 0))])
    y = aligned.y
    if not each_fold_has_both_classes(y, aligned.folds, 1):
        nan = float("nan")
        return ExperimentSummary(experiment, Interval(nan, nan, nan, nan), seed_sd, len(y))
    (scores,) = aligned.scores
    counts = aligned.counts(options, experiment.label)
    return ExperimentSummary(experiment, auc_interval(y, scores, counts, folds=aligned.folds), seed_sd, len(y))


def compare(subject: SeedGroup, reference: SeedGroup, role: str, options: ReportOptions) -> Comparison:
    try:
        aligned = aligned_test_scores([subject, reference])
    except ValueError as exc:
        return Comparison(subject, reference, role, n_common=0, problem=str(exc))
    y, folds = aligned.y, aligned.folds
    if not each_fold_has_both_classes(y, folds, 2):
        return Comparison(
            subject,
            reference,
            role,
            n_common=len(y),
            problem="fewer than two days of each class in common (in some fold)",
        )
    subject_scores, reference_scores = aligned.scores
    counts = aligned.counts(options, subject.label, reference.label)
    difference = paired_auc_difference(y, subject_scores, reference_scores, counts=counts, folds=folds)
    brier_by_day = ((subject_scores - y) ** 2).mean(axis=0) - ((reference_scores - y) ** 2).mean(axis=0)
    noises = [sd for sd in (_seed_sd(subject), _seed_sd(reference)) if sd is not None]
    return Comparison(
        subject,
        reference,
        role,
        n_common=len(y),
        subject_auc=mean_auc(y, subject_scores, folds),
        reference_auc=mean_auc(y, reference_scores, folds),
        difference=difference,
        brier_difference=mean_interval(brier_by_day, counts),
        seed_noise=max(noises) if noises else None,
    )


def selection_score(validation_auc_by_fold: dict[int | None, list[float]]) -> float:
    """What a "picked by validation" choice ranks by: the mean validation AUC of the earliest fold.

    Walk-forward fold k validates on the year before its test year, which is fold k-1's test year;
    a pick averaged over folds would rest on 7 of 8 test years (measured: with all models equal the
    validation-best model's test AUC sat +0.016 above the average and B1 rejected 11% of the time at
    nominal 2.5%). The earliest fold's validation year precedes every test year, so a pick made on it
    never sees a test day. A single split has one validation period: the same rule. -inf when unknown."""
    if not validation_auc_by_fold:
        return -np.inf
    earliest = min(validation_auc_by_fold, key=lambda fold: -1 if fold is None else fold)
    values = np.array(validation_auc_by_fold[earliest], dtype=np.float64)
    return float(values.mean()) if len(values) and np.isfinite(values).all() else -np.inf


def validation_auc(experiment: SeedGroup) -> float:
    """`selection_score` of an experiment's complete seeds."""
    by_fold: dict[int | None, list[float]] = {}
    for run in experiment.runs:
        if run.result.spec.seed in experiment.seeds:
            value = run.result.metrics["val"].auc
            by_fold.setdefault(run.result.spec.fold, []).append(np.nan if value is None else value)
    return selection_score(by_fold)


def choose_baselines(experiments: list[SeedGroup]) -> Baselines:
    """PatchTST reference and the best classical baseline, both chosen without looking at test data."""
    patchtsts = sorted(
        (e for e in experiments if e.model == REFERENCE_MODEL),
        key=lambda e: (not e.eligible, -len(e.runs), -validation_auc(e), e.label),
    )
    if patchtsts:
        patchtst = patchtsts[0]
        patchtst_note = f"{patchtst.label} (model '{REFERENCE_MODEL}'"
        if len(patchtsts) > 1:
            patchtst_note += "; preferred over the others: unflagged first, then most seeds, then validation AUC"
        patchtst_note += ")"
    else:
        patchtst, patchtst_note = None, f"no '{REFERENCE_MODEL}' result at this horizon"

    classical = [e for e in experiments if e.family == "classical"]
    pool = [e for e in classical if e.eligible] or classical
    if pool:
        best = max(pool, key=lambda e: (validation_auc(e), e.label))
        scores = ", ".join(f"{e.label} {validation_auc(e):.3f}" for e in sorted(pool, key=validation_auc, reverse=True))
        which = "unflagged" if pool[0].eligible else "flagged (no unflagged one exists)"
        classical_note = (
            f"{best.label}, highest validation AUC (earliest fold's validation period, before every test day) "
            f"among {which} classical baselines ({scores})"
        )
    else:
        best, classical_note = None, "no classical baseline at this horizon"
    return Baselines(patchtst, patchtst_note, best, classical_note)


def _comparisons(experiments: list[SeedGroup], baselines: Baselines, options: ReportOptions) -> list[Comparison]:
    made = []
    if baselines.patchtst is not None:
        made += [
            compare(e, baselines.patchtst, ROLE_PATCHTST, options) for e in experiments if e is not baselines.patchtst
        ]
    if baselines.classical is not None:
        made += [
            compare(e, baselines.classical, ROLE_CLASSICAL, options) for e in experiments if e.family != "classical"
        ]
    return made


def _with_holm(comparisons: list[Comparison]) -> list[Comparison]:
    """Holm over all comparisons of one family (unflagged, or flagged), across horizons and references."""
    adjusted = list(comparisons)
    for eligible in (True, False):
        members = [i for i, c in enumerate(comparisons) if c.eligible == eligible and c.difference is not None]
        if not members:
            continue
        boot = holm_adjust([comparisons[i].difference.p_bootstrap for i in members])
        delong = holm_adjust([comparisons[i].difference.p_delong for i in members])
        for i, p_boot, p_delong in zip(members, boot, delong):
            adjusted[i] = replace(comparisons[i], p_bootstrap_holm=float(p_boot), p_delong_holm=float(p_delong))
    return adjusted


def analyse(
    experiments: list[SeedGroup], options: ReportOptions, on_horizon: Callable[[int], None] = lambda horizon: None
) -> list[HorizonAnalysis]:
    """`on_horizon` hears each horizon whose bootstraps are done (the progress bar)."""
    horizons = sorted(set(HORIZONS) | {e.horizon for e in experiments})  # verdicts even before any run
    per_horizon = []
    for horizon in horizons:
        members = [e for e in experiments if e.horizon == horizon]
        baselines = choose_baselines(members)
        per_horizon.append(
            (
                horizon,
                members,
                baselines,
                _comparisons(members, baselines, options),
                [summarise(e, options) for e in members],
            )
        )
        on_horizon(horizon)
    adjusted = _with_holm([c for _, _, _, comparisons, _ in per_horizon for c in comparisons])
    analyses, position = [], 0
    for horizon, _members, baselines, comparisons, summaries in per_horizon:
        analyses.append(
            HorizonAnalysis(
                horizon=horizon,
                summaries=summaries,
                baselines=baselines,
                comparisons=adjusted[position : position + len(comparisons)],
            )
        )
        position += len(comparisons)
    return analyses
