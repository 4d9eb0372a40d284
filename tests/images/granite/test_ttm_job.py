"""TTM end to end through `python -m jobs run` with a random-init checkpoint in the published layout."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_spec, run_job

from jobs.common.windows import sample_rows
from shared_schema import JobResult

SMALL = {
    "max_steps": 3,
    "batch_size": 8,
    "eval_every": 1,
    "patience": 1,
    "max_train_windows": 128,
    "max_val_windows": 32,
}


@pytest.mark.parametrize("mode,horizon", [("fine-tune", 3), ("zero-shot", 1), ("linear-probe", 3)])
def test_mode_end_to_end(bundled, ttm_weights, tmp_path, mode, horizon):
    data_dir, manifest = bundled
    spec = make_spec(
        manifest, model="ttm", model_id="FD-33" if horizon == 1 else "FD-34", horizon=horizon, mode=mode, **SMALL
    )
    completed = run_job(spec, data_dir, tmp_path / "out", ttm_weights)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = JobResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    assert result.weights.kind == "random-init" and result.n_train == 128
    if mode == "fine-tune":
        assert result.inputs.covariate_role == "exogenous channels" and len(result.inputs.covariates) == 24
        assert 1 <= result.notes["finetune_steps"] <= 3 and result.notes["calibration_in_sample"] is True
    else:
        assert result.inputs.covariate_role == "none"
    assert ("probe_l2" in result.notes) == (mode == "linear-probe")
    frame = pd.read_parquet(data_dir / "sp500.parquet")
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    for split in ("val", "test"):
        rows = sample_rows(frame, split, horizon, 80)
        part = predictions[predictions["split"] == split]
        assert len(part) == len(rows) == result.metrics[split].n
        np.testing.assert_array_equal(part["y_true"].to_numpy(), frame[f"target_h{horizon}"].to_numpy()[rows])
    assert predictions["p"].between(0, 1).all() and predictions["point_score"].notna().all()
