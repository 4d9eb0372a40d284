"""The Chronos-2 job end to end through `python -m jobs run` with a tiny random-init checkpoint, its
P(hit) rules per horizon and mode, fine-tuning that never sees the test split, and missing weights."""

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL, make_spec, run_job

from jobs.chronos2 import job as chronos_job
from jobs.common.dataset import Dataset
from jobs.common.windows import sample_rows
from shared_schema import JobResult


@pytest.mark.parametrize(
    "hyper,horizon,p_method",
    [
        ({"mode": "zero-shot"}, 1, "quantiles"),
        ({"mode": "fine-tune", "finetune": "lora", "lr": 1e-3}, 3, "linear-probe"),
        ({"mode": "linear-probe", "probe_features": "quantiles", "inputs": "high"}, 1, "linear-probe"),
    ],
)
def test_job_end_to_end(bundled, tiny_weights, tmp_path, hyper, horizon, p_method):
    data_dir, manifest = bundled
    spec = make_spec(manifest, horizon=horizon, **SMALL, **hyper)
    completed = run_job(spec, data_dir, tmp_path / "out", tiny_weights)
    assert completed.returncode == 0, completed.stderr[-3000:] + completed.stdout[-1000:]
    result = JobResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    assert result.weights.kind == "random-init" and result.notes["p_method"] == p_method
    assert result.environment.packages["chronos-forecasting"].startswith("2.3")
    # what the model saw is on record
    if hyper.get("inputs") == "high":
        assert result.inputs.covariates == [] and result.inputs.covariate_role == "none"
    else:
        assert result.inputs.covariate_role == "past covariates" and len(result.inputs.covariates) == 24
        assert "high" not in result.inputs.covariates
    # the same windows every model scores, p and the point score on each
    frame = pd.read_parquet(data_dir / "sp500.parquet")
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    for split in ("val", "test"):
        rows = sample_rows(frame, split, horizon, 80)
        part = predictions[predictions["split"] == split]
        assert list(pd.to_datetime(part["date"]).dt.date) == list(pd.to_datetime(frame["date"].iloc[rows]).dt.date)
        np.testing.assert_array_equal(part["y_true"].to_numpy(), frame[f"target_h{horizon}"].to_numpy()[rows])
    assert predictions["p"].between(0, 1).all() and predictions["p"].std() > 0
    assert predictions["point_score"].notna().all() and "point_score_auc_test" in result.notes
    if hyper["mode"] == "fine-tune":
        assert result.notes["finetune"] == hyper["finetune"] and result.notes["finetune_evaluations"] >= 1
        assert result.notes["finetune_train_windows"] == 96 and result.notes["finetune_val_windows"] == 32
    if p_method == "linear-probe":
        assert result.notes["probe_l2"] in (0.01, 1.0) and result.n_train == 96


def test_fine_tuning_never_sees_the_test_split(bundled, tiny_weights, dataset):
    """Test rows scrambled (features, prices, labels): the fully fine-tuned model's validation forecasts
    and probabilities are unchanged, so nothing of the test split reached fitting or any choice."""
    manifest = bundled[1]
    spec = make_spec(manifest, horizon=1, mode="fine-tune", finetune="full", **SMALL)
    frame = dataset.frame.copy()
    test = frame["split"].to_numpy() == "test"
    columns = [*dataset.feature_names, "target_h1"]
    frame.loc[test, columns] = frame.loc[test, columns].sample(frac=1.0, random_state=0).to_numpy()
    scrambled = Dataset(manifest=dataset.manifest, frame=frame)
    first = chronos_job.run(spec, dataset, tiny_weights)
    second = chronos_job.run(spec, scrambled, tiny_weights)
    np.testing.assert_allclose(first.val.p, second.val.p, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(first.val.point_score, second.val.point_score, rtol=1e-6, atol=1e-9)
    assert first.notes["finetune_best_step"] == second.notes["finetune_best_step"]
    assert not np.allclose(first.test.point_score, second.test.point_score)  # the scramble did reach the test rows


def test_early_stopping_ends_a_diverging_run_and_keeps_the_best_weights(bundled, tiny_weights, dataset):
    spec = make_spec(
        bundled[1], mode="fine-tune", **{**SMALL, "max_steps": 40, "eval_every": 2, "patience": 1, "lr": 0.5}
    )
    output = chronos_job.run(spec, dataset, tiny_weights)
    assert output.notes["finetune_steps"] < 40
    assert output.notes["finetune_best_val_loss"] <= output.notes["finetune_first_val_loss"]
    assert np.isfinite(output.val.p).all() and np.isfinite(output.test.point_score).all()


def test_missing_weights_fail_fast_with_the_pull_command(bundled, tmp_path):
    data_dir, manifest = bundled
    empty = tmp_path / "weights"
    empty.mkdir()
    completed = run_job(make_spec(manifest, mode="zero-shot"), data_dir, tmp_path / "out", empty)
    assert completed.returncode != 0
    assert "orch weights pull chronos2" in completed.stderr.strip().splitlines()[-1]


def test_the_shared_encoder_pass_changes_no_probability(bundled, tiny_weights, dataset):
    """H3's probe on embeddings: validation and test features read from the forecast's own encoder pass
    (the fast path) or from a second encode() per window (the textbook form) give the same p and choice."""
    fast, textbook = (
        chronos_job.run(
            make_spec(bundled[1], horizon=3, mode="zero-shot", **SMALL, shared_encoder_pass=shared),
            dataset,
            tiny_weights,
        )
        for shared in (True, False)
    )
    assert fast.notes["probe_embedding_pass"] == "val/test: the forecast's own encoder pass"
    assert textbook.notes["probe_embedding_pass"] == "separate encode()"
    for split in ("val", "test"):
        np.testing.assert_allclose(getattr(fast, split).p, getattr(textbook, split).p, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(getattr(fast, split).point_score, getattr(textbook, split).point_score)
    assert fast.notes["probe_l2"] == textbook.notes["probe_l2"]
