"""PatchTST-FM end to end through `python -m jobs run` with a random-init checkpoint in the published layout."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_spec, run_job

from jobs.common.windows import sample_rows
from shared_schema import JobResult

SMALL = {
    "max_steps": 3,
    "batch_size": 4,
    "eval_every": 1,
    "patience": 1,
    "max_train_windows": 64,
    "max_val_windows": 32,
}


def spec_for(manifest, horizon: int, **hyper):
    return make_spec(
        manifest, model="patchtstfm", model_id="FD-31" if horizon == 1 else "FD-32", horizon=horizon, **hyper
    )


@pytest.mark.parametrize(
    "mode,horizon,method",
    [("fine-tune", 1, "1 - F(c)"), ("zero-shot", 3, "quantile features"), ("linear-probe", 1, "last block")],
)
def test_mode_end_to_end(bundled, patchtstfm_weights, tmp_path, mode, horizon, method):
    data_dir, manifest = bundled
    completed = run_job(spec_for(manifest, horizon, mode=mode, **SMALL), data_dir, tmp_path / "out", patchtstfm_weights)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = JobResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    assert result.weights.kind == "random-init" and method in result.notes["p_method"]
    assert result.environment.packages["granite-tsfm"] == "0.3.11" and result.environment.packages["torch"].startswith(
        "2.13"
    )
    assert result.inputs.covariate_role == "none" and result.inputs.context_length == 80
    frame = pd.read_parquet(data_dir / "sp500.parquet")
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    for split in ("val", "test"):
        rows = sample_rows(frame, split, horizon, 80)
        part = predictions[predictions["split"] == split]
        assert len(part) == len(rows) == result.metrics[split].n
        np.testing.assert_array_equal(part["y_true"].to_numpy(), frame[f"target_h{horizon}"].to_numpy()[rows])
    assert predictions["p"].between(0, 1).all() and predictions["point_score"].notna().all()
    if mode == "fine-tune":
        assert 1 <= result.notes["finetune_steps"] <= 3 and result.notes["finetune_val_windows"] == 32
        assert result.timings.train_seconds > 0 and result.n_train == 64
    if mode == "linear-probe" or horizon > 1:
        assert result.notes["probe_l2"] in (0.01, 1.0) and result.n_train == 64


def test_missing_weights_fail_fast_with_the_pull_command(bundled, tmp_path):
    data_dir, manifest = bundled
    empty = tmp_path / "weights"
    empty.mkdir()
    completed = run_job(spec_for(manifest, 1, mode="zero-shot"), data_dir, tmp_path / "out", empty)
    assert completed.returncode != 0
    assert "orch weights pull patchtstfm" in completed.stderr.strip().splitlines()[-1]
