"""Verdicts computed only from the pre-registered plan (`orchestrator.report.plan`).

Each planned comparison is tested against exactly the model it names (a "best of" reference is
picked by validation AUC, then tested as that model), with the plan's test, margin and family.
Only unflagged results count; a comparison without them says what is missing and enters its
family's Holm correction as p = 1, so the family is the plan's, never the results folder's.

Outcomes: the claim holds (yes); it passes only at the chosen block length, not at half or double
(fragile); it was tested with enough power and failed (no); it failed but the test could not have
found the plan's smallest effect of interest with 80% power (inconclusive (underpowered), with what
would make it answerable); results are missing (not answerable yet); or the only results have test
periods inside the model's pre-training (not answerable (test period inside pre-training), unless
the user opts in with --allow-pretraining-overlap, which every verdict resting on them then names).

An "all" rule (D2: every deep model within the margin) says "no" only where some named model is
shown *outside* the margin (its one-sided test of |diff| > margin, Bonferroni over the rule's
comparisons at that horizon); a rule that failed without that reads inconclusive, underpowered when
the rule as a whole had under 80% power. Identical models failing one of 13 powered comparisons by
chance are no evidence that architecture matters.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats as scipy_stats

from orchestrator.report.compare import ReportOptions, aligned_test_scores, each_fold_has_both_classes, validation_auc
from orchestrator.report.load import FLAG_PRETRAINING_OVERLAP, FLAG_RANDOM_INIT, SeedGroup
from orchestrator.report.next_steps import answering_command, answering_step
from orchestrator.report.plan import ALPHA, PLAN, Arm, PlannedComparison, Rule
from orchestrator.report.stats import (
    NUMERICAL_ZERO,
    PairedDifference,
    auc_interval,
    detectable_shift,
    holm_adjust,
    mean_auc,
    paired_auc_difference,
)

STATUS_NOT_ANSWERABLE = "not answerable yet"
STATUS_NOT_SHOWN = "not shown"
STATUS_INCONCLUSIVE = "inconclusive (underpowered)"
STATUS_NEITHER = "inconclusive (not every model shown within the margin, none shown outside it)"
STATUS_FRAGILE = "fragile (passes at the chosen block length, not at half or double)"
STATUS_OVERLAP = "not answerable (test period inside pre-training)"
OVERLAP_OPT_IN = "--allow-pretraining-overlap"
# A result with fewer seeds than this hides seed-to-seed noise (see the calibration in report/sections.py).
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
    fragile: bool = False  # passes, but not at half or double the block length
    p_outside: float = 1.0  # one-sided p of |diff| <= margin (non-equivalence shown when small)
    overlap: bool = False  # missing because its only results have test periods inside pre-training

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
    if rule.test == "superiority":  # H0: diff <= margin (0 unless the rule has one)
        return one_sided_p((difference - margin) / se, df)
    if rule.test == "non-inferiority":
        return one_sided_p((difference + margin) / se, df)
    if rule.test == "equivalence":  # TOST: both one-sided nulls must be rejected
        return max(one_sided_p((difference + margin) / se, df), one_sided_p((margin - difference) / se, df))
    return min(1.0, 2.0 * one_sided_p(abs(difference) / se, df))


def test_level(rule: Rule) -> float:
    """The family's Bonferroni level (Holm's strictest step); one-sided, except two-sided tests."""
    return ALPHA / (rule.family_size() if rule.holm else 1)


def power_multiplier(rule: Rule, df: float = math.inf) -> float:
    """c such that the test has power P (`Rule.comparison_power`) exactly when c x SE <= the distance
    from its null to the effect of interest (level a = `test_level`; `stats.detectable_shift`: the
    noncentral t at the comparison's `df`, divided by E[SE] / true SE at that df, written z below;
    exact normal at infinite df):
    - superiority (H0 d <= m), power at true d:          Phi((d - m)/SE - z_{1-a})    -> c = z_{1-a} + z_P
    - non-inferiority (H0 d <= -m), power at true d = 0: Phi(m/SE - z_{1-a})          -> c = z_{1-a} + z_P
    - equivalence (TOST), power at true d = 0: P(|d^| < m - z_{1-a} SE) = 2 Phi(m/SE - z_{1-a}) - 1
                                                                                      -> c = z_{1-a} + z_{(1+P)/2}
    - two-sided, power at true d (far tail ignored):     Phi(d/SE - z_{1-a/2})        -> c = z_{1-a/2} + z_P"""
    level = test_level(rule)
    if rule.test == "two-sided":
        level /= 2
    power = rule.comparison_power()
    return detectable_shift(level, (1 + power) / 2 if rule.test == "equivalence" else power, df)


def null_offset(rule: Rule, horizon: int) -> float:
    """Where a superiority test's null sits (its margin): the detectable difference is measured from it."""
    return rule.margin.points(horizon) if rule.test == "superiority" else 0.0


def minimum_detectable(rule: Rule, se: float, horizon: int, df: float = math.inf) -> float:
    """Smallest true difference the test finds with the rule's power at the family's Bonferroni
    level (for a margin superiority test: margin + c x SE). For equivalence and non-inferiority: the
    smallest margin that could be shown with that power when the true difference is 0."""
    return null_offset(rule, horizon) + power_multiplier(rule, df) * se


def underpowered(rule: Rule, tested: Tested) -> bool:
    """The test could not have found the rule's smallest effect of interest with the rule's power."""
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
    horizon = tested.planned.horizon
    target = (rule.effect_of_interest(horizon) - null_offset(rule, horizon)) / power_multiplier(rule, tested.df)
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


def _inside_pretraining(experiment: SeedGroup) -> bool:
    return FLAG_PRETRAINING_OVERLAP in experiment.flags


def resolve(
    arm: Arm, horizon: int, experiments: list[SeedGroup], *, allow_overlap: bool = False
) -> tuple[SeedGroup | None, str | None]:
    """The one experiment an arm stands for (the validation-best where several qualify, ranked by
    `compare.validation_auc`: the earliest validation period, before every test day), or why none
    does. Results whose test period lies inside the model's pre-training count only with `allow_overlap`."""
    named = [e for e in experiments if e.horizon == horizon and e.model in arm.models]
    usable = [
        e
        for e in named
        if e.eligible
        and e.has_column(arm.column)
        and (e.weights.kind == "pretrained" or not arm.pretrained)
        and (allow_overlap or not _inside_pretraining(e))
    ]
    if usable:
        return max(usable, key=lambda e: (validation_auc(e), e.label)), None
    if not named:
        return None, f"no result for {arm.describe()} at H{horizon}"
    overlapping = [e for e in named if _inside_pretraining(e)]
    if overlapping and not allow_overlap:
        return None, (
            f"{STATUS_OVERLAP}: {arm.describe()} at H{horizon} has only results whose test period starts before "
            f"the model's pre-training cut-off ({', '.join(e.label for e in overlapping)}); rebuild the data with "
            f"`orch data build --csv ... --test-start DATE` after the cut-off, or opt in with {OVERLAP_OPT_IN}"
        )
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


def statistics(rule: Rule, planned: PlannedComparison, paired: PairedDifference) -> dict[str, float]:
    """A Tested's numbers from the paired difference: the rule's p-value, the p of non-equivalence
    (|diff| beyond the margin, for "all" rules), the detectable difference and the interval. The one
    place these formulas are applied (the calibration bench calls it too)."""
    estimate, se, df = paired.interval.estimate, paired.interval.se, paired.interval.df
    margin = rule.margin.points(planned.horizon)
    outside = (
        one_sided_p((abs(estimate) - margin) / max(se, NUMERICAL_ZERO), df)
        if np.isfinite(se) and np.isfinite(estimate)
        else 1.0
    )
    return {
        "difference": estimate,
        "se": se,
        "p": null_p_value(rule, estimate, se, margin=margin, df=df),
        "p_outside": outside,
        "minimum_detectable": minimum_detectable(rule, se, planned.horizon, df),
        "low": paired.interval.low,
        "high": paired.interval.high,
        "se_days": paired.se_days,
        "df": df,
    }


def run_comparison(
    rule: Rule,
    planned: PlannedComparison,
    experiments: list[SeedGroup],
    *,
    options: ReportOptions,
    block_scale: float = 1.0,
) -> Tested:
    allow = options.allow_pretraining_overlap
    subject, why_subject = resolve(planned.subject, planned.horizon, experiments, allow_overlap=allow)
    reference, why_reference = resolve(planned.reference, planned.horizon, experiments, allow_overlap=allow)
    if subject is None or reference is None:
        reasons = [w for w in (why_subject, why_reference) if w]
        return Tested(
            planned,
            subject,
            reference,
            missing="; ".join(reasons),
            overlap=any(w.startswith(STATUS_OVERLAP) for w in reasons),
        )
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
    return Tested(
        planned,
        subject,
        reference,
        **statistics(rule, planned, paired),
        n_days=len(aligned.y),
        subject_auc=mean_auc(aligned.y, subject_scores, aligned.folds),
        reference_auc=mean_auc(aligned.y, reference_scores, aligned.folds),
        reference_above_chance=_above_chance(reference, options) if rule.reference_above_chance else None,
        n_folds=len(np.unique(aligned.folds)),
        n_seeds=max(_trained_seeds(subject), _trained_seeds(reference)),
        block_lengths=aligned.block_lengths(options, block_scale),
    )


def _passes(rule: Rule, tested: Tested) -> bool:
    if tested.missing is not None or tested.reference_above_chance is False:
        return False
    return bool(tested.p_holm < ALPHA if rule.holm else tested.p < ALPHA)


def _holm_with(tested: list[Tested], index: int, p: float) -> float:
    """Holm-adjusted p of comparison `index` when its p is replaced, the others kept."""
    values = [p if i == index else t.p for i, t in enumerate(tested)]
    return float(holm_adjust(values)[index])


def _sensitivity(
    rule: Rule, tested: list[Tested], index: int, *, experiments: list[SeedGroup], options: ReportOptions
) -> Tested:
    """The passing comparison again with half and double the block lengths: failing either makes it fragile."""
    parts, holds = [], True
    for label, scale in (("half", 0.5), ("double", 2.0)):
        again = run_comparison(rule, tested[index].planned, experiments, options=options, block_scale=scale)
        again = replace(again, p_holm=_holm_with(tested, index, again.p) if rule.holm else again.p)
        passes = _passes(rule, again)
        holds = holds and passes
        parts.append(
            f"{label} blocks ({'/'.join(map(str, again.block_lengths))} days): SE {again.se:.4f}, "
            f"p={format_p(again.p_holm if rule.holm else again.p)} -> {'still passes' if passes else 'DOES NOT PASS'}"
        )
    return replace(tested[index], sensitivity="sensitivity: " + "; ".join(parts), fragile=not holds)


def assess(rule: Rule, tested: list[Tested]) -> list[Tested]:
    """Holm over the whole planned family (where the rule has one) and pass/fail of each comparison."""
    adjusted = holm_adjust([t.p for t in tested]) if rule.holm else [t.p for t in tested]
    tested = [replace(t, p_holm=float(p)) for t, p in zip(tested, adjusted)]
    return [replace(t, passed=_passes(rule, t)) for t in tested]


def run_rule(rule: Rule, experiments: list[SeedGroup], options: ReportOptions) -> list[Tested]:
    """Every planned comparison of the rule, Holm-adjusted over the whole planned family; a passing
    one also carries its block-length sensitivity."""
    tested = assess(rule, [run_comparison(rule, planned, experiments, options=options) for planned in rule.comparisons])
    return [
        _sensitivity(rule, tested, i, experiments=experiments, options=options) if t.passed else t
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
        + f"; detectable at {rule.comparison_power():.0%} power: {t.minimum_detectable:.4f} vs smallest effect "
        f"of interest {effect:.4f}" + (f"; non-equivalence p={format_p(t.p_outside)}" if rule.decision == "all" else "")
    )
    if t.reference_above_chance is False:
        text += "; reference not detectably above chance (AUC 0.5), so nothing follows"
    if t.passed:
        return text + f" -> passes{', FRAGILE' if t.fragile else ''} ({t.sensitivity})"
    if underpowered(rule, t):
        return text + f" -> does not pass, UNDERPOWERED: {describe_requirement(rule, t)}"
    return text + " -> does not pass"


def _informative_failure(rule: Rule, t: Tested) -> bool:
    """A failed test that could have passed: made, reference usable, and powered for the effect of interest."""
    return t.made and not t.passed and t.reference_above_chance is not False and not underpowered(rule, t)


def shown_outside(tested: list[Tested]) -> list[Tested]:
    """Comparisons of one horizon of an "all" rule whose non-equivalence is shown (Bonferroni over them)."""
    return [t for t in tested if t.made and t.p_outside * len(tested) < ALPHA]


def _missing_status(tested: list[Tested]) -> str:
    """Why results are missing: inside pre-training where any result is (more runs on the same test
    period cannot answer it), else not run yet."""
    return STATUS_OVERLAP if any(t.overlap for t in tested if not t.made) else STATUS_NOT_ANSWERABLE


def rule_status(rule: Rule, tested: list[Tested]) -> str:
    """The verdict of one horizon's comparisons (already `assess`ed)."""
    compared = [t for t in tested if t.made]
    passed = [t for t in tested if t.passed]
    if rule.decision == "any" and passed:
        return rule.yes if any(not t.fragile for t in passed) else STATUS_FRAGILE
    if rule.decision == "all" and compared and shown_outside(tested):
        return rule.no  # a named model is shown outside the margin: "all within" is refuted
    if not compared or (rule.decision == "all" and len(compared) < len(tested)):
        return _missing_status(tested)
    if rule.decision == "all":
        if len(passed) == len(tested):
            return STATUS_FRAGILE if any(t.fragile for t in passed) else rule.yes
        # Failing to show every model within is not showing one outside: "no" needs that (above).
        return STATUS_INCONCLUSIVE if any(underpowered(rule, t) for t in compared) else STATUS_NEITHER
    if len(compared) < len(tested):
        inside = sum(t.overlap for t in tested)
        return (
            f"{STATUS_NOT_SHOWN} ({len(compared)} of {len(tested)} planned comparisons made"
            + (f"; {inside} with test periods inside pre-training" if inside else "")
            + ")"
        )
    # "None passes" is shown only if every one of them could have passed.
    return rule.no if all(_informative_failure(rule, t) for t in tested) else STATUS_INCONCLUSIVE


def _deciding(rule: Rule, status: str, tested: list[Tested]) -> Tested | None:
    """The comparison the status turns on: the passing one with the smallest p for a 'yes', the
    one shown furthest outside the margin for an 'all' rule's 'no', else the closest to passing."""
    made = [t for t in tested if t.made]
    if not made:
        return None
    passed = [t for t in made if t.passed]
    if passed:
        return min(passed, key=lambda t: t.p_holm)
    if rule.decision == "all" and status == rule.no:
        return min(shown_outside(tested), key=lambda t: t.p_outside)
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
    """Flagged-but-kept results (load.WARNING_FLAGS; pretraining-overlap only by opt-in) and seed
    counts that hide seed noise."""
    groups = _rests_on(tested)
    warnings = [f"rests on {g.label} flagged {', '.join(g.warning_flags)}" for g in groups if g.warning_flags]
    inside = [g.label for g in groups if _inside_pretraining(g)]
    if inside:
        warnings.insert(0, f"OPTED IN ({OVERLAP_OPT_IN}): test period inside the pre-training of {', '.join(inside)}")
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
        status = rule_status(rule, mine)
        if any(_inside_pretraining(g) for g in _rests_on(mine)):
            status += f" [{OVERLAP_OPT_IN}]"
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
    if verdict.status.startswith(STATUS_INCONCLUSIVE) and verdict.deciding is not None:
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
    if verdict.status.startswith(STATUS_OVERLAP):
        return replace(
            verdict,
            next_step="test years after the newest pre-training cut-off: `orch data build --csv SPY.csv "
            f"--test-start DATE` (README), or opt in with `orch report {OVERLAP_OPT_IN}`",
        )
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
