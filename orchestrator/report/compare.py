"""Applies the statistics to experiments: per-experiment intervals, the two reference baselines per
horizon, paired comparisons against them, and Holm's correction over the comparisons made."""

import zlib
from dataclasses import dataclass, replace

import numpy as np

from orchestrator.report.load import FLAG_MEANING, REFERENCE_MODEL, Experiment
from orchestrator.report.stats import (
    DEFAULT_BLOCK_LENGTH,
    DEFAULT_RESAMPLES,
    Interval,
    PairedDifference,
    auc_interval,
    block_bootstrap_counts,
    holm_adjust,
    mean_auc,
    mean_interval,
    paired_auc_difference,
)

ALPHA = 0.05
# The study's horizons get verdicts even when nothing has run for them yet.
STUDY_HORIZONS = (1, 3)
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
    block_length: int = DEFAULT_BLOCK_LENGTH
    seed: int = 0


@dataclass(frozen=True)
class ExperimentSummary:
    experiment: Experiment
    test_auc: Interval
    seed_sd: float | None
    n_test: int


@dataclass(frozen=True)
class Comparison:
    """subject - reference on the test days both have, seed means on each side."""

    subject: Experiment
    reference: Experiment
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
    patchtst: Experiment | None
    patchtst_note: str
    classical: Experiment | None
    classical_note: str


@dataclass(frozen=True)
class HorizonAnalysis:
    horizon: int
    summaries: list[ExperimentSummary]
    baselines: Baselines
    comparisons: list[Comparison]

    @property
    def experiments(self) -> list[Experiment]:
        return [s.experiment for s in self.summaries]

    def summary(self, experiment: Experiment) -> ExperimentSummary:
        return next(s for s in self.summaries if s.experiment is experiment)

    def comparisons_with(self, role: str) -> list[Comparison]:
        return [c for c in self.comparisons if c.role == role]

    def comparison(self, subject: Experiment, role: str) -> Comparison | None:
        return next((c for c in self.comparisons_with(role) if c.subject is subject), None)


def _rng(options: ReportOptions, *names: str) -> np.random.Generator:
    """Resamples depend on the seed and on what is compared, not on what else is in the report."""
    return np.random.default_rng([options.seed, *(zlib.crc32(name.encode()) for name in names)])


def aligned_test_scores(experiments: list[Experiment]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Labels and (seeds, days) score matrices on the test days every run of every experiment has.

    Raises ValueError when the runs disagree on a label for the same day (different data)."""
    frames = [run.split("test").set_index("date") for e in experiments for run in e.runs]
    common = frames[0].index
    for frame in frames[1:]:
        common = common.intersection(frame.index)
    common = common.sort_values()
    labels = np.vstack([frame.loc[common, "y_true"].to_numpy() for frame in frames])
    if len(common) and not (labels == labels[0]).all():
        raise ValueError("labels differ on common test days (different dataset or threshold?)")
    scores, position = [], 0
    for experiment in experiments:
        rows = [frame.loc[common, "p"].to_numpy(dtype=np.float64) for frame in frames[position : position + len(experiment.runs)]]
        scores.append(np.vstack(rows))
        position += len(experiment.runs)
    return labels[0].astype(bool) if len(common) else np.zeros(0, dtype=bool), scores


def _seed_sd(experiment: Experiment) -> float | None:
    values = experiment.metric_values("test", "auc")
    if len(values) < 2 or not np.isfinite(values).all():
        return None
    return float(np.std(values, ddof=1))


def summarise(experiment: Experiment, options: ReportOptions) -> ExperimentSummary:
    """Seed-mean test AUC with its interval; NaN when the seeds disagree on labels or a class is absent."""
    seed_sd = _seed_sd(experiment)
    try:
        y, (scores,) = aligned_test_scores([experiment])
    except ValueError:
        y = np.zeros(0, dtype=bool)
    if len(y) == 0 or y.all() or not y.any():
        nan = float("nan")
        return ExperimentSummary(experiment, Interval(nan, nan, nan, nan), seed_sd, len(y))
    counts = block_bootstrap_counts(len(y), options.n_resamples, options.block_length, _rng(options, experiment.label))
    return ExperimentSummary(experiment, auc_interval(y, scores, counts), seed_sd, len(y))


def compare(subject: Experiment, reference: Experiment, role: str, options: ReportOptions) -> Comparison:
    try:
        y, (subject_scores, reference_scores) = aligned_test_scores([subject, reference])
    except ValueError as exc:
        return Comparison(subject, reference, role, n_common=0, problem=str(exc))
    if y.sum() < 2 or (~y).sum() < 2:
        return Comparison(subject, reference, role, n_common=len(y), problem="fewer than two days of each class in common")
    counts = block_bootstrap_counts(len(y), options.n_resamples, options.block_length, _rng(options, subject.label, reference.label))
    difference = paired_auc_difference(y, subject_scores, reference_scores, counts)
    brier_by_day = ((subject_scores - y) ** 2).mean(axis=0) - ((reference_scores - y) ** 2).mean(axis=0)
    noises = [sd for sd in (_seed_sd(subject), _seed_sd(reference)) if sd is not None]
    return Comparison(
        subject,
        reference,
        role,
        n_common=len(y),
        subject_auc=mean_auc(y, subject_scores),
        reference_auc=mean_auc(y, reference_scores),
        difference=difference,
        brier_difference=mean_interval(brier_by_day, counts),
        seed_noise=max(noises) if noises else None,
    )


def _validation_auc(experiment: Experiment) -> float:
    value = experiment.mean_metric("val", "auc")
    return value if np.isfinite(value) else -np.inf


def choose_baselines(experiments: list[Experiment]) -> Baselines:
    """PatchTST reference and the best classical baseline, both chosen without looking at test data."""
    patchtsts = sorted(
        (e for e in experiments if e.model == REFERENCE_MODEL),
        key=lambda e: (not e.eligible, -len(e.runs), -_validation_auc(e), e.label),
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
        best = max(pool, key=lambda e: (_validation_auc(e), e.label))
        scores = ", ".join(f"{e.label} {e.mean_metric('val', 'auc'):.3f}" for e in sorted(pool, key=_validation_auc, reverse=True))
        which = "unflagged" if pool[0].eligible else "flagged (no unflagged one exists)"
        classical_note = f"{best.label}, highest validation AUC among {which} classical baselines ({scores})"
    else:
        best, classical_note = None, "no classical baseline at this horizon"
    return Baselines(patchtst, patchtst_note, best, classical_note)


def _comparisons(experiments: list[Experiment], baselines: Baselines, options: ReportOptions) -> list[Comparison]:
    made = []
    if baselines.patchtst is not None:
        made += [compare(e, baselines.patchtst, ROLE_PATCHTST, options) for e in experiments if e is not baselines.patchtst]
    if baselines.classical is not None:
        made += [compare(e, baselines.classical, ROLE_CLASSICAL, options) for e in experiments if e.family != "classical"]
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


def analyse(experiments: list[Experiment], options: ReportOptions) -> list[HorizonAnalysis]:
    horizons = sorted(set(STUDY_HORIZONS) | {e.horizon for e in experiments})
    per_horizon = []
    for horizon in horizons:
        members = [e for e in experiments if e.horizon == horizon]
        baselines = choose_baselines(members)
        per_horizon.append((horizon, members, baselines, _comparisons(members, baselines, options)))
    adjusted = _with_holm([c for *_, comparisons in per_horizon for c in comparisons])
    analyses, position = [], 0
    for horizon, members, baselines, comparisons in per_horizon:
        analyses.append(
            HorizonAnalysis(
                horizon=horizon,
                summaries=[summarise(e, options) for e in members],
                baselines=baselines,
                comparisons=adjusted[position : position + len(comparisons)],
            )
        )
        position += len(comparisons)
    return analyses

