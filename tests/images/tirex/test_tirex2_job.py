"""TiRex-2 end to end through `python -m jobs run` with a random-init checkpoint in the published
layout: every mode and horizon, what the model saw, the probability rules, missing weights."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_spec, run_job

from jobs.common.windows import sample_rows
from shared_schema import JobResult, WeightsManifest

SMALL = {"max_train_windows": 128, "pad_context": False}


def tirex2_spec(manifest, horizon: int, **hyper):
    return make_spec(manifest, model="tirex2", model_id="FD-29" if horizon == 1 else "FD-30", horizon=horizon, **hyper)


@pytest.mark.parametrize(
    "mode,horizon,method",
    [
        ("zero-shot", 1, "1 - F(c)"),
        ("zero-shot", 3, "linear probe on quantile features"),
        ("linear-probe", 1, "embedding"),
    ],
)
def test_mode_end_to_end(bundled, tirex2_weights, tmp_path, mode, horizon, method):
    data_dir, manifest = bundled
    spec = tirex2_spec(manifest, horizon, mode=mode, **SMALL)
    completed = run_job(spec, data_dir, tmp_path / "out", tirex2_weights)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = JobResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    weights = WeightsManifest.model_validate_json((tirex2_weights / "tirex2" / "weights.json").read_text())
    assert result.weights.kind == "random-init" and result.weights.sha256 == weights.files["model.safetensors"]
    assert result.notes["mode"] == mode and method in result.notes["p_method"]
    assert result.environment.packages["tirex-2"] == "0.4.0"
    # what the model saw: the target series and the 24 other features as past covariates
    assert result.inputs.covariate_role == "past covariates" and len(result.inputs.covariates) == 24
    assert "high" not in result.inputs.covariates and result.inputs.context_length == 80
    # the same sample rows and labels as every other model
    frame = pd.read_parquet(data_dir / "sp500.parquet")
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    for split in ("val", "test"):
        rows = sample_rows(frame, split, horizon, 80)
        part = predictions[predictions["split"] == split]
        assert len(part) == len(rows) == result.metrics[split].n
        np.testing.assert_array_equal(part["y_true"].to_numpy(), frame[f"target_h{horizon}"].to_numpy()[rows])
    assert predictions["p"].between(0, 1).all() and predictions["p"].std() > 0
    assert predictions["point_score"].notna().all() and predictions["point_score"].std() > 0
    probed = mode == "linear-probe" or horizon > 1
    if probed:
        assert result.n_train == 128
    else:  # nothing was fitted: the count of training windows available, said so
        assert result.n_train > 1000 and "n_train_note" in result.notes
    assert ("probe_l2" in result.notes) == probed


def test_missing_weights_fail_fast_with_the_pull_command(bundled, tmp_path):
    data_dir, manifest = bundled
    empty = tmp_path / "weights"
    empty.mkdir()
    completed = run_job(tirex2_spec(manifest, 1), data_dir, tmp_path / "out", empty)
    assert completed.returncode != 0
    assert "orch weights pull tirex2" in completed.stderr.strip().splitlines()[-1]
