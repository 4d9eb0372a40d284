"""TiRex 1.x classifier end to end through `python -m jobs run` with a random-init model.ckpt in the
published layout: both horizons, what the model saw, labels, test windows that do not move each
other's p, missing weights."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_spec, run_job

from jobs.common.windows import sample_rows
from shared_schema import JobResult, WeightsManifest

SMALL = {"max_train_windows": 128, "predict_batch_size": 256}


def tirexcls_spec(manifest, horizon: int, **hyper):
    return make_spec(
        manifest, model="tirexcls", model_id="FD-35" if horizon == 1 else "FD-36", horizon=horizon, **hyper
    )


@pytest.mark.parametrize("horizon", [1, 3])
def test_end_to_end(bundled, tirexcls_weights, tmp_path, horizon):
    data_dir, manifest = bundled
    completed = run_job(tirexcls_spec(manifest, horizon, **SMALL), data_dir, tmp_path / "out", tirexcls_weights)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = JobResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    weights = WeightsManifest.model_validate_json((tirexcls_weights / "tirexcls" / "weights.json").read_text())
    assert result.weights.kind == "random-init" and result.weights.sha256 == weights.files["model.ckpt"]
    assert result.environment.packages["tirex-ts"] == "1.4.2"
    # what the model saw: 25 variates, the target series and the 24 other features
    assert result.inputs.covariate_role == "variates" and len(result.inputs.covariates) == 24
    assert "high" not in result.inputs.covariates and result.inputs.context_length == 80
    assert "path-maximum event" in result.notes["p_method"] and result.n_train == 128
    assert result.notes["statistics_normalisation"] == "training windows' mean and spread"
    assert result.notes["probe_l2"] in (1e-2, 1.0)
    frame = pd.read_parquet(data_dir / "sp500.parquet")
    predictions = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    for split in ("val", "test"):
        rows = sample_rows(frame, split, horizon, 80)
        part = predictions[predictions["split"] == split]
        assert len(part) == len(rows) == result.metrics[split].n
        np.testing.assert_array_equal(part["y_true"].to_numpy(), frame[f"target_h{horizon}"].to_numpy()[rows])
    assert predictions["p"].between(0, 1).all() and predictions["p"].std() > 0
    assert predictions["point_score"].isna().all()  # a classifier forecasts no path


def test_a_test_windows_p_ignores_the_other_test_windows(bundled, tirexcls_weights):
    """The indicator features of every row after the first test window scrambled: that window's p and
    every validation p are unchanged (no statistic is taken across test windows), the others move."""
    from jobs.common.dataset import Dataset, load_dataset
    from jobs.common.windows import sample_rows
    from jobs.tirex import tirexcls_job

    data_dir, manifest = bundled
    spec = tirexcls_spec(manifest, 1, **SMALL)
    dataset = load_dataset(data_dir, spec)
    frame = dataset.frame.copy()
    first_test_row = sample_rows(frame, "test", 1, 80)[0]
    later = frame.index[first_test_row + 1 :]
    indicators = [c for c in dataset.feature_names if c not in ("open", "high", "low", "close", "volume")]
    frame.loc[later, indicators] = np.random.default_rng(0).permutation(frame.loc[later, indicators].to_numpy())
    before = tirexcls_job.run(spec, dataset, tirexcls_weights)
    after = tirexcls_job.run(spec, Dataset(manifest=dataset.manifest, frame=frame), tirexcls_weights)
    np.testing.assert_allclose(after.val.p, before.val.p, rtol=1e-9)
    assert after.test.p[0] == pytest.approx(before.test.p[0], rel=1e-9)
    assert not np.allclose(after.test.p[1:], before.test.p[1:])


def test_missing_weights_fail_fast_with_the_pull_command(bundled, tmp_path):
    data_dir, manifest = bundled
    empty = tmp_path / "weights"
    empty.mkdir()
    completed = run_job(tirexcls_spec(manifest, 1), data_dir, tmp_path / "out", empty)
    assert completed.returncode != 0
    assert "orch weights pull tirexcls" in completed.stderr.strip().splitlines()[-1]
