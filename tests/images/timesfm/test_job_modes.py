"""Each mode end to end through `python -m jobs run` with a random-init checkpoint; missing weights."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_spec, run_job

from jobs.common.windows import sample_rows
from jobs.timesfm.weights import checkpoint_digest
from shared_schema import JobResult, WeightsManifest

SMALL = {
    "max_steps": 4,
    "eval_every": 2,
    "max_train_windows": 64,
    "max_val_loss_windows": 32,
    "probe_l2": [0.01, 1.0],
    "probe_steps": 50,
}


@pytest.mark.parametrize("mode,horizon", [("zero-shot", 1), ("fine-tune", 3), ("linear-probe", 1)])
def test_mode_end_to_end(bundled, small_weights, tmp_path, mode, horizon):
    data_dir, manifest = bundled
    hyper = {"mode": mode, **{k: v for k, v in SMALL.items() if mode == "linear-probe" or not k.startswith("probe")}}
    spec = make_spec(manifest, horizon=horizon, **hyper)
    completed = run_job(spec, data_dir, tmp_path / "out", small_weights)
    assert completed.returncode == 0, completed.stderr[-2000:] + completed.stdout[-2000:]
    result = JobResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    weights = WeightsManifest.model_validate_json((small_weights / "timesfm" / "weights.json").read_text())
    assert result.weights.kind == "random-init"
    assert result.weights.sha256 == checkpoint_digest(dict(weights.files))
    assert result.notes["mode"] == mode and result.spec.horizon == horizon
    assert result.environment.packages["timesfm"] != "absent" and result.environment.packages["jax"] != "absent"
    # the same sample rows as every other model
    frame = pd.read_parquet(data_dir / "sp500.parquet")
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    for split in ("val", "test"):
        rows = sample_rows(frame, split, horizon, 80)
        part = predictions[predictions["split"] == split]
        assert len(part) == len(rows) == result.metrics[split].n
        assert list(pd.to_datetime(part["date"]).dt.date) == list(pd.to_datetime(frame["date"].iloc[rows]).dt.date)
        np.testing.assert_array_equal(part["y_true"].to_numpy(), frame[f"target_h{horizon}"].to_numpy()[rows])
    assert predictions["p"].between(0, 1).all() and predictions["p"].std() > 0
    # the mean head's point score, from the same forecast, beside p on every window
    assert predictions["point_score"].notna().all() and predictions["point_score"].std() > 0
    assert "point_score_auc_test" in result.notes
    if mode == "fine-tune":
        assert result.notes["steps"] >= 2 and result.n_train == 64 and result.timings.train_seconds > 0
    if mode == "linear-probe":
        assert result.notes["probe_l2"] in (0.01, 1.0) and result.n_train == 64


def test_missing_weights_fail_fast_with_the_pull_command(bundled, tmp_path):
    data_dir, manifest = bundled
    empty = tmp_path / "weights"
    empty.mkdir()
    completed = run_job(make_spec(manifest, mode="zero-shot"), data_dir, tmp_path / "out", empty)
    assert completed.returncode != 0
    assert "orch weights pull timesfm" in completed.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out" / "result.json").exists()
    assert "Compiling" not in completed.stdout  # failed before loading any model


def test_unknown_hyperparameter_is_refused(bundled, small_weights, tmp_path):
    data_dir, manifest = bundled
    completed = run_job(make_spec(manifest, mode="zero-shot", max_stesp=3), data_dir, tmp_path / "out", small_weights)
    assert completed.returncode != 0 and "max_stesp" in completed.stderr
