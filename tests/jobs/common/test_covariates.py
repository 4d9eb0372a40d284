"""jobs/common/covariates.py: the target series and the 24 other features a covariate-aware foundation
model sees, and the result's record of it (shared_schema.ModelInputs)."""

import dataclasses
import math

import numpy as np
import pytest
from pydantic import ValidationError

from jobs.common.covariates import covariate_windows, future_targets, spec_windows
from jobs.common.dataset import load_dataset
from jobs.common.errors import JobError
from jobs.common.windows import make_windows
from shared_schema import JobResult, ModelInputs
from tests.support.helpers import make_spec


@pytest.fixture(scope="module")
def dataset(bundled_data):
    folder, manifest = bundled_data
    return load_dataset(folder, make_spec(manifest, "logreg", "sklearn", horizon=3))


def test_target_is_log_high_over_the_last_close_and_the_label_is_its_future_max(dataset):
    windows = covariate_windows(dataset, horizon=3, context_length=80, threshold=0.01)
    frame = dataset.frame
    high, close = frame["high"].to_numpy(), frame["close"].to_numpy()
    for name in ("train", "val", "test"):
        part = windows.split(name)
        assert part.target.shape == (len(part.y), 80) and part.covariates.shape == (len(part.y), 80, 24)
        i = len(part.rows) // 3
        t = part.rows[i]
        np.testing.assert_allclose(part.target[i], np.log(high[t - 79 : t + 1] / close[t]), rtol=1e-12)
        future = future_targets(dataset, part.rows, 3)
        np.testing.assert_allclose(future[i], np.log(high[t + 1 : t + 4] / close[t]), rtol=1e-12)
        assert np.array_equal(part.y, (future.max(axis=1) >= math.log1p(0.01)).astype(np.int8))  # the label
        assert part.barrier[i] == pytest.approx(math.log1p(0.01))


def test_covariates_are_the_other_24_features_as_patchtst_sees_them(dataset):
    windows = covariate_windows(dataset, horizon=3, context_length=80, threshold=0.01)
    patchtst = make_windows(dataset, horizon=3, context_length=80)
    assert "high" not in windows.covariate_names and len(windows.covariate_names) == 24
    keep = [patchtst.feature_names.index(n) for n in windows.covariate_names]
    np.testing.assert_array_equal(windows.val.covariates, patchtst.val.x[:, :, keep])
    # z-scored with training statistics only: the training windows have mean ~0, std ~1 per feature
    flat = windows.train.covariates.reshape(-1, 24).astype(np.float64)
    varying = flat.std(0) > 0
    np.testing.assert_allclose(flat.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(flat.std(0)[varying], 1, atol=1e-3)
    assert not np.allclose(windows.test.covariates.reshape(-1, 24).mean(0), 0, atol=1e-3)


def test_recent_keeps_the_latest_windows(dataset):
    train = covariate_windows(dataset, horizon=1, context_length=20, threshold=0.01).train
    recent = train.recent(50)
    assert len(recent.rows) == 50 and recent.rows[-1] == train.rows[-1]
    assert recent.target.shape == (50, 20) and train.recent(0) is train


def test_inputs_record_what_the_model_saw(dataset):
    windows = covariate_windows(dataset, horizon=1, context_length=80, threshold=0.01)
    seen = windows.inputs("past covariates")
    assert seen.covariates == windows.covariate_names and seen.context_length == 80
    assert "training" in seen.normalisation and seen.target.startswith("log(high_s / close_t)")
    alone = windows.inputs(None)
    assert alone.covariates == [] and alone.covariate_role == "none"
    with pytest.raises(ValidationError, match="together"):
        ModelInputs(target="x", context_length=80, covariates=["rsi"])
    assert JobResult.model_fields["inputs"].default is None  # results written before the field stay valid


def test_spec_windows_are_the_specs_and_bad_data_is_one_line_job_error(dataset, bundled_data):
    spec = make_spec(bundled_data[1], "chronos2", "chronos", horizon=3)
    np.testing.assert_array_equal(
        spec_windows(dataset, spec).test.target, covariate_windows(dataset, 3, 80, spec.threshold).test.target
    )
    broken = dataclasses.replace(dataset, frame=dataset.frame.assign(close=-dataset.frame["close"]))
    with pytest.raises(JobError, match="positive high and close") as caught:
        spec_windows(broken, spec)
    assert "\n" not in str(caught.value)
