"""The report end to end: real sklearn baseline runs, synthetic results with planted truth, the CLI."""

import ast
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.io import predictions_table, write_outputs
from jobs.common.runner import build_result, run_job
from orchestrator.data.splits import BUNDLED_SPLITS
from orchestrator.paths import DEFAULT_DATASET
from orchestrator.report.build import build_report
from orchestrator.report.compare import ReportOptions
from orchestrator.report.cli import report_command
from orchestrator.report.compare import OUTCOME_SEED_NOISE, ROLE_PATCHTST, analyse
from orchestrator.report.load import load_results
from orchestrator.report.verdicts import STATUS_NOT_ANSWERABLE, decision_table, hypothesis_verdicts
from shared_schema import ExperimentSpec, WeightsSource

REPORT_PACKAGE = Path(__file__).resolve().parents[1] / "orchestrator" / "report"
BASELINES = {"logreg": "LOGREG", "logreg-vol": "LOGREGVOL", "gboost": "GBOOST"}
FAST = ReportOptions(n_resamples=300)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def spec_for(model: str, horizon: int, seed: int, profile: str, dataset_sha256: str, env: str = "sklearn") -> ExperimentSpec:
    return ExperimentSpec(
        id=f"EX-{model.upper()}-H{horizon}",
        slug=f"{model}-h{horizon}",
        model=model,
        env=env,
        horizon=horizon,
        threshold=0.01,
        context_length=64,
        split_dates=BUNDLED_SPLITS,
        dataset={"name": DEFAULT_DATASET, "sha256": dataset_sha256},
        seed=seed,
        profile=profile,
    )


def result_folder(results: Path, spec: ExperimentSpec, weights_kind: str = "") -> Path:
    """results/<slug>-s<seed>-<key12>, the layout `orch run` writes."""
    key = hashlib.sha256((spec.model_dump_json() + weights_kind).encode()).hexdigest()[:12]
    folder = results / f"{spec.slug}-s{spec.seed}-{key}"
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(spec.model_dump_json(indent=2))
    return folder


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
                spec = spec_for(model, horizon, 0, "quick", manifest.sha256).model_copy(update={"id": f"BL-{tag}-H{horizon}"})
                folder = result_folder(results, spec)
                run_job(folder / "spec.json", data_dir, folder, None)
                (folder / "job.log").write_text("ran in-process by the test fixture\n")
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
    assert len(skipped_lines) == 1 and "gboost-h1-s0-000000000000" in skipped_lines[0] and "invalid result.json" in skipped_lines[0]
    assert "_failed" not in text
    # the coverage table lists what has no result, with the reason for rows that can never run
    assert "| FD-23 | marketgpt-h1 | not applicable | MarketGPT (arXiv 2411.16585) generates NASDAQ ITCH" in text
    assert "| FD-26 | lens-h3 | no public weights |" in text and "| FD-19 | timer-h1 | no result |" in text
    for name in ("roc-h1", "calibration-h1", "hist-h1", "roc-h3", "calibration-h3", "hist-h3"):
        figure = out / "figures" / f"{name}.png"
        assert figure.read_bytes()[:8] == PNG_MAGIC
        assert f"figures/{name}.png" in text and f"src='figures/{name}.png'" in (out / "report.html").read_text()
    # no PatchTST and only flagged baselines: nothing may be concluded
    assert "| H1: pretrained foundation models beat from-scratch PatchTST | H1 | not answerable yet |" in text
    assert "only smoke/quick/random-init/single-seed results — excluded: BL-GBOOST-H1 gboost-h1 (quick)" in text


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
    outcome = CliRunner().invoke(report_command, ["--results", str(results), "--out", str(tmp_path / "elsewhere"), "--bootstrap", "200"])
    assert outcome.exit_code == 0 and "skipped" not in outcome.output


def test_cli_empty_results_dir_is_a_one_line_error(tmp_path):
    outcome = CliRunner().invoke(report_command, ["--results", str(tmp_path)])
    assert outcome.exit_code != 0
    assert outcome.output.strip().splitlines() == [f"Error: no valid results in {tmp_path} (0 invalid folder(s) skipped)"]
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


# ---- synthetic results with planted truth -------------------------------------------------------

VAL_DAYS = pd.bdate_range("2015-01-02", periods=300).date
TEST_DAYS = pd.bdate_range("2017-01-03", periods=300).date
SYNTHETIC_SHA = "a" * 64


def _labels(days: np.ndarray, seed: int) -> np.ndarray:
    """Overlapping 3-day windows, as in the real target."""
    shocks = np.random.default_rng(seed).standard_normal(len(days) + 3)
    return (np.lib.stride_tricks.sliding_window_view(shocks[1:], 3)[: len(days)].max(axis=1) > 1.2).astype(np.int8)


Y_VAL, Y_TEST = _labels(VAL_DAYS, 1), _labels(TEST_DAYS, 2)


def _probabilities(y: np.ndarray, signal: float, noise_key: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, int(hashlib.sha256(noise_key.encode()).hexdigest()[:8], 16), len(y)])
    return 1.0 / (1.0 + np.exp(-(signal * y + rng.standard_normal(len(y)) - 1.0)))


def write_synthetic(results: Path, model: str, seeds, val_signal: float, test_signal: float, profile: str = "full",
                    weights: WeightsSource = WeightsSource(kind="from-scratch"), noise_key: str | None = None,
                    hyperparameters: dict | None = None) -> None:
    """A result whose probabilities carry a planted amount of signal (AUC = Phi(signal / sqrt 2))."""
    for seed in seeds:
        spec = spec_for(model, 1, seed, profile, SYNTHETIC_SHA, env="torch").model_copy(update={"hyperparameters": hyperparameters or {}})
        key = noise_key or model
        output = ModelOutput(
            val=SplitPredictions(VAL_DAYS, Y_VAL, _probabilities(Y_VAL, val_signal, key, seed)),
            test=SplitPredictions(TEST_DAYS, Y_TEST, _probabilities(Y_TEST, test_signal, key, seed)),
            n_parameters=1000,
            n_train=2000,
            weights=weights,
            train_seconds=1.0,
            predict_seconds=0.1,
        )
        folder = result_folder(results, spec, weights.kind)
        write_outputs(folder, build_result(spec, output, 1.5), predictions_table(output))


PRETRAINED = WeightsSource(kind="pretrained", hub_id="google/timesfm-2.5", revision="main", sha256="b" * 64)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("planted") / "results"
    write_synthetic(results, "patchtst", [0, 1, 2], 0.8, 0.8)
    write_synthetic(results, "patchtst-causal", [0, 1, 2], 0.8, 0.8, noise_key="patchtst")  # identical to PatchTST
    write_synthetic(results, "timesfm", [0, 1, 2], 2.0, 2.0, weights=PRETRAINED)
    write_synthetic(results, "lagllama", [0], 3.0, 3.0, profile="quick", weights=WeightsSource(kind="random-init"))
    write_synthetic(results, "logreg", [0, 1], 1.0, 1.0)
    write_synthetic(results, "gboost", [0, 1], 1.6, 0.4)  # best on validation, worse on test
    return results


def _verdict(verdicts, topic_start: str, horizon: int = 1):
    return next(v for v in verdicts if v.topic.startswith(topic_start) and v.horizon == horizon)


def test_planted_foundation_gain_is_found_and_random_init_is_kept_out(planted):
    analyses = analyse(load_results(planted).experiments, FAST)
    hypotheses, decisions = hypothesis_verdicts(analyses), decision_table(analyses)
    h1 = _verdict(hypotheses, "H1")
    assert h1.status == "supported"
    assert "EX-TIMESFM-H1 timesfm-h1 vs EX-PATCHTST-H1 patchtst-h1" in h1.detail
    assert "Not used (flagged): EX-LAGLLAMA-H1 lagllama-h1 (random-init, quick, single-seed)" in h1.detail
    pursue = _verdict(decisions, "Any model")
    assert pursue.status.startswith("yes: pursue") and "TIMESFM" in pursue.status and "LAGLLAMA" not in pursue.status
    assert _verdict(decisions, "Foundation").status == "yes: pre-training essential"
    # a far better ranking does not make badly calibrated probabilities 'suit' classification
    h3 = _verdict(hypotheses, "H3")
    assert h3.status == "inconclusive" and "calibrated worse than the typical classifier" in h3.detail
    # horizon 3 has no results at all
    assert _verdict(hypotheses, "H1", horizon=3).status == STATUS_NOT_ANSWERABLE


def test_identical_causal_variant_is_not_declared_different(planted):
    analyses = analyse(load_results(planted).experiments, FAST)
    h1 = analyses[0]
    causal = next(c for c in h1.comparisons_with(ROLE_PATCHTST) if c.subject.model == "patchtst-causal")
    assert causal.difference.interval.estimate == 0.0 and causal.outcome == OUTCOME_SEED_NOISE
    assert _verdict(hypothesis_verdicts(analyses), "H2").status == "no detectable difference"


def test_best_classical_baseline_is_chosen_on_validation_not_test(planted):
    h1 = analyse(load_results(planted).experiments, FAST)[0]
    by_model = {s.experiment.model: s for s in h1.summaries}
    assert by_model["logreg"].test_auc.estimate > by_model["gboost"].test_auc.estimate
    assert h1.baselines.classical.model == "gboost"


def test_only_flagged_foundation_results_are_not_answerable(tmp_path):
    results = tmp_path / "results"
    write_synthetic(results, "patchtst", [0, 1], 0.8, 0.8)
    write_synthetic(results, "lagllama", [0], 3.0, 3.0, profile="quick", weights=WeightsSource(kind="random-init"))
    write_synthetic(results, "timesfm", [0, 1], 3.0, 3.0, profile="quick", weights=PRETRAINED)
    analyses = analyse(load_results(results).experiments, FAST)
    h1 = _verdict(hypothesis_verdicts(analyses), "H1")
    assert h1.status == STATUS_NOT_ANSWERABLE
    assert h1.detail.startswith("only smoke/quick/random-init/single-seed results — excluded:")
    assert "EX-LAGLLAMA-H1 lagllama-h1 (random-init, quick, single-seed)" in h1.detail
    assert "EX-TIMESFM-H1 timesfm-h1 (quick)" in h1.detail
    assert _verdict(decision_table(analyses), "Any model").status == STATUS_NOT_ANSWERABLE


def test_synthetic_report_flags_rows_and_draws_the_forest_plot(planted, tmp_path):
    text = build_report(planted, tmp_path, FAST).read_text()
    assert "| EX-LAGLLAMA-H1 lagllama-h1 | H1 | foundation | FLAGGED: random-init, quick, single-seed | 0 | 300 |" in text
    assert "| EX-TIMESFM-H1 timesfm-h1 | H1 | foundation | — | 0,1,2 | 300 |" in text
    assert "(flagged: not evidence)" in text
    assert (tmp_path / "figures" / "forest-h1.png").read_bytes()[:8] == PNG_MAGIC


def test_duplicate_seed_keeps_the_newer_run(planted, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(planted, results)
    older = next(results.glob("logreg-h1-s0-*"))
    shutil.copytree(older, results / "logreg-h1-s0-ffffffffffff")
    os.utime(older / "result.json", (0, 0))
    loaded = load_results(results)
    assert [s.folder.name for s in loaded.skipped] == [older.name]
    assert "superseded by logreg-h1-s0-ffffffffffff" in loaded.skipped[0].reason
    logreg = next(e for e in loaded.experiments if e.model == "logreg")
    assert len(logreg.runs) == 2


def test_variants_of_one_experiment_id_are_told_apart_by_what_differs(tmp_path):
    for mode in ("fine-tune", "zero-shot"):
        write_synthetic(tmp_path, "timesfm", [0, 1], 1.0, 1.0, weights=PRETRAINED, noise_key=mode,
                        hyperparameters={"mode": mode, "max_steps": 10})
    labels = [e.label for e in load_results(tmp_path).experiments]
    assert labels == ["EX-TIMESFM-H1 timesfm-h1 [mode=fine-tune]", "EX-TIMESFM-H1 timesfm-h1 [mode=zero-shot]"]


def test_report_package_imports_no_model_stack_and_not_jobs():
    forbidden = {"torch", "jax", "gluonts", "timesfm", "jobs", "lightning", "flax"}
    for source in REPORT_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not {n.split(".")[0] for n in names} & forbidden, f"{source.name} imports {names}"


def test_cli_defaults_mirror_the_statistics_module():
    from orchestrator.report import cli as report_cli
    from orchestrator.report import stats

    assert (report_cli.DEFAULT_RESAMPLES, report_cli.DEFAULT_BLOCK_LENGTH) == (stats.DEFAULT_RESAMPLES, stats.DEFAULT_BLOCK_LENGTH)
