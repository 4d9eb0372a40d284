"""Rule-level verdicts on planted comparisons: the status each rule gives when the truth is known
(identical models, a gain 1.5x the margin, a gain below what the test can detect), fragile passes,
foundation results inside pre-training, and the 2026 foundation family of the plan."""

import math

import numpy as np
import pytest

from orchestrator.report import verdicts
from orchestrator.report.compare import ReportOptions, selection_score
from orchestrator.report.load import load_results
from orchestrator.report.plan import ALL_FOUNDATION, FOUNDATION_2026, PATCHTST_FM, PLAN, REFERENCE
from orchestrator.report.stats import Interval, PairedDifference, batches, days_se_with_floor
from orchestrator.report.verdicts import (
    STATUS_FRAGILE,
    STATUS_INCONCLUSIVE,
    STATUS_NEITHER,
    STATUS_NOT_ANSWERABLE,
    STATUS_OVERLAP,
    assess,
    evaluate_plan,
    power_multiplier,
    rule_status,
    statistics,
)
from tests.support.planted_results import PRETRAINED, SEEDS, write_synthetic

RULES = {rule.key: rule for rule in PLAN}


def _planted(rule, differences: list[float], se: float, df: float = math.inf, **extra) -> list[verdicts.Tested]:
    """The rule's H1 comparisons with these estimates and one SE (infinite df unless given), its H3 ones
    missing; Holm-adjusted and passed/failed as the report does."""
    planted = iter(differences)
    tested = []
    for planned in rule.comparisons:
        if planned.horizon != 1:
            tested.append(verdicts.Tested(planned, missing="not planted"))
            continue
        estimate = next(planted)
        paired = PairedDifference(Interval(estimate, estimate - 1.96 * se, estimate + 1.96 * se, se, df), 0.5, 0.5, se)
        tested.append(verdicts.Tested(planned, **statistics(rule, planned, paired), **extra))
    return [t for t in assess(rule, tested) if t.planned.horizon == 1]


def _h1(rule) -> int:
    return sum(c.horizon == 1 for c in rule.comparisons)


def _rule_powered_se(rule) -> float:
    """An SE at which each comparison has the power the rule asks of it, with 10% to spare."""
    return (
        0.9
        * (rule.effect_of_interest(1) - (rule.margin.points(1) if rule.test == "superiority" else 0.0))
        / (power_multiplier(rule))
    )


def test_d2_identical_models_never_say_no():
    d2 = RULES["D2"]
    m, margin = _h1(d2), d2.margin.points(1)
    # powered for the rule as a whole: every comparison shown within the margin
    assert rule_status(d2, _planted(d2, [0.0] * m, _rule_powered_se(d2))) == d2.yes
    # each comparison powered on its own (80%) but not the rule: one estimate at 0.8 x margin fails
    # TOST; that is no evidence that architecture matters
    per_comparison_se = margin / 2.93
    tested = _planted(d2, [0.8 * margin] + [0.0] * (m - 1), per_comparison_se)
    assert not tested[0].passed and rule_status(d2, tested) == STATUS_INCONCLUSIVE
    # rule-level power and still one estimate sitting on the margin: neither shown
    tested = _planted(d2, [margin] + [0.0] * (m - 1), _rule_powered_se(d2))
    assert rule_status(d2, tested) == STATUS_NEITHER


def test_d2_says_no_for_a_model_shown_outside_the_margin():
    d2 = RULES["D2"]
    m, margin = _h1(d2), d2.margin.points(1)
    se = margin / 4
    tested = _planted(d2, [0.0, 3 * margin] + [0.0] * (m - 2), se)
    # outside by 2 margins = 8 SE: shown even at the Bonferroni level over the rule's m comparisons
    assert tested[1].p_outside * m < 0.05 and rule_status(d2, tested) == d2.no
    # 1.3 margins = 1.2 SE beyond it: not shown, so not "no"
    tested = _planted(d2, [0.0, 1.3 * margin] + [0.0] * (m - 2), se)
    assert rule_status(d2, tested) != d2.no


def test_d1_tests_the_margin_itself():
    d1 = RULES["D1"]
    m, margin = _h1(d1), d1.margin.points(1)
    se = _rule_powered_se(d1)
    # a gain 1.5x the margin, powered: yes
    tested = _planted(d1, [1.5 * margin] + [0.0] * (m - 1), se)
    assert tested[0].minimum_detectable <= d1.effect_of_interest(1) and rule_status(d1, tested) == d1.yes
    # an estimate just above the margin is not a gain *over* the margin: the old rule passed it
    tested = _planted(d1, [1.05 * margin] + [0.0] * (m - 1), se)
    assert not tested[0].passed and rule_status(d1, tested) == d1.no
    # the printed detectable difference is measured from the margin
    assert tested[0].minimum_detectable == pytest.approx(margin + power_multiplier(d1) * se)


def test_a_gain_below_what_the_test_can_detect_is_inconclusive():
    d1 = RULES["D1"]
    big_se = 3 * _rule_powered_se(d1)
    tested = _planted(d1, [1.5 * d1.margin.points(1)] + [0.0] * (_h1(d1) - 1), big_se)
    assert rule_status(d1, tested) == STATUS_INCONCLUSIVE
    b1 = RULES["B1"]
    tested = _planted(b1, [0.005], 0.02)
    assert rule_status(b1, tested) == STATUS_INCONCLUSIVE


def test_a_failure_with_few_df_is_no_only_when_powered_at_those_df():
    """With finite df the SE is itself noisy, and the detectable difference (the noncentral t's shift
    divided by E[SE] / true SE, stats.detectable_shift) is wider than t_(1-a) + t_P made it. Planted:
    an SE that the old multiplier called powered at 20 df; the same failed estimate now reads
    inconclusive, not no."""
    from scipy.stats import t

    d1 = RULES["D1"]
    margin, effect = d1.margin.points(1), d1.effect_of_interest(1)
    level, df = 0.05 / d1.family_size(), 20.0
    old, exact = t.isf(level, df) + t.ppf(0.8, df), power_multiplier(d1, df)
    assert exact > old * 1.02
    se = (effect - margin) / ((old + exact) / 2)  # powered by the old multiplier, not by the exact one
    others = [0.0] * (_h1(d1) - 1)
    assert rule_status(d1, _planted(d1, [0.0] + others, se)) == d1.no  # infinite df: powered, so no
    few = _planted(d1, [0.0] + others, se, df=df)
    assert margin + old * se < effect < few[0].minimum_detectable
    assert rule_status(d1, few) == STATUS_INCONCLUSIVE


def test_a_pass_that_fails_at_half_or_double_blocks_is_fragile():
    b1 = RULES["B1"]
    (tested,) = _planted(b1, [0.2], 0.01)
    assert tested.passed and rule_status(b1, [tested]) == b1.yes
    assert rule_status(b1, [verdicts.Tested(**{**tested.__dict__, "fragile": True})]) == STATUS_FRAGILE


def test_results_inside_pre_training_make_the_verdict_not_answerable():
    h1 = RULES["H1"]
    missing = [verdicts.Tested(c, missing="inside", overlap=True) for c in h1.comparisons if c.horizon == 1]
    assert rule_status(h1, missing) == STATUS_OVERLAP
    # some made (and failed), the others inside pre-training: not shown, and says how many are blocked
    made = _planted(h1, [0.0] * len(missing), 0.001)
    mixed = made[:1] + missing[1:]
    assert rule_status(h1, mixed) == (
        f"not shown (1 of {len(missing)} planned comparisons made; {len(missing) - 1} with test periods inside pre-training)"
    )
    assert rule_status(h1, [verdicts.Tested(c, missing="no result") for c in h1.comparisons]) == STATUS_NOT_ANSWERABLE


def test_selection_ranks_by_the_earliest_validation_period():
    # fold k validates on fold k-1's test year: only fold 0's validation precedes every test day
    assert selection_score({2: [0.9], 0: [0.60, 0.62], 1: [0.9]}) == pytest.approx(0.61)
    assert selection_score({None: [0.7, 0.8]}) == pytest.approx(0.75)
    assert selection_score({}) == -math.inf and selection_score({0: [float("nan")]}) == -math.inf


def test_batch_floor_catches_dependence_the_blocks_miss():
    assert batches(np.repeat(np.arange(8), 10)) == [(10 * k, 10 * (k + 1)) for k in range(8)]
    assert len(batches(np.zeros(80, dtype=int))) == 8 and len(batches(np.repeat(np.arange(3), 30))) == 9
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.random(n) < 0.3
    slow = np.zeros(n)
    for i in range(1, n):  # AR(1) at 0.995: the score drifts for months
        slow[i] = 0.995 * slow[i - 1] + 0.1 * rng.standard_normal()
    scores = np.vstack([y + slow + rng.standard_normal(n)])
    folds = np.zeros(n, dtype=int)
    se, df = days_se_with_floor(1e-4, y, [scores], folds)
    assert se > 1e-4 and df == 7  # the batch-means SE, with batches - 1 df
    assert days_se_with_floor(1.0, y, [scores], folds) == (1.0, math.inf)


def test_the_plan_has_the_2026_family_and_the_same_architecture_transfer_comparison():
    f26, t1, b2 = RULES["F26"], RULES["T1"], RULES["B2"]
    assert {c.subject.models[0] for c in f26.comparisons} == set(FOUNDATION_2026)
    assert f26.holm and f26.family_size() == 2 * len(FOUNDATION_2026)
    assert all(c.reference.models == (REFERENCE,) and c.subject.pretrained for c in f26.comparisons)
    assert [c.subject.models for c in t1.comparisons] == [(PATCHTST_FM,), (PATCHTST_FM,)]
    assert set(FOUNDATION_2026) <= {c.subject.models[0] for c in b2.comparisons} == set(ALL_FOUNDATION)


def test_2026_verdicts_without_results_are_not_answerable_yet_and_inside_pre_training_by_default(tmp_path):
    write_synthetic(tmp_path, "patchtst", SEEDS, 0.3, 0.3)
    experiments = load_results(tmp_path).experiments
    outcomes = {o.rule.key: o for o in evaluate_plan(experiments, ReportOptions(n_resamples=100))}
    for key in ("F26", "T1"):
        assert outcomes[key].verdicts[0].status == STATUS_NOT_ANSWERABLE
    write_synthetic(tmp_path, "patchtstfm", SEEDS, 1.3, 1.3, weights=PRETRAINED)
    experiments = load_results(tmp_path).experiments
    outcomes = {o.rule.key: o for o in evaluate_plan(experiments, ReportOptions(n_resamples=100))}
    # PatchTST-FM was pre-trained long after the 2017-2018 test years: not answerable by default
    assert outcomes["T1"].verdicts[0].status == STATUS_OVERLAP
    assert outcomes["F26"].verdicts[0].status.startswith(STATUS_OVERLAP)
    opted = evaluate_plan(experiments, ReportOptions(n_resamples=100, allow_pretraining_overlap=True))
    t1 = next(o for o in opted if o.rule.key == "T1").verdicts[0]
    assert t1.status == "supported [--allow-pretraining-overlap]"


def test_report_cli_opt_in_flag_reaches_the_verdicts(tmp_path):
    from click.testing import CliRunner

    from orchestrator.report.cli import report_command

    results = tmp_path / "results"
    write_synthetic(results, "patchtst", SEEDS, 0.3, 0.3)
    write_synthetic(results, "patchtstfm", SEEDS, 1.3, 1.3, weights=PRETRAINED)
    for flags, expected in (
        ([], f"| T1 | H1 | {RULES['T1'].claim} | {STATUS_OVERLAP} |"),
        (
            ["--allow-pretraining-overlap"],
            f"| T1 | H1 | {RULES['T1'].claim} | supported [--allow-pretraining-overlap] |",
        ),
    ):
        out = tmp_path / f"out{len(flags)}"
        done = CliRunner().invoke(
            report_command, ["--results", str(results), "--out", str(out), "--bootstrap", "100", *flags]
        )
        assert done.exit_code == 0, done.output
        assert expected in (out / "report.md").read_text()
