"""Verdicts computed only from the pre-registered plan (`orchestrator.report.plan`).

Each planned comparison is tested against exactly the model it names (a "best of" reference is
picked by validation AUC, then tested as that model), with the plan's test, margin and family.
Only unflagged results count; a comparison without them says what is missing and enters its
family's Holm correction as p = 1, so the family is the plan's, never the results folder's.
"""

from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as scipy_stats

from orchestrator.report.compare import ReportOptions, aligned_test_scores, each_fold_has_both_classes, seed_resamples
from orchestrator.report.load import FLAG_RANDOM_INIT, SeedGroup
from orchestrator.report.next_steps import answering_step
from orchestrator.report.plan import ALPHA, PLAN, POWER, Arm, PlannedComparison, Rule
from orchestrator.report.stats import NUMERICAL_ZERO, auc_interval, holm_adjust, mean_auc, paired_auc_difference

STATUS_NOT_ANSWERABLE = "not answerable yet"
STATUS_NOT_SHOWN = "not shown"


@dataclass(frozen=True)
class Tested:
    """A planned comparison with its numbers (or why it could not be made)."""

    planned: PlannedComparison
    subject: SeedGroup | None = None
    reference: SeedGroup | None = None
    missing: str | None = None
    n_days: int = 0
    subject_auc: float = float("nan")
    reference_auc: float = float("nan")
    difference: float = float("nan")
    se: float = float("nan")
    p: float = 1.0
    p_holm: float = 1.0
    passed: bool = False
    reference_above_chance: bool | None = None
    minimum_detectable: float = float("nan")

    @property
    def relative(self) -> float:
        return self.subject_auc / self.reference_auc - 1.0


@dataclass(frozen=True)
class Verdict:
    topic: str
    horizon: int
    status: str
    detail: str
    rule: str = ""


def format_p(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def one_sided_p(statistic: float) -> float:
    return float(scipy_stats.norm.sf(statistic))


def null_p_value(rule: Rule, difference: float, se: float, margin: float) -> float:
    """p-value of the rule's null hypothesis from the difference and its bootstrap standard error.
    A zero SE (identical predictions) makes the estimate certain: p is 0 or 1."""
    if not (np.isfinite(se) and np.isfinite(difference)):
        return 1.0
    se = max(se, NUMERICAL_ZERO)
    if rule.test == "superiority":
        return one_sided_p(difference / se)
    if rule.test == "non-inferiority":
        return one_sided_p((difference + margin) / se)
    if rule.test == "equivalence":  # TOST: both one-sided nulls must be rejected
        return max(one_sided_p((difference + margin) / se), one_sided_p((margin - difference) / se))
    return min(1.0, 2.0 * one_sided_p(abs(difference) / se))


def minimum_detectable(rule: Rule, se: float) -> float:
    """Smallest true difference the test finds with the plan's power at the family's Bonferroni
    level (Holm's strictest step). For equivalence: the smallest margin that could be shown with
    that power when the true difference is 0."""
    level = ALPHA / (rule.family_size() if rule.holm else 1)
    if rule.test == "two-sided":
        level /= 2
    power = (1 + POWER) / 2 if rule.test == "equivalence" else POWER
    return float((scipy_stats.norm.isf(level) + scipy_stats.norm.ppf(power)) * se)


def _validation_auc(experiment: SeedGroup) -> float:
    value = experiment.mean_metric("val", "auc")
    return value if np.isfinite(value) else -np.inf


def _matches(experiment: SeedGroup, model: str) -> bool:
    """Exact model name; foundation models may carry a mode suffix ('timesfm-zeroshot')."""
    return experiment.model == model or (experiment.family == "foundation" and experiment.model.startswith(model + "-"))


def resolve(arm: Arm, horizon: int, experiments: list[SeedGroup]) -> tuple[SeedGroup | None, str | None]:
    """The one experiment an arm stands for (the validation-best where several qualify), or why none does."""
    named = [e for e in experiments if e.horizon == horizon and any(_matches(e, m) for m in arm.models)]
    usable = [e for e in named if e.eligible and e.has_column(arm.column) and (e.weights.kind == "pretrained" or not arm.pretrained)]
    if usable:
        return max(usable, key=lambda e: (_validation_auc(e), e.label)), None
    if not named:
        return None, f"no result for {arm.describe()} at H{horizon}"
    return None, f"{arm.describe()} at H{horizon} only flagged/unusable: {'; '.join(_why_unusable(e, arm) for e in named)}"


def _why_unusable(experiment: SeedGroup, arm: Arm) -> str:
    reasons = list(experiment.flags)
    if arm.pretrained and experiment.weights.kind != "pretrained" and FLAG_RANDOM_INIT not in reasons:
        reasons.append(f"weights {experiment.weights.kind}, not pretrained")
    if not experiment.has_column(arm.column):
        reasons.append(f"no '{arm.column}' column")
    return f"{experiment.label} ({', '.join(reasons)})"


def _above_chance(experiment: SeedGroup, options: ReportOptions) -> bool:
    """The one-sided lower bound of the reference's AUC (days and seeds resampled) exceeds 0.5."""
    aligned = aligned_test_scores([experiment])
    if not each_fold_has_both_classes(aligned.y, aligned.folds, 1):
        return False
    (scores,) = aligned.scores
    interval = auc_interval(aligned.y, scores, aligned.counts(options, "chance", experiment.label),
                            level=1 - 2 * ALPHA, folds=aligned.folds, seeds=seed_resamples(len(scores), options, "chance", experiment.label))
    return bool(interval.low > 0.5)


def run_comparison(rule: Rule, planned: PlannedComparison, experiments: list[SeedGroup], options: ReportOptions) -> Tested:
    subject, why_subject = resolve(planned.subject, planned.horizon, experiments)
    reference, why_reference = resolve(planned.reference, planned.horizon, experiments)
    if subject is None or reference is None:
        return Tested(planned, subject, reference, missing="; ".join(w for w in (why_subject, why_reference) if w))
    if subject is reference and planned.subject.column == planned.reference.column:
        return Tested(planned, subject, reference, missing="the validation-picked reference is the subject itself")
    same_runs = subject is reference
    try:
        aligned = aligned_test_scores([subject, reference], [planned.subject.column, planned.reference.column])
    except ValueError as exc:
        return Tested(planned, subject, reference, missing=str(exc))
    if not each_fold_has_both_classes(aligned.y, aligned.folds, 2):
        return Tested(planned, subject, reference, n_days=len(aligned.y), missing="fewer than two test days of each class in common")
    names = (rule.key, subject.label, planned.subject.column, reference.label, planned.reference.column)
    subject_scores, reference_scores = aligned.scores
    seeds_a = seed_resamples(len(subject_scores), options, *names, "a")
    # The point-forecast arm of the same runs shares their seeds: resample them together.
    seeds_b = seeds_a if same_runs else seed_resamples(len(reference_scores), options, *names, "b")
    paired = paired_auc_difference(aligned.y, subject_scores, reference_scores, aligned.counts(options, *names),
                                   folds=aligned.folds, seeds_a=seeds_a, seeds_b=seeds_b)
    estimate, se = paired.interval.estimate, paired.interval.se
    margin = rule.margin.points(planned.horizon)
    return Tested(
        planned, subject, reference, n_days=len(aligned.y),
        subject_auc=mean_auc(aligned.y, subject_scores, aligned.folds),
        reference_auc=mean_auc(aligned.y, reference_scores, aligned.folds),
        difference=estimate, se=se, p=null_p_value(rule, estimate, se, margin),
        reference_above_chance=_above_chance(reference, options) if rule.reference_above_chance else None,
        minimum_detectable=minimum_detectable(rule, se),
    )


def _passes(rule: Rule, tested: Tested) -> bool:
    if tested.missing is not None or tested.reference_above_chance is False:
        return False
    level_ok = tested.p_holm < ALPHA if rule.holm else tested.p < ALPHA
    # 'pursue' and '>>' need a detectable gain whose estimate also reaches the margin.
    reaches = tested.difference >= rule.margin.points(tested.planned.horizon) if rule.test == "superiority" else True
    return bool(level_ok and reaches)


def run_rule(rule: Rule, experiments: list[SeedGroup], options: ReportOptions) -> list[Tested]:
    """Every planned comparison of the rule, Holm-adjusted over the whole planned family."""
    tested = [run_comparison(rule, planned, experiments, options) for planned in rule.comparisons]
    adjusted = holm_adjust([t.p for t in tested]) if rule.holm else [t.p for t in tested]
    tested = [replace(t, p_holm=float(p)) for t, p in zip(tested, adjusted)]
    return [replace(t, passed=_passes(rule, t)) for t in tested]


def describe(rule: Rule, t: Tested) -> str:
    """One planned comparison with every number a reader needs to check the verdict."""
    if t.missing is not None:
        return f"{t.planned.describe()}: not compared ({t.missing})"
    margin = rule.margin.points(t.planned.horizon)
    text = (
        f"{t.subject.label} [{t.planned.subject.column}] vs {t.reference.label} [{t.planned.reference.column}]: "
        f"AUC {t.subject_auc:.3f} vs {t.reference_auc:.3f}, diff {t.difference:+.4f} AUC points ({t.relative:+.1%} relative), "
        f"SE {t.se:.4f} ({t.n_days} test days, days and seeds resampled); {rule.test}"
        + (f" margin {margin:.4f}" if margin else "")
        + f" p={format_p(t.p)}" + (f", Holm p={format_p(t.p_holm)} over {rule.family_size()}" if rule.holm else "")
        + f"; detectable at 80% power: {t.minimum_detectable:.4f}"
    )
    if t.reference_above_chance is False:
        text += "; reference not detectably above chance (AUC 0.5), so nothing follows"
    return text + (" -> passes" if t.passed else " -> does not pass")


def _status(rule: Rule, tested: list[Tested]) -> str:
    compared = [t for t in tested if t.missing is None]
    if rule.decision == "any" and any(t.passed for t in tested):
        return rule.yes
    if not compared or (rule.decision == "all" and len(compared) < len(tested)):
        return STATUS_NOT_ANSWERABLE
    if rule.decision == "all" and all(t.passed for t in tested):
        return rule.yes
    complete = len(compared) == len(tested)
    return rule.no if complete else f"{STATUS_NOT_SHOWN} ({len(compared)} of {len(tested)} planned comparisons made)"


def rule_verdicts(rule: Rule, tested: list[Tested]) -> list[Verdict]:
    """One verdict per horizon; the Holm family spans both."""
    verdicts = []
    for horizon in sorted({t.planned.horizon for t in tested}):
        mine = [t for t in tested if t.planned.horizon == horizon]
        detail = " | ".join(describe(rule, t) for t in mine)
        verdicts.append(Verdict(rule.claim, horizon, _status(rule, mine), detail, rule.key))
    return verdicts


@dataclass(frozen=True)
class PlanOutcome:
    rule: Rule
    tested: list[Tested]
    verdicts: list[Verdict]


def _with_next_step(verdict: Verdict, rule: Rule, experiments: list[SeedGroup]) -> Verdict:
    """A 'not answerable yet' verdict also says what to run to answer it (next_steps.py)."""
    if verdict.status != STATUS_NOT_ANSWERABLE:
        return verdict
    pretrained = any(arm.pretrained for c in rule.comparisons for arm in (c.subject, c.reference))
    step = answering_step(verdict.horizon, experiments, needs_weights=pretrained)
    return replace(verdict, detail=f"{verdict.detail} {step}")


def evaluate_plan(experiments: list[SeedGroup], options: ReportOptions) -> list[PlanOutcome]:
    outcomes = []
    for rule in PLAN:
        tested = run_rule(rule, experiments, options)
        verdicts = [_with_next_step(v, rule, experiments) for v in rule_verdicts(rule, tested)]
        outcomes.append(PlanOutcome(rule, tested, verdicts))
    return outcomes
