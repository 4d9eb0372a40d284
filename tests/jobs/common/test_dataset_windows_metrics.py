"""jobs/common: train-only normalisation, windows, metrics, and the job entrypoint's contract."""

import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from jobs.common.dataset import load_dataset
from jobs.common.metrics import auc_roc, choose_threshold, expected_calibration_error, split_metrics
from jobs.common.windows import make_windows
from shared_schema import JobResult
from tests.support.helpers import REPO, make_spec, run_job_subprocess


def _raw_window(frame, names, t, length):
    """The window ending at row t, recomputed by hand: prices over close_t, volume over volume_t."""
    block = frame[names].to_numpy(dtype=np.float64)[t - length + 1 : t + 1].copy()
    close_t, volume_t = block[-1, names.index("close")], block[-1, names.index("volume")]
    for column in ("open", "high", "low", "close"):
        block[:, names.index(column)] = np.log(block[:, names.index(column)] / close_t)
    block[:, names.index("volume")] = np.log((block[:, names.index("volume")] + 1) / (volume_t + 1))
    return block


def test_normalisation_statistics_come_from_train_only(bundled_data):
    folder, manifest = bundled_data
    dataset = load_dataset(folder, make_spec(manifest, "logreg", "sklearn"))
    names = dataset.feature_names
    data = make_windows(dataset, horizon=1, context_length=20)
    frame = dataset.frame
    train = np.stack([_raw_window(frame, names, t, 20) for t in data.train.row_index]).reshape(-1, 25)
    np.testing.assert_allclose(data.normaliser.mean, train.mean(axis=0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(data.normaliser.std, np.where(train.std(axis=0) > 0, train.std(axis=0), 1), rtol=1e-6)
    rows = np.concatenate([data.split(s).row_index for s in ("train", "val", "test")])
    everything = np.stack([_raw_window(frame, names, t, 20) for t in rows]).reshape(-1, 25)
    assert not np.allclose(data.normaliser.mean, everything.mean(axis=0))
    assert (frame["split"].to_numpy()[data.train.row_index - 19] == "train").all()


def test_windows_end_at_t_and_never_include_later_rows(bundled_data):
    folder, manifest = bundled_data
    dataset = load_dataset(folder, make_spec(manifest, "logreg", "sklearn"))
    data = make_windows(dataset, horizon=3, context_length=80)
    frame = dataset.frame
    for split in ("train", "val", "test"):
        part = data.split(split)
        assert part.x.shape[1:] == (80, 25) and len(part.x) == len(part.y) > 0
        i = len(part.row_index) // 2
        t = part.row_index[i]
        expected = data.normaliser.apply(_raw_window(frame, dataset.feature_names, t, 80))
        np.testing.assert_allclose(part.x[i], expected, rtol=1e-4, atol=1e-4)
        assert (frame["split"].to_numpy()[part.row_index] == split).all()
        assert frame["usable_h3"].to_numpy()[part.row_index].all()
        assert part.y[i] == frame["target_h3"].iloc[t]
    assert data.train.dates.max() < data.val.dates.min() <= data.val.dates.max() < data.test.dates.min()


def test_price_inputs_are_level_free_so_test_years_stay_in_the_training_range(bundled_data):
    """Every 2017-2018 close is above the 1999-2014 maximum; the model inputs must not be."""
    folder, manifest = bundled_data
    dataset = load_dataset(folder, make_spec(manifest, "logreg", "sklearn"))
    frame = dataset.frame
    assert frame.loc[frame["split"] == "test", "close"].min() > frame.loc[frame["split"] == "train", "close"].max()
    data = make_windows(dataset, horizon=1, context_length=80)
    close = dataset.feature_names.index("close")
    low, high = data.train.x[..., close].min(), data.train.x[..., close].max()
    inside = ((data.test.x[..., close] >= low) & (data.test.x[..., close] <= high)).mean()
    assert inside > 0.99

    scaled = dataset.frame.copy()
    for column in ("open", "high", "low", "close"):
        scaled[column] *= 10.0
    rescaled = make_windows(type(dataset)(manifest=dataset.manifest, frame=scaled), horizon=1, context_length=80)
    np.testing.assert_allclose(rescaled.test.x, data.test.x, atol=1e-4)

    flat = make_windows(dataset, horizon=1, context_length=80, flat=True)
    assert flat.test.x.shape == (len(data.test.y), 25)
    np.testing.assert_array_equal(flat.test.row_index, data.test.row_index)
    assert np.all(flat.train.x[:, close] == 0) and flat.train.x[:, dataset.feature_names.index("high")].std() > 0.5
    with pytest.raises(ValueError, match="need 'close'"):
        make_windows(dataset, horizon=1, context_length=80, features=["high", "rsi_14"])


def test_metrics_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 500), 0, 1).round(2)  # rounding creates ties
    assert auc_roc(y, p) == pytest.approx(roc_auc_score(y, p))
    m = split_metrics(y, p, threshold=0.5)
    assert m.brier == pytest.approx(brier_score_loss(y, p))
    assert m.log_loss == pytest.approx(log_loss(y, np.clip(p, 1e-12, 1 - 1e-12)))
    assert m.accuracy == pytest.approx(((p >= 0.5) == y).mean())
    assert auc_roc(np.ones(5), np.linspace(0, 1, 5)) is None


def test_calibration_error_and_threshold():
    y = np.array([0] * 80 + [1] * 20)
    assert expected_calibration_error(y, np.full(100, 0.2)) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.7)) == pytest.approx(0.5)
    p = np.concatenate([np.linspace(0, 0.4, 80), np.linspace(0.6, 1.0, 20)])
    assert choose_threshold(y, p) == pytest.approx(0.6)


@pytest.mark.parametrize("model", ["logreg", "logreg-vol", "gboost"])
@pytest.mark.parametrize("horizon", [1, 3])
def test_baseline_job_on_bundled_data(bundled_data, tmp_path, model, horizon):
    folder, manifest = bundled_data
    spec = make_spec(manifest, model, "sklearn", horizon=horizon)
    done = run_job_subprocess(spec, folder, tmp_path)
    assert done.returncode == 0, done.stderr
    result = JobResult.model_validate(json.loads((tmp_path / "result.json").read_text()))
    assert result.metrics["test"].auc > 0.6
    assert result.weights.kind == "from-scratch" and result.n_parameters > 0
    table = pq.read_table(tmp_path / "predictions.parquet")
    assert table.num_rows == result.metrics["val"].n + result.metrics["test"].n
    assert result.metrics["test"].p_std > 0.01  # not a collapsed predictor


def test_job_refuses_a_dataset_with_another_hash(bundled_data, tmp_path):
    folder, manifest = bundled_data
    spec = make_spec(manifest, "logreg", "sklearn").model_copy(
        update={"dataset": make_spec(manifest, "logreg", "sklearn").dataset.model_copy(update={"sha256": "0" * 64})}
    )
    done = run_job_subprocess(spec, folder, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("job failed:") and "is not the dataset the spec names" in done.stderr
    assert not (tmp_path / "result.json").exists()


def test_job_reports_unknown_model_and_bad_spec(bundled_data, tmp_path):
    folder, manifest = bundled_data
    done = run_job_subprocess(make_spec(manifest, "nope", "sklearn"), folder, tmp_path)
    assert done.returncode == 2 and "unknown model 'nope'" in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": 1}')
    out = subprocess.run(
        [sys.executable, "-m", "jobs", "run", "--spec", str(bad), "--data", str(folder), "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "invalid spec" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_corrupt_parquet_is_reported(bundled_data, tmp_path):
    folder, manifest = bundled_data
    data = tmp_path / "data"
    data.mkdir()
    (data / "sp500.manifest.json").write_text((folder / "sp500.manifest.json").read_text())
    (data / "sp500.parquet").write_bytes(b"PAR1 not really")
    done = run_job_subprocess(make_spec(manifest, "logreg", "sklearn"), data, tmp_path / "out")
    assert done.returncode == 2 and "does not match its manifest" in done.stderr
