"""'Not answerable yet' verdicts name the command that would answer them, with a time estimate
from past full-profile runs only (real logreg runs in the sklearn venv)."""

from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.report.compare import ReportOptions
from orchestrator.report.load import load_results
from orchestrator.report.next_steps import answering_step, full_run_estimate
from orchestrator.report.verdicts import STATUS_NOT_ANSWERABLE, evaluate_plan


def orch(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_not_answerable_verdicts_name_the_command_and_estimate_from_full_runs(orch_home):
    results = orch_home["ORCH_RESULTS_DIR"]
    assert orch("run", "logreg-h1").exit_code == 0
    quick_only = load_results(results).experiments
    assert full_run_estimate(1, quick_only).endswith("no full-profile run timed yet, so no estimate")

    assert orch("run", "logreg-h1", "--profile", "full").exit_code == 0
    experiments = load_results(results).experiments
    [full] = [e for e in experiments if e.spec.profile == "full"]
    minutes = full.runs[0].result.timings.total_seconds * 3 / 60
    estimate = full_run_estimate(1, experiments)
    assert estimate.startswith(f"about {minutes:.0f} min for the 1 experiment(s) with a timed full-profile run")
    assert "not timed yet" in estimate

    verdicts = [v for outcome in evaluate_plan(experiments, ReportOptions(n_resamples=50)) for v in outcome.verdicts]
    open_h1 = [v for v in verdicts if v.status == STATUS_NOT_ANSWERABLE and v.horizon == 1]
    assert open_h1 and all("`orch run --all --horizon 1 --profile full --seeds 3`" in v.detail for v in open_h1)
    foundation = next(v for v in open_h1 if v.rule == "H1")
    assert "`orch weights pull lag-llama`" in foundation.detail
    assert answering_step(1, experiments) in next(v for v in open_h1 if v.rule == "H4").detail
