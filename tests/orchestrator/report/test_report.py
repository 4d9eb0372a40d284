"""The report end to end: real sklearn baseline runs, synthetic results with planted truth, the CLI."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from jobs.common.runner import run_job
from orchestrator.report.build import build_report
from orchestrator.report.cli import report_command
from orchestrator.report.compare import ReportOptions
from orchestrator.report.load import load_results
from orchestrator.report.plan import FOUNDATION
from orchestrator.report.verdicts import OVERLAP_OPT_IN, STATUS_NOT_ANSWERABLE, STATUS_OVERLAP, evaluate_plan
from shared_schema import WeightsSource
from tests.support.helpers import seal_run
from tests.support.planted_results import (
    PRETRAINED,
    SEEDS,
    planted_probabilities,
    result_folder,
    spec_for,
    write_synthetic,
)

REPORT_PACKAGE = Path(__file__).resolve().parents[3] / "orchestrator" / "report"
BASELINES = {"logreg": "LOGREG", "logreg-vol": "LOGREGVOL", "gboost": "GBOOST"}
FAST = ReportOptions(n_resamples=300)
OPTED_IN = ReportOptions(n_resamples=300, allow_pretraining_overlap=True)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def real_results(tmp_path_factory, bundled_data) -> Path:
    """The real sklearn baseline jobs, quick profile, on the real bundled data, in a results layout,
    plus one broken folder (must be skipped with a reason) and one failure folder (must be ignored)."""
    data_dir, manifest = bundled_data
    results = tmp_path_factory.mktemp("real") / "results"
    # one OpenMP thread: on a shared 2-core machine spinning threads can slow gboost down 50x
    with threadpool_limits(limits=1):
        for model, tag in BASELINES.items():
            for horizon in (1, 3):
                spec = spec_for(model, horizon, 0, "quick", manifest.sha256).model_copy(
                    update={"id": f"BL-{tag}-H{horizon}"}
                )
                folder = result_folder(results, spec)
                run_job(folder / "spec.json", data_dir, folder, None)
                (folder / "job.log").write_text("ran in-process by the test fixture\n")
                seal_run(folder)
    broken = results / "gboost-h1-s0-000000000000"
    broken.mkdir()
    (broken / "result.json").write_text("{not json")
    (results / "_failed-logreg-h1-s0-111111111111").mkdir()
    return results


def test_report_from_real_quick_baseline_runs(real_results, tmp_path):
    out = tmp_path / "report"
    skipped_lines = []
    path = build_report(real_results, out, notify=skipped_lines.append)
    text = path.read_text()
    assert path == out / "report.md" and (out / "report.html").is_file()
    for model, tag in BASELINES.items():
        for horizon in (1, 3):
            assert f"| BL-{tag}-H{horizon} {model}-h{horizon} | H{horizon} | classical | FLAGGED: quick |" in text
    assert (
        len(skipped_lines) == 1
        and "gboost-h1-s0-000000000000" in skipped_lines[0]
        and "result.json: " in skipped_lines[0]
        and "Invalid JSON" in skipped_lines[0]
    )
    assert "_failed" not in text
    # the coverage table lists what has no result, with the reason for rows that can never run
    assert "| FD-23 | marketgpt-h1 | not applicable | MarketGPT (arXiv 2411.16585) generates NASDAQ ITCH" in text
    assert "| FD-26 | lens-h3 | no public weights |" in text and "| FD-19 | timer-h1 | no result |" in text
    for name in ("roc-h1", "calibration-h1", "hist-h1", "roc-h3", "calibration-h3", "hist-h3"):
        figure = out / "figures" / f"{name}.png"
        assert figure.read_bytes()[:8] == PNG_MAGIC
        assert f"figures/{name}.png" in text and f"src='figures/{name}.png'" in (out / "report.html").read_text()
    # no PatchTST and only flagged baselines: nothing may be concluded
    assert "| H1 | H1 | H1: pretrained foundation models beat from-scratch PatchTST | not answerable yet |" in text
    # with only classical baselines, B1 is open too (and says what to run)
    assert "| B1 | H1 | The validation-best deep model beats the validation-best classical baseline" in text
    assert "- **Name:** sp500" in text and "single: train < 2015-01-01 <= val < 2017-01-01 <= test" in text


def test_report_defaults_to_the_results_folder_and_ignores_its_own_output(real_results, tmp_path):
    results = tmp_path / "results"
    for folder in real_results.glob("logreg-h*"):
        shutil.copytree(folder, results / folder.name)
    for _ in range(2):  # the second run must not mistake figures/ for a result folder
        outcome = CliRunner().invoke(report_command, ["--results", str(results), "--bootstrap", "200"])
        assert outcome.exit_code == 0, outcome.output
        assert "skipped" not in outcome.output
    assert (results / "report.md").is_file() and (results / "figures" / "roc-h1.png").is_file()
    # a later report written elsewhere must not mistake the earlier one's figures/ for a result either
    outcome = CliRunner().invoke(
        report_command, ["--results", str(results), "--out", str(tmp_path / "elsewhere"), "--bootstrap", "200"]
    )
    assert outcome.exit_code == 0 and "skipped" not in outcome.output


def test_cli_empty_results_dir_is_a_one_line_error(tmp_path):
    outcome = CliRunner().invoke(report_command, ["--results", str(tmp_path)])
    assert outcome.exit_code != 0
    assert outcome.output.strip().splitlines() == [
        f"Error: no valid results in {tmp_path} (0 invalid folder(s) skipped)"
    ]
    assert not (tmp_path / "report.md").exists()


def test_tampered_predictions_are_skipped_with_the_reason(real_results, tmp_path):
    original = next(real_results.glob("logreg-h1-*"))
    copy = tmp_path / original.name
    shutil.copytree(original, copy)
    table = pq.read_table(copy / "predictions.parquet")
    shuffled = np.random.default_rng(0).permutation(table.column("p").to_numpy())
    pq.write_table(table.set_column(3, "p", pa.array(shuffled, pa.float64())), copy / "predictions.parquet")
    loaded = load_results(tmp_path)
    assert loaded.experiments == []
    assert "auc: result.json says" in loaded.skipped[0].reason  # recomputed by the check `orch validate` uses


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """TimesFM far better than PatchTST; iTransformer nearly as good as TimesFM (the issue's trap:
    a gain over PatchTST must not be credited as a gain over the best from-scratch model)."""
    results = tmp_path_factory.mktemp("planted") / "results"
    write_synthetic(results, "patchtst", SEEDS, 0.3, 0.3)
    write_synthetic(results, "patchtst-causal", SEEDS, 0.3, 0.3, noise_key="patchtst")  # identical to PatchTST
    write_synthetic(results, "itransformer", SEEDS, 1.2, 1.2)
    write_synthetic(results, "timesfm", SEEDS, 1.3, 1.35, weights=PRETRAINED)
    write_synthetic(results, "lagllama", [0], 3.0, 3.0, profile="quick", weights=WeightsSource(kind="random-init"))
    write_synthetic(results, "logreg", [0], 1.0, 1.0)
    write_synthetic(results, "gboost", [0], 1.6, 0.4)  # best on validation, worse on test
    return results


def _verdict(outcomes, key: str, horizon: int = 1):
    return next(v for o in outcomes if o.rule.key == key for v in o.verdicts if v.horizon == horizon)


def _tested(outcomes, key: str, subject: str, horizon: int = 1):
    rule = next(o for o in outcomes if o.rule.key == key)
    return next(t for t in rule.tested if t.planned.subject.models == (subject,) and t.planned.horizon == horizon)


def test_foundation_verdicts_on_test_years_inside_pre_training_need_the_opt_in(planted):
    """The bundled test years (2017-) start before TimesFM's pre-training cut-off: by default no
    foundation verdict is given; opted in, each such verdict names the flag in its status."""
    default = evaluate_plan(load_results(planted).experiments, FAST)
    for key in ("H1", "H1c", "B2", "D4"):
        assert _verdict(default, key).status.startswith(STATUS_OVERLAP), key
    assert "--test-start" in _verdict(default, "H1").next_step
    assert "test period starts before the model's pre-training cut-off" in _verdict(default, "H1").detail
    opted = evaluate_plan(load_results(planted).experiments, OPTED_IN)
    h1 = _verdict(opted, "H1")
    assert h1.status == f"supported [{OVERLAP_OPT_IN}]"
    assert h1.warnings[0].startswith(f"OPTED IN ({OVERLAP_OPT_IN})")
    # a verdict that rests on no foundation result is untouched (PatchTST-causal vs PatchTST)
    assert OVERLAP_OPT_IN not in _verdict(opted, "H2").status


def test_planted_gain_is_found_and_credited_only_against_the_model_it_beats(planted):
    outcomes = evaluate_plan(load_results(planted).experiments, OPTED_IN)
    h1 = _verdict(outcomes, "H1")
    assert h1.status.startswith("supported")
    assert "EX-TIMESFM-H1 timesfm-h1 [p] vs EX-PATCHTST-H1 patchtst-h1 [p]" in h1.detail
    assert (
        "lagllama (pretrained weights) at H1 only flagged/unusable: EX-LAGLLAMA-H1 lagllama-h1 (random-init, quick, few-seeds)"
        in h1.detail
    )
    assert _verdict(outcomes, "D1").status == f"yes: pursue [{OVERLAP_OPT_IN}]"
    # '>>' from-scratch is tested against the validation-best from-scratch model (iTransformer), not PatchTST
    pretraining = _tested(outcomes, "D4", "timesfm")
    assert pretraining.reference.model == "itransformer" and not pretraining.passed
    assert _verdict(outcomes, "D4").status != "yes: pre-training essential"
    # the Holm family is the plan's: every catalog foundation model x 2 horizons, whatever ran
    family = len(FOUNDATION) * 2
    assert "Holm p=" in _verdict(outcomes, "D4").detail and f"over {family}" in _verdict(outcomes, "D4").detail
    # power: the smallest gain this test (H0: gain <= the 5% margin) finds 80% of the time at the
    # family's Bonferroni level: the margin plus c x SE
    from orchestrator.report.stats import detectable_shift

    assert 2 <= pretraining.df < 1e6  # seed variance enters: Student's t with Welch-Satterthwaite df
    margin = 0.05 * 0.706
    expected = margin + detectable_shift(0.05 / family, 0.8, pretraining.df) * pretraining.se
    assert pretraining.minimum_detectable == pytest.approx(expected) and margin < expected < 0.2
    assert f"detectable at 80% power: {expected:.4f}" in _verdict(outcomes, "D4").detail
    # horizon 3 has no results at all
    assert _verdict(outcomes, "H1", horizon=3).status == STATUS_NOT_ANSWERABLE


def test_identical_causal_variant_is_not_declared_different(planted):
    outcomes = evaluate_plan(load_results(planted).experiments, FAST)
    causal = _tested(outcomes, "H2", "patchtst-causal")
    assert causal.difference == 0.0 and not causal.passed
    # identical predictions day by day: nothing for more test days to shrink. The seeds differ only by
    # their own day noise (no planted seed effect), which the seed part discounts as day sampling (floored at 0),
    # so SE is 0 and the verdict is a powered 'no' rather than the old seed-resampling's SE ~0.036 'inconclusive'.
    assert causal.se_days == 0.0 and causal.se == 0.0 and causal.minimum_detectable == 0.0
    assert _verdict(outcomes, "H2").status == "no detectable difference"


def test_equivalence_is_shown_only_when_the_interval_sits_inside_the_margin(tmp_path):
    from scipy.stats import norm

    for name, key in (("near", "patchtst"), ("far", None)):
        results = tmp_path / name
        write_synthetic(results, "patchtst", SEEDS, 1.0, 1.0, seedless_noise=True)
        # 'near': same noise as PatchTST, slightly more signal; 'far': equal signal, independent noise
        write_synthetic(results, "timemixer", SEEDS, 1.0, 1.02 if key else 1.0, noise_key=key, seedless_noise=True)
        outcomes = evaluate_plan(load_results(results).experiments, FAST)
        tested = _tested(outcomes, "D3", "timemixer")
        margin = 0.02 * 0.706
        z = norm.isf(0.05 / 2)  # Holm over the family of 2: the one made comparison is tested at 0.025
        inside = abs(tested.difference) + z * tested.se < margin
        assert tested.passed == inside
        assert (_verdict(outcomes, "D3").status == "yes: attention unnecessary") == inside
        assert inside == (name == "near")


def test_noise_never_passes_the_attention_rules(tmp_path):
    results = tmp_path / "results"
    write_synthetic(results, "patchtst", SEEDS, 0.0, 0.0)
    write_synthetic(results, "timemixer", SEEDS, 0.0, 0.0, noise_key="patchtst")  # identical noise: diff 0, SE 0
    write_synthetic(results, "dlinear", SEEDS, 0.0, 0.0)
    outcomes = evaluate_plan(load_results(results).experiments, FAST)
    assert _tested(outcomes, "D3", "timemixer").difference == 0.0
    assert _verdict(outcomes, "D3").status != "yes: attention unnecessary"
    assert "reference not detectably above chance" in _verdict(outcomes, "D3").detail
    assert _verdict(outcomes, "H4").status != "supported"


def test_point_forecast_arm_is_compared_on_the_same_runs(tmp_path):
    import dataclasses

    write_synthetic(tmp_path, "timesfm", SEEDS, 1.5, 1.5, weights=PRETRAINED)
    experiments = load_results(tmp_path).experiments
    # no point_score column yet (opted in: TimesFM's pre-training reaches into these test years)
    assert _verdict(evaluate_plan(experiments, OPTED_IN), "H3").status == STATUS_NOT_ANSWERABLE
    (timesfm,) = experiments
    runs = []
    for run in timesfm.runs:
        y = run.predictions["y_true"].to_numpy()
        point = planted_probabilities(y, 0.2, "point", run.result.spec.seed)
        runs.append(dataclasses.replace(run, predictions=run.predictions.assign(point_score=point)))
    with_point = dataclasses.replace(timesfm, runs=tuple(runs))
    outcomes = evaluate_plan([with_point], OPTED_IN)
    tested = _tested(outcomes, "H3", "timesfm")
    assert tested.planned.reference.column == "point_score" and tested.reference is with_point
    assert tested.passed and _verdict(outcomes, "H3").status == f"supported [{OVERLAP_OPT_IN}]"


def test_seed_variation_widens_intervals_and_few_seeds_are_kept_out(tmp_path):
    write_synthetic(tmp_path, "patchtst", SEEDS, 1.0, 1.0)
    write_synthetic(tmp_path, "itransformer", SEEDS, 1.0, 1.0, seed_spread=0.5)
    write_synthetic(tmp_path, "informer", [0, 1], 1.0, 1.0)
    experiments = load_results(tmp_path).experiments
    by_model = {e.model: e for e in experiments}
    assert by_model["informer"].flags == ["few-seeds"] and by_model["itransformer"].eligible
    assert load_results(tmp_path, min_seeds=2).experiments[0].eligible
    from orchestrator.report.compare import aligned_test_scores
    from orchestrator.report.stats import auc_interval

    def interval(model):
        aligned = aligned_test_scores([by_model[model]])
        return auc_interval(aligned.y, aligned.scores[0], aligned.counts(FAST, "x"))

    # same signal; only iTransformer's seeds differ in it: its seed variance widens the interval
    assert interval("itransformer").se > 1.5 * interval("patchtst").se
    text = build_report(tmp_path, tmp_path / "report", options=FAST).read_text()
    assert "s0: " in text and "s2: " in text  # per-seed AUCs


def test_a_report_never_mixes_two_datasets(tmp_path):
    results = tmp_path / "results"
    write_synthetic(results, "patchtst", SEEDS, 1.0, 1.0)
    write_synthetic(results, "logreg", [0], 1.0, 1.0, dataset_sha256="c" * 64)
    outcome = CliRunner().invoke(report_command, ["--results", str(results), "--bootstrap", "200"])
    assert outcome.exit_code == 2 and len(outcome.output.strip().splitlines()) == 1
    assert "results come from 2 datasets" in outcome.output and "--dataset" in outcome.output
    assert not (results / "report.md").exists()
    text = build_report(results, tmp_path / "out", options=FAST, dataset="a" * 12).read_text()
    assert "- **sha256:** " + "a" * 64 in text
    assert "Excluded (another dataset; never mixed into this report): 1 result folder(s)." in text
    assert "EX-LOGREG-H1 logreg-h1 |" not in text


def test_walk_forward_results_are_pooled_per_fold_and_incomplete_folds_flagged(tmp_path):
    # 600 test days: H1's Holm family (every catalog foundation model x 2 horizons) needs a clear gain
    write_synthetic(tmp_path, "patchtst", SEEDS, 0.5, 0.5, folds=(0, 1, 2), n_days=600)
    write_synthetic(tmp_path, "timesfm", SEEDS, 1.5, 1.5, weights=PRETRAINED, folds=(0, 1, 2), n_days=600)
    write_synthetic(tmp_path, "itransformer", SEEDS, 1.5, 1.5, folds=(0, 1), n_days=600)
    experiments = {e.model: e for e in load_results(tmp_path).experiments}
    assert experiments["timesfm"].eligible and "missing-folds" in experiments["itransformer"].flags
    assert sorted(experiments["timesfm"].fold_test_aucs()) == [0, 1, 2]
    outcomes = evaluate_plan(list(experiments.values()), OPTED_IN)
    tested = _tested(outcomes, "H1", "timesfm")
    assert tested.n_days == 600 and tested.passed
    text = build_report(tmp_path, tmp_path / "report", options=FAST).read_text()
    assert "walk-forward, 3 folds" in text and "f0: " in text and "f2: " in text


def test_synthetic_report_flags_rows_and_draws_the_forest_plot(planted, tmp_path):
    text = build_report(planted, tmp_path, options=FAST).read_text()
    assert "| EX-LAGLLAMA-H1 lagllama-h1 | H1 | foundation | FLAGGED: random-init, quick, few-seeds | 0 | 300 |" in text
    # Pretrained, tested on 2017-2018, long before TimesFM's pre-training cut-off: warned in the tables,
    # evidence only with --allow-pretraining-overlap.
    assert "| EX-TIMESFM-H1 timesfm-h1 | H1 | foundation | WARNING: pretraining-overlap | 0,1,2 | 300 |" in text
    assert "(flagged: not evidence)" in text
    assert (tmp_path / "figures" / "forest-h1.png").read_bytes()[:8] == PNG_MAGIC


def test_duplicate_seed_keeps_the_newer_run(planted, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(planted, results)
    older = next(results.glob("logreg-h1-s0-*"))
    shutil.copytree(older, results / "rerun")
    newer = seal_run(results / "rerun", env_fingerprint="another environment")  # same spec, another run key
    loaded = load_results(results)
    assert [s.folder.name for s in loaded.skipped] == [older.name]
    assert f"superseded by {newer.name}" in loaded.skipped[0].reason
    logreg = next(e for e in loaded.experiments if e.model == "logreg")
    assert len(logreg.runs) == 1


def test_variants_of_one_experiment_id_are_told_apart_by_what_differs(tmp_path):
    for mode in ("fine-tune", "zero-shot"):
        write_synthetic(
            tmp_path,
            "timesfm",
            [0, 1],
            1.0,
            1.0,
            weights=PRETRAINED,
            noise_key=mode,
            hyperparameters={"mode": mode, "max_steps": 10},
        )
    labels = [e.label for e in load_results(tmp_path).experiments]
    assert labels == ["EX-TIMESFM-H1 timesfm-h1 [mode=fine-tune]", "EX-TIMESFM-H1 timesfm-h1 [mode=zero-shot]"]


def test_report_package_imports_no_model_stack_and_not_jobs():
    forbidden = {"torch", "jax", "gluonts", "timesfm", "jobs", "lightning", "flax"}
    for source in REPORT_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not {n.split(".")[0] for n in names} & forbidden, f"{source.name} imports {names}"


def test_report_and_export_options_show_the_statistics_defaults_without_loading_scipy_or_pandas():
    """One declaration (orchestrator/report/defaults.py): the statistics read it, and the two
    commands' modules show it without importing the heavy stack (every `orch` command starts fast)."""
    from orchestrator.report import compare, defaults

    options = compare.ReportOptions()
    assert (options.n_resamples, options.block_length, options.min_seeds) == (
        defaults.DEFAULT_RESAMPLES,
        defaults.DEFAULT_BLOCK_LENGTH,
        defaults.DEFAULT_MIN_SEEDS,
    )
    assert defaults.DEFAULT_BLOCK_LENGTH is None  # chosen from the data unless --block-length is given
    probe = "import sys, orchestrator.report.cli, orchestrator.commands.export; print(sorted({'scipy', 'pandas'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    help_text = " ".join(CliRunner().invoke(report_command, ["--help"]).output.split())
    assert (
        f"[default: {defaults.DEFAULT_RESAMPLES};" in help_text
        and f"[default: {defaults.DEFAULT_MIN_SEEDS};" in help_text
    )


def test_holm_families_are_the_plans_not_the_results_folders(planted, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(planted, results)
    before = _tested(evaluate_plan(load_results(results).experiments, FAST), "H1", "timesfm")
    write_synthetic(results, "informer", SEEDS, 0.5, 0.5)  # more results, same plan
    write_synthetic(results, "dlinear", SEEDS, 0.6, 0.6)
    after = _tested(evaluate_plan(load_results(results).experiments, FAST), "H1", "timesfm")
    assert before.p_holm == after.p_holm and before.p == after.p
    assert before.p_holm == pytest.approx(min(1.0, 6 * before.p))  # the smallest of 6 planned p-values
