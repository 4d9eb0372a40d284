"""Verdicts computed only from the pre-registered plan (`orchestrator.report.plan`).

Each planned comparison is tested against exactly the model it names (a "best of" reference is
picked by validation AUC, then tested as that model), with the plan's test, margin and family.
Only unflagged results count; a comparison without them says what is missing and enters its
family's Holm correction as p = 1, so the family is the plan's, never the results folder's.

Four outcomes: the claim holds (yes), it was tested with enough power and failed (no), it failed
but the test could not have found the plan's smallest effect of interest with 80% power
(inconclusive (underpowered), with what would make it answerable), or results are missing
(not answerable yet).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats as scipy_stats

from orchestrator.report.compare import ReportOptions, aligned_test_scores, each_fold_has_both_classes
from orchestrator.report.load import FLAG_RANDOM_INIT, SeedGroup
from orchestrator.report.next_steps import answering_command, answering_step
from orchestrator.report.plan import ALPHA, PLAN, POWER, Arm, PlannedComparison, Rule
from orchestrator.report.stats import NUMERICAL_ZERO, auc_interval, holm_adjust, mean_auc, paired_auc_difference

STATUS_NOT_ANSWERABLE = "not answerable yet"
STATUS_NOT_SHOWN = "not shown"
STATUS_INCONCLUSIVE = "inconclusive (underpowered)"
# A result with fewer seeds than this hides seed-to-seed noise (see the calibration in render.py).
SEEDS_FOR_SEED_NOISE = 3


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
    low: float = float("nan")  # 95% t interval of the difference (df below)
    high: float = float("nan")
    se_days: float = float("nan")  # SE with seeds held fixed: the part more test days shrink
    df: float = math.inf  # Welch-Satterthwaite df of the t reference (infinite: no seed variance enters)
    n_folds: int = 0
    n_seeds: int = 0  # seeds of the trained side(s) (the larger); 0 when both sides are deterministic
    block_lengths: tuple[int, ...] = ()
    sensitivity: str | None = None  # half / double block length, for comparisons that pass

    @property
    def relative(self) -> float:
        return self.subject_auc / self.reference_auc - 1.0

    @property
    def made(self) -> bool:
        return self.missing is None


@dataclass(frozen=True)
class Verdict:
    topic: str
    horizon: int
    status: str
    detail: str
    rule: str = ""
    deciding: Tested | None = None  # the comparison the status turns on
    next_step: str = "—"
    evidence: tuple[str, ...] = ()  # one line per planned comparison
    warnings: tuple[str, ...] = field(default_factory=tuple)  # flagged results it rests on, few seeds


def format_p(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def one_sided_p(statistic: float, df: float = math.inf) -> float:
    return float(scipy_stats.t.sf(statistic, df))


def null_p_value(rule: Rule, difference: float, se: float, *, margin: float, df: float = math.inf) -> float:
    """p-value of the rule's null hypothesis from the difference and its standard error, against
    Student's t with `df` (stats.welch_satterthwaite; the normal at infinite df).
    A zero SE (identical predictions) makes the estimate certain: p is 0 or 1."""
    if not (np.isfinite(se) and np.isfinite(difference)):
        return 1.0
    se = max(se, NUMERICAL_ZERO)
    if rule.test == "superiority":
        return one_sided_p(difference / se, df)
    if rule.test == "non-inferiority":
        return one_sided_p((difference + margin) / se, df)
    if rule.test == "equivalence":  # TOST: both one-sided nulls must be rejected
        return max(one_sided_p((difference + margin) / se, df), one_sided_p((margin - difference) / se, df))
    return min(1.0, 2.0 * one_sided_p(abs(difference) / se, df))


def test_level(rule: Rule) -> float:
    """The family's Bonferroni level (Holm's strictest step); one-sided, except two-sided tests."""
    return ALPHA / (rule.family_size() if rule.holm else 1)


def power_multiplier(rule: Rule, df: float = math.inf) -> float:
    """c such that the test has 80% power exactly when c x SE <= the effect of interest (level
    a = `test_level`; z below stands for Student's t quantiles with the test's `df`, the usual
    approximation that treats the t statistic as shifted by d/SE; exact normal at infinite df):
    - superiority (H0 d <= 0), power at true d:          Phi(d/SE - z_{1-a})          -> c = z_{1-a} + z_P
    - non-inferiority (H0 d <= -m), power at true d = 0: Phi(m/SE - z_{1-a})          -> c = z_{1-a} + z_P
    - equivalence (TOST), power at true d = 0: P(|d^| < m - z_{1-a} SE) = 2 Phi(m/SE - z_{1-a}) - 1
                                                                                      -> c = z_{1-a} + z_{(1+P)/2}
    - two-sided, power at true d (far tail ignored):     Phi(d/SE - z_{1-a/2})        -> c = z_{1-a/2} + z_P"""
    level = test_level(rule)
    if rule.test == "two-sided":
        level /= 2
    power = (1 + POWER) / 2 if rule.test == "equivalence" else POWER
    return float(scipy_stats.t.isf(level, df) + scipy_stats.t.ppf(power, df))


def minimum_detectable(rule: Rule, se: float, df: float = math.inf) -> float:
    """Smallest true difference the test finds with the plan's power at the family's Bonferroni
    level. For equivalence and non-inferiority: the smallest margin that could be shown with that
    power when the true difference is 0."""
    return power_multiplier(rule, df) * se


def underpowered(rule: Rule, tested: Tested) -> bool:
    """The test could not have found the rule's smallest effect of interest with 80% power."""
    return tested.made and not (tested.minimum_detectable <= rule.effect_of_interest(tested.planned.horizon))


@dataclass(frozen=True)
class Requirement:
    """What would make an underpowered comparison answerable, assuming SE^2 = V_days x n0/n + V_seeds x k0/k:
    the days part (seeds held fixed in the bootstrap) shrinks as 1/(test days), the rest as 1/(seeds).
    The power multiplier keeps the current df (more seeds would raise it): slightly conservative."""

    target_se: float
    days: float  # test days needed at the current seeds (inf: seed noise alone is too large)
    folds: float  # the same in folds of the current average size
    seeds: float  # seeds needed at the current test days (inf: day noise alone is too large)
    # Where neither alone suffices: the fewest of COMBINED_SEEDS seeds, and the test days needed with them.
    combined: tuple[int, float] | None = None


COMBINED_SEEDS = (5, 10, 20, 50)


def requirement(rule: Rule, tested: Tested) -> Requirement:
    target = rule.effect_of_interest(tested.planned.horizon) / power_multiplier(rule, tested.df)
    day_var = min(tested.se_days, tested.se) ** 2 if np.isfinite(tested.se_days) else tested.se**2
    seed_var = max(tested.se**2 - day_var, 0.0)
    budget = target**2
    days = tested.n_days * day_var / (budget - seed_var) if budget > seed_var else math.inf
    seeds = (
        (max(tested.n_seeds, 1) * seed_var / (budget - day_var) if seed_var > 0 else 0.0)
        if budget > day_var
        else math.inf
    )
    folds = days / (tested.n_days / max(tested.n_folds, 1)) if math.isfinite(days) else math.inf
    combined = None
    if not math.isfinite(days) and not math.isfinite(seeds) and tested.n_seeds > 0:
        for k in COMBINED_SEEDS:
            left = budget - seed_var * tested.n_seeds / k
            if left > 0:
                combined = (k, tested.n_days * day_var / left)
                break
    return Requirement(target, days, folds, seeds, combined)


def describe_requirement(rule: Rule, tested: Tested) -> str:
    need = requirement(rule, tested)
    parts = [f"needs SE <= {need.target_se:.4f} (now {tested.se:.4f})"]
    if math.isfinite(need.days):
        parts.append(
            f"about {math.ceil(need.days):,} test days (~{math.ceil(need.folds)} folds of the current size) at the current seeds"
        )
    else:
        parts.append("more test days alone cannot do it (seed noise too large)")
    if tested.n_seeds == 0:
        parts.append("both sides deterministic: only more test days help")
    elif tested.n_seeds == 1:
        parts.append("with 1 seed the seed component is unmeasured (taken as 0, so this is optimistic)")
    elif math.isfinite(need.seeds):
        parts.append(f"or {max(math.ceil(need.seeds), tested.n_seeds)} seeds at the current test days")
    else:
        parts.append("more seeds alone cannot do it (day-to-day noise too large)")
    if need.combined is not None:
        parts.append(f"together: {need.combined[0]} seeds and about {math.ceil(need.combined[1]):,} test days")
    return "; ".join(parts) + " (assumes SE^2 = V_days/n_days + V_seeds/n_seeds, V from this bootstrap)"


def _validation_auc(experiment: SeedGroup) -> float:
    value = experiment.mean_metric("val", "auc")
    return value if np.isfinite(value) else -np.inf


def _matches(experiment: SeedGroup, model: str) -> bool:
    """Exact model name; foundation models may carry a mode suffix ('timesfm-zeroshot')."""
    return experiment.model == model or (experiment.family == "foundation" and experiment.model.startswith(model + "-"))


def resolve(arm: Arm, horizon: int, experiments: list[SeedGroup]) -> tuple[SeedGroup | None, str | None]:
    """The one experiment an arm stands for (the validation-best where several qualify), or why none does."""
    named = [e for e in experiments if e.horizon == horizon and any(_matches(e, m) for m in arm.models)]
    usable = [
        e
        for e in named
        if e.eligible and e.has_column(arm.column) and (e.weights.kind == "pretrained" or not arm.pretrained)
    ]
    if usable:
        return max(usable, key=lambda e: (_validation_auc(e), e.label)), None
    if not named:
        return None, f"no result for {arm.describe()} at H{horizon}"
    return (
        None,
        f"{arm.describe()} at H{horizon} only flagged/unusable: {'; '.join(_why_unusable(e, arm) for e in named)}",
    )


def _why_unusable(experiment: SeedGroup, arm: Arm) -> str:
    reasons = list(experiment.flags)
    if arm.pretrained and experiment.weights.kind != "pretrained" and FLAG_RANDOM_INIT not in reasons:
        reasons.append(f"weights {experiment.weights.kind}, not pretrained")
    if not experiment.has_column(arm.column):
        reasons.append(f"no '{arm.column}' column")
    return f"{experiment.label} ({', '.join(reasons)})"


def _above_chance(experiment: SeedGroup, options: ReportOptions) -> bool:
    """The one-sided lower bound of the reference's AUC (days resampled, seed variance added) exceeds 0.5."""
    aligned = aligned_test_scores([experiment])
    if not each_fold_has_both_classes(aligned.y, aligned.folds, 1):
        return False
    (scores,) = aligned.scores
    interval = auc_interval(
        aligned.y, scores, aligned.counts(options, "chance", experiment.label), level=1 - 2 * ALPHA, folds=aligned.folds
    )
    return bool(interval.low > 0.5)


def _trained_seeds(group: SeedGroup) -> int:
    return 0 if group.family == "classical" else len(group.seeds)


def run_comparison(
    rule: Rule,
    planned: PlannedComparison,
    experiments: list[SeedGroup],
    *,
    options: ReportOptions,
    block_scale: float = 1.0,
) -> Tested:
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
        return Tested(
            planned,
            subject,
            reference,
            n_days=len(aligned.y),
            missing="fewer than two test days of each class in common",
        )
    names = (rule.key, subject.label, planned.subject.column, reference.label, planned.reference.column)
    subject_scores, reference_scores = aligned.scores
    # The point-forecast arm of the same runs shares their seeds: the seed part is that of the per-seed differences.
    paired = paired_auc_difference(
        aligned.y,
        subject_scores,
        reference_scores,
        counts=aligned.counts(options, *names, scale=block_scale),
        folds=aligned.folds,
        same_seeds=same_runs,
    )
    estimate, se, df = paired.interval.estimate, paired.interval.se, paired.interval.df
    margin = rule.margin.points(planned.horizon)
    return Tested(
        planned,
        subject,
        reference,
        n_days=len(aligned.y),
        subject_auc=mean_auc(aligned.y, subject_scores, aligned.folds),
        reference_auc=mean_auc(aligned.y, reference_scores, aligned.folds),
        difference=estimate,
        se=se,
        p=null_p_value(rule, estimate, se, margin=margin, df=df),
        reference_above_chance=_above_chance(reference, options) if rule.reference_above_chance else None,
        minimum_detectable=minimum_detectable(rule, se, df),
        low=paired.interval.low,
        high=paired.interval.high,
        se_days=paired.se_days,
        df=df,
        n_folds=len(np.unique(aligned.folds)),
        n_seeds=max(_trained_seeds(subject), _trained_seeds(reference)),
        block_lengths=aligned.block_lengths(options, block_scale),
    )


def _passes(rule: Rule, tested: Tested) -> bool:
    if tested.missing is not None or tested.reference_above_chance is False:
        return False
    level_ok = tested.p_holm < ALPHA if rule.holm else tested.p < ALPHA
    # 'pursue' and '>>' need a detectable gain whose estimate also reaches the margin.
    reaches = tested.difference >= rule.margin.points(tested.planned.horizon) if rule.test == "superiority" else True
    return bool(level_ok and reaches)


def _holm_with(tested: list[Tested], index: int, p: float) -> float:
    """Holm-adjusted p of comparison `index` when its p is replaced, the others kept."""
    values = [p if i == index else t.p for i, t in enumerate(tested)]
    return float(holm_adjust(values)[index])


def _sensitivity(
    rule: Rule, tested: list[Tested], index: int, *, experiments: list[SeedGroup], options: ReportOptions
) -> str:
    """The passing comparison again with half and double the block lengths."""
    parts = []
    for label, scale in (("half", 0.5), ("double", 2.0)):
        again = run_comparison(rule, tested[index].planned, experiments, options=options, block_scale=scale)
        again = replace(again, p_holm=_holm_with(tested, index, again.p) if rule.holm else again.p)
        verdict = "still passes" if _passes(rule, again) else "DOES NOT PASS"
        parts.append(
            f"{label} blocks ({'/'.join(map(str, again.block_lengths))} days): SE {again.se:.4f}, "
            f"p={format_p(again.p_holm if rule.holm else again.p)} -> {verdict}"
        )
    return "sensitivity: " + "; ".join(parts)


def run_rule(rule: Rule, experiments: list[SeedGroup], options: ReportOptions) -> list[Tested]:
    """Every planned comparison of the rule, Holm-adjusted over the whole planned family; a passing
    one also carries its block-length sensitivity."""
    tested = [run_comparison(rule, planned, experiments, options=options) for planned in rule.comparisons]
    adjusted = holm_adjust([t.p for t in tested]) if rule.holm else [t.p for t in tested]
    tested = [replace(t, p_holm=float(p)) for t, p in zip(tested, adjusted)]
    tested = [replace(t, passed=_passes(rule, t)) for t in tested]
    return [
        replace(t, sensitivity=_sensitivity(rule, tested, i, experiments=experiments, options=options))
        if t.passed
        else t
        for i, t in enumerate(tested)
    ]


def _seeds_text(t: Tested) -> str:
    return "deterministic baselines, no seeds" if t.n_seeds == 0 else f"{t.n_seeds} seed(s), days and seeds resampled"


def describe(rule: Rule, t: Tested) -> str:
    """One planned comparison with every number a reader needs to check the verdict."""
    if t.missing is not None:
        return f"{t.planned.describe()}: not compared ({t.missing})"
    margin = rule.margin.points(t.planned.horizon)
    effect = rule.effect_of_interest(t.planned.horizon)
    text = (
        f"{t.subject.label} [{t.planned.subject.column}] vs {t.reference.label} [{t.planned.reference.column}]: "
        f"AUC {t.subject_auc:.3f} vs {t.reference_auc:.3f}, diff {t.difference:+.4f} [{t.low:+.4f}, {t.high:+.4f}] AUC points "
        f"({t.relative:+.1%} relative), SE {t.se:.4f} ({t.n_days} test days in {t.n_folds} fold(s), {_seeds_text(t)}; "
        f"blocks {'/'.join(map(str, t.block_lengths))} days); {rule.test}"
        + (f" margin {margin:.4f}" if margin else "")
        + f" p={format_p(t.p)}"
        + (f", Holm p={format_p(t.p_holm)} over {rule.family_size()}" if rule.holm else "")
        + f"; detectable at 80% power: {t.minimum_detectable:.4f} vs smallest effect of interest {effect:.4f}"
    )
    if t.reference_above_chance is False:
        text += "; reference not detectably above chance (AUC 0.5), so nothing follows"
    if t.passed:
        return text + f" -> passes ({t.sensitivity})"
    if underpowered(rule, t):
        return text + f" -> does not pass, UNDERPOWERED: {describe_requirement(rule, t)}"
    return text + " -> does not pass"


def _informative_failure(rule: Rule, t: Tested) -> bool:
    """A failed test that could have passed: made, reference usable, and powered for the effect of interest."""
    return t.made and not t.passed and t.reference_above_chance is not False and not underpowered(rule, t)


def _status(rule: Rule, tested: list[Tested]) -> str:
    compared = [t for t in tested if t.made]
    if rule.decision == "any" and any(t.passed for t in tested):
        return rule.yes
    if not compared or (rule.decision == "all" and len(compared) < len(tested)):
        return STATUS_NOT_ANSWERABLE
    if rule.decision == "all":
        if all(t.passed for t in tested):
            return rule.yes
        # One powered failure refutes "all"; underpowered failures only mean "cannot tell".
        return rule.no if any(_informative_failure(rule, t) for t in tested) else STATUS_INCONCLUSIVE
    if len(compared) < len(tested):
        return f"{STATUS_NOT_SHOWN} ({len(compared)} of {len(tested)} planned comparisons made)"
    # "None passes" is shown only if every one of them could have passed.
    return rule.no if all(_informative_failure(rule, t) for t in tested) else STATUS_INCONCLUSIVE


def _deciding(rule: Rule, status: str, tested: list[Tested]) -> Tested | None:
    """The comparison the status turns on: the passing one with the smallest p for a 'yes', the
    failing one with the largest p for an 'all' rule that fails, else the closest to passing."""
    made = [t for t in tested if t.made]
    if not made:
        return None
    passed = [t for t in made if t.passed]
    if passed:
        return min(passed, key=lambda t: t.p_holm)
    if rule.decision == "all" and status == rule.no:
        return max((t for t in made if _informative_failure(rule, t)), key=lambda t: t.p)
    if status == STATUS_INCONCLUSIVE:
        weak = [t for t in made if underpowered(rule, t)]
        if weak:
            return min(weak, key=lambda t: t.p)
    return min(made, key=lambda t: t.p)


def _rests_on(tested: list[Tested]) -> list[SeedGroup]:
    groups: dict[str, SeedGroup] = {}
    for t in tested:
        if t.made:
            for group in (t.subject, t.reference):
                groups.setdefault(group.label, group)
    return list(groups.values())


def _warnings(tested: list[Tested]) -> tuple[str, ...]:
    """Flagged-but-kept results (load.WARNING_FLAGS) and seed counts that hide seed noise."""
    groups = _rests_on(tested)
    warnings = [f"rests on {g.label} flagged {', '.join(g.warning_flags)}" for g in groups if g.warning_flags]
    few = [g.label for g in groups if g.family != "classical" and len(g.seeds) < SEEDS_FOR_SEED_NOISE]
    if few:
        warnings.append(f"rests on fewer than {SEEDS_FOR_SEED_NOISE} seeds: {', '.join(few)}")
    return tuple(warnings)


def rule_verdicts(rule: Rule, tested: list[Tested]) -> list[Verdict]:
    """One verdict per horizon; the Holm family spans both."""
    verdicts = []
    for horizon in sorted({t.planned.horizon for t in tested}):
        mine = [t for t in tested if t.planned.horizon == horizon]
        evidence = tuple(describe(rule, t) for t in mine)
        status = _status(rule, mine)
        verdicts.append(
            Verdict(
                rule.claim,
                horizon,
                status,
                " | ".join(evidence),
                rule.key,
                deciding=_deciding(rule, status, mine),
                evidence=evidence,
                warnings=_warnings(mine),
            )
        )
    return verdicts


@dataclass(frozen=True)
class PlanOutcome:
    rule: Rule
    tested: list[Tested]
    verdicts: list[Verdict]


def _with_next_step(verdict: Verdict, rule: Rule, experiments: list[SeedGroup]) -> Verdict:
    """A 'not answerable yet' verdict says what to run to answer it (next_steps.py); an inconclusive
    one says how many seeds or test days its deciding comparison needs."""
    if verdict.status == STATUS_INCONCLUSIVE and verdict.deciding is not None:
        need = requirement(rule, verdict.deciding)
        if verdict.deciding.n_seeds > 1 and math.isfinite(need.seeds) and need.seeds <= 20:
            seeds = max(math.ceil(need.seeds), verdict.deciding.n_seeds + 1)
            return replace(verdict, next_step=f"`{answering_command(verdict.horizon, seeds)}`")
        if math.isfinite(need.days):
            return replace(
                verdict,
                next_step=f"more test data: ~{math.ceil(need.days):,} test days (~{math.ceil(need.folds)} folds)",
            )
        if need.combined is not None:
            seeds, days = need.combined
            return replace(
                verdict,
                next_step=f"~{math.ceil(days):,} test days (a longer test period) and "
                f"`{answering_command(verdict.horizon, seeds)}`",
            )
        return replace(verdict, next_step=f"not reachable with up to {COMBINED_SEEDS[-1]} seeds (see evidence)")
    if verdict.status != STATUS_NOT_ANSWERABLE:
        return verdict
    pretrained = any(arm.pretrained for c in rule.comparisons for arm in (c.subject, c.reference))
    step = answering_step(verdict.horizon, experiments, needs_weights=pretrained)
    short = (
        "pull weights (`orch weights pull NAME`), then " if pretrained else ""
    ) + f"`{answering_command(verdict.horizon)}`"
    return replace(verdict, detail=f"{verdict.detail} {step}", next_step=short)


def evaluate_plan(
    experiments: list[SeedGroup], options: ReportOptions, on_rule: Callable[[str], None] = lambda key: None
) -> list[PlanOutcome]:
    """Every rule of the plan; `on_rule` hears each rule key once its bootstraps are done."""
    outcomes = []
    for rule in PLAN:
        tested = run_rule(rule, experiments, options)
        verdicts = [_with_next_step(v, rule, experiments) for v in rule_verdicts(rule, tested)]
        outcomes.append(PlanOutcome(rule, tested, verdicts))
        on_rule(rule.key)
    return outcomes
