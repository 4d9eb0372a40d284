"""Verdicts tell "no" from "cannot tell": planted results where the truth and the power are known."""

import numpy as np
import pytest
from scipy.stats import norm

from orchestrator.report import load as report_load
from orchestrator.report.build import build_report
from orchestrator.report.compare import ReportOptions
from orchestrator.report.load import load_results
from orchestrator.report.plan import CLASSICAL_BASELINES, FOUNDATION, FROM_SCRATCH, PLAN
from orchestrator.report.verdicts import STATUS_INCONCLUSIVE, evaluate_plan, power_multiplier, requirement
from shared_schema import WeightsSource
from tests.support.planted_results import PRETRAINED, SEEDS, write_synthetic

FAST = ReportOptions(n_resamples=300)
# The planted foundation results are tested on 2017-2018, inside their pre-training: counted only when opted in.
OPTED_IN = ReportOptions(n_resamples=300, allow_pretraining_overlap=True)


def _signal(auc: float) -> float:
    """The planted signal whose AUC is `auc` (AUC = Phi(signal / sqrt 2) for unit Gaussian noise)."""
    return float(np.sqrt(2.0) * norm.ppf(auc))


def _verdict(outcomes, key: str, horizon: int = 1):
    return next(v for o in outcomes if o.rule.key == key for v in o.verdicts if v.horizon == horizon)


def _rule(key: str):
    return next(rule for rule in PLAN if rule.key == key)


@pytest.fixture(scope="module")
def identical(tmp_path_factory):
    """Every planned deep model equally good (same signal, independent noise), 300 test days."""
    results = tmp_path_factory.mktemp("identical") / "results"
    for model in dict.fromkeys(FOUNDATION + FROM_SCRATCH):
        weights = PRETRAINED if model in FOUNDATION else WeightsSource(kind="from-scratch")
        write_synthetic(results, model, SEEDS, 1.0, 1.0, weights=weights)
    return results


def test_identical_models_read_inconclusive_never_no(identical):
    outcomes = evaluate_plan(load_results(identical).experiments, OPTED_IN)
    for key in ("D2", "D3"):
        verdict = _verdict(outcomes, key)
        assert verdict.status.startswith(STATUS_INCONCLUSIVE), (key, verdict.detail)
        # the deciding comparison's numbers: it could not have shown equivalence with 80% power
        deciding = verdict.deciding
        assert deciding.minimum_detectable > _rule(key).effect_of_interest(1)
        assert "UNDERPOWERED: needs SE <= " in verdict.detail and "test days" in verdict.detail
    for outcome in outcomes:
        for verdict in outcome.verdicts:
            assert verdict.status != outcome.rule.no, (outcome.rule.key, verdict.detail)


def test_tost_power_condition_is_the_derived_one():
    """TOST at level a has power 2 Phi(m/SE - z_(1-a)) - 1 at true difference 0. D2 needs all of its m
    comparisons per horizon to pass, so each gets power 0.8^(1/m) and the rule as a whole 80%:
    m_margin = (z_(1-a) + z_((1 + 0.8^(1/m))/2)) SE."""
    d2 = _rule("D2")
    m = sum(c.horizon == 1 for c in d2.comparisons)
    each = 0.8 ** (1 / m)
    c = power_multiplier(d2)
    assert m > 5 and c == pytest.approx(norm.isf(0.05) + norm.ppf((1 + each) / 2))
    margin, se = d2.margin.points(1), d2.margin.points(1) / c
    assert (2 * norm.cdf(margin / se - norm.isf(0.05)) - 1) ** m == pytest.approx(0.8)
    rng = np.random.default_rng(0)
    estimates = rng.normal(0.0, se, (20_000, m))  # independent comparisons, every model identical
    shown = (estimates - norm.isf(0.05) * se > -margin) & (estimates + norm.isf(0.05) * se < margin)
    assert shown.all(axis=1).mean() == pytest.approx(0.8, abs=0.01)


def _against_logreg(tmp_path, gain: float, n_days: int):
    results = tmp_path / f"gain-{gain}"
    write_synthetic(results, "logreg", [0], _signal(0.76), _signal(0.76), n_days=n_days, seedless_noise=True)
    write_synthetic(results, "patchtst", SEEDS, _signal(0.76 + gain), _signal(0.76 + gain), n_days=n_days)
    return evaluate_plan(load_results(results).experiments, FAST)


def test_a_large_gain_over_logistic_regression_is_found(tmp_path):
    outcomes = _against_logreg(tmp_path, 0.06, 4000)
    b1 = _verdict(outcomes, "B1")
    assert b1.status == "supported", b1.detail
    assert b1.deciding.reference.model == "logreg" and b1.deciding.subject.model == "patchtst"
    assert 0.04 < b1.deciding.difference < 0.08 and b1.deciding.low > 0
    assert "sensitivity: half blocks" in b1.detail and "double blocks" in b1.detail
    assert "deterministic" not in b1.detail  # the deep side has 3 seeds
    assert b1.deciding.n_seeds == 3 and b1.deciding.n_days == 4000


def test_a_small_gain_over_logistic_regression_is_inconclusive(tmp_path):
    outcomes = _against_logreg(tmp_path, 0.01, 4000)
    b1 = _verdict(outcomes, "B1")
    assert b1.status == STATUS_INCONCLUSIVE, b1.detail
    t = b1.deciding
    need = requirement(_rule("B1"), t)
    # more test days at the same SE scaling would make the detectable difference the effect of interest
    assert need.days > t.n_days
    assert power_multiplier(_rule("B1"), t.df) * np.sqrt(
        t.se_days**2 * t.n_days / need.days + (t.se**2 - t.se_days**2)
    ) == pytest.approx(_rule("B1").effect_of_interest(1))
    assert b1.next_step.startswith("`orch run") or "test days" in b1.next_step


def test_classical_baselines_only_leave_b1_not_answerable_and_say_deterministic(tmp_path):
    for model in CLASSICAL_BASELINES:
        write_synthetic(tmp_path, model, [0], 1.0, 1.0)
    text = build_report(tmp_path, tmp_path / "report", options=FAST).read_text()
    assert "| EX-LOGREG-H1 logreg-h1 | H1 | classical | — | deterministic (no seed) |" in text
    assert "| B1 | H1 |" in text


def test_warning_flags_keep_results_in_verdicts_and_are_named(tmp_path, monkeypatch):
    """Generic over load.WARNING_FLAGS: a result carrying such a flag stays in, and its verdict says so."""
    monkeypatch.setattr(report_load, "WARNING_FLAGS", report_load.WARNING_FLAGS | {"quick"})
    write_synthetic(tmp_path, "patchtst", SEEDS, 0.3, 0.3)
    write_synthetic(tmp_path, "timesfm", SEEDS, 1.5, 1.5, weights=PRETRAINED, profile="quick")
    outcomes = evaluate_plan(load_results(tmp_path).experiments, OPTED_IN)
    h1 = _verdict(outcomes, "H1")
    assert h1.status == "supported [--allow-pretraining-overlap]"
    assert h1.warnings == (
        "OPTED IN (--allow-pretraining-overlap): test period inside the pre-training of EX-TIMESFM-H1 timesfm-h1",
        "rests on EX-TIMESFM-H1 timesfm-h1 flagged quick, pretraining-overlap",
    )


def test_one_seed_verdicts_are_warned_about_in_the_first_lines(tmp_path):
    write_synthetic(tmp_path, "patchtst", [0], 0.3, 0.3)
    write_synthetic(tmp_path, "timesfm", [0], 1.5, 1.5, weights=PRETRAINED)
    text = build_report(
        tmp_path,
        tmp_path / "report",
        options=ReportOptions(n_resamples=300, min_seeds=1, allow_pretraining_overlap=True),
    ).read_text()
    first_lines = text.splitlines()[:5]
    assert any(
        line.startswith("WARNING: ") and "fewer than 3 seeds" in line and "with 1 seed" in line for line in first_lines
    )


def test_summary_table_is_the_first_table_with_one_row_per_rule_and_horizon(identical, tmp_path):
    build_report(identical, tmp_path, options=OPTED_IN)
    page = (tmp_path / "report.html").read_text()
    body = page[page.index("<body>") :]
    first_table = body.index("<table")
    assert body[first_table:].startswith("<table id='verdict-summary'>")
    assert body.index("<h2>Dataset</h2>") < first_table
    summary = body[first_table : body.index("</table>", first_table)]
    rows = summary.count("<tr>") - 1  # minus the header row
    assert rows == sum(len({c.horizon for c in rule.comparisons}) for rule in PLAN)
    assert f"<td>{STATUS_INCONCLUSIVE}</td>" in summary
    assert "<details><summary>D2 H1: inconclusive (underpowered)" in body
    # every image is referenced relative to the report folder and exists there
    import re

    for source in re.findall(r"<img src='([^']+)'", body):
        assert (tmp_path / source).is_file()


def test_bootstrap_progress_bar_only_on_a_terminal(tmp_path):
    import io

    from rich.console import Console

    write_synthetic(tmp_path / "results", "patchtst", SEEDS, 0.3, 0.3)
    for terminal in (True, False):
        screen = io.StringIO()
        build_report(
            tmp_path / "results",
            tmp_path / f"report-{terminal}",
            options=FAST,
            console=Console(file=screen, force_terminal=terminal, width=120),
        )
        shown = screen.getvalue()
        assert ("bootstrap" in shown and f"/{2 + len(PLAN)}" in shown) if terminal else shown == ""


def test_requirement_follows_the_stated_se_scaling():
    """SE^2 = V_days n0/n + V_seeds k0/k: solve for n at k0, for k at n0, and for both."""
    from orchestrator.report.verdicts import Tested

    b1 = _rule("B1")
    c = power_multiplier(b1)
    target = b1.effect_of_interest(1) / c
    base = Tested(b1.comparisons[0], n_days=1000, n_folds=4, n_seeds=3)
    # small seed part: more days alone suffice, and so do more seeds
    easy = requirement(b1, base.__class__(**{**base.__dict__, "se": 1.1 * target, "se_days": 0.8 * target}))
    seed_var, day_var = (1.21 - 0.64) * target**2, 0.64 * target**2
    assert easy.days == pytest.approx(1000 * day_var / (target**2 - seed_var))
    assert easy.folds == pytest.approx(easy.days / 250)
    assert easy.seeds == pytest.approx(3 * seed_var / (target**2 - day_var)) and easy.combined is None
    # both parts alone too large: the fewest seeds (of 5, 10, 20, 50) with which more days reach it
    hard = requirement(b1, base.__class__(**{**base.__dict__, "se": 2.0 * target, "se_days": 1.5 * target}))
    assert hard.days == float("inf") and hard.seeds == float("inf")
    seeds, days = hard.combined
    assert seeds == 10 and days == pytest.approx(1000 * 2.25 / (1 - 1.75 * 3 / 10))  # 5 seeds: 1 - 1.75 x 3/5 < 0
