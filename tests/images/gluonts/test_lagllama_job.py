"""The job end to end through `python -m jobs run`, and fine-tuning on its own."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from lagllama_helpers import make_spec, run_job

from jobs.common.errors import JobError
from jobs.common.windows import sample_rows
from jobs.lagllama.config import LagLlamaConfig
from jobs.lagllama.data import SeriesData
from jobs.lagllama.finetune import FineTuneSettings, fine_tune, validation_nll, validation_rows
from jobs.lagllama.job import run
from jobs.lagllama.model import LagLlamaModule
from jobs.registry import ENTRYPOINTS
from shared_schema import JobResult


def _check_result(out_dir, data_dir, manifest, horizon, mode):
    result = JobResult.model_validate_json((out_dir / "result.json").read_text())
    assert result.weights.kind == "random-init" and result.weights.sha256
    assert result.n_parameters == 2_449_299
    assert result.notes["mode"] == mode and result.notes["series"] == "high"
    assert result.environment.packages["gluonts"] != "absent" and result.environment.packages["torch"].startswith(
        "2.13.0"
    )
    frame = pd.read_parquet(data_dir / f"{manifest.name}.parquet")
    predictions = pq.read_table(out_dir / "predictions.parquet").to_pandas()
    for split in ("val", "test"):
        rows = sample_rows(frame, split, horizon, 80)  # the rows every other model scores
        part = predictions[predictions["split"] == split]
        assert list(pd.to_datetime(part["date"]).dt.date) == list(pd.to_datetime(frame["date"].iloc[rows]).dt.date)
        assert np.array_equal(part["y_true"].to_numpy(), frame[f"target_h{horizon}"].to_numpy()[rows].astype(int))
        assert part["p"].between(0, 1).all() and part["p"].nunique() > 1
        assert result.metrics[split].n == len(rows)
    return result


def test_registered_in_the_gluonts_env():
    assert ENTRYPOINTS["lagllama"] == ("gluonts", "jobs.lagllama.job:run")


def test_missing_weights_fail_fast_naming_the_pull_command(small_data, tmp_path):
    data_dir, manifest = small_data
    done = run_job(make_spec(manifest, 1, mode="zero-shot"), data_dir, tmp_path / "out", None)
    assert done.returncode == 2, done.stderr
    assert "orch weights pull lag-llama" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out" / "result.json").exists()
    # an empty weights mount fails the same way (in process: the subprocess start is the slow part)
    (tmp_path / "empty").mkdir()
    with pytest.raises(JobError, match="orch weights pull lag-llama"):
        run(make_spec(manifest, 1, mode="zero-shot"), None, tmp_path / "empty")


def test_zero_shot_end_to_end_on_small_data(small_data, random_weights, tmp_path):
    data_dir, manifest = small_data
    done = run_job(make_spec(manifest, 1, mode="zero-shot", num_samples=16), data_dir, tmp_path / "out", random_weights)
    assert done.returncode == 0, done.stderr + done.stdout[-2000:]
    result = _check_result(tmp_path / "out", data_dir, manifest, 1, "zero-shot")
    assert result.notes["scored_rows_with_padded_history"] > 0  # the 2013-2018 slice lacks 1092 lags of history
    assert result.notes["num_samples"] == 0 and result.notes["probability"].startswith("H=1: exact Student-t tail")
    assert result.notes["mc_se_max_test"] == 0.0 and "re-fits" in result.notes["departure_from_published"]
    assert "point_score_auc_test" in result.notes


def test_fine_tune_end_to_end_on_small_data(small_data, random_weights, tmp_path):
    data_dir, manifest = small_data
    spec = make_spec(
        manifest,
        3,
        mode="fine-tune",
        num_samples=8,
        max_epochs=2,
        batches_per_epoch=2,
        batch_size=8,
        max_val_windows=16,
        patience=2,
        model_context_length=16,
    )
    done = run_job(spec, data_dir, tmp_path / "out", random_weights)
    assert done.returncode == 0, done.stderr + done.stdout[-2000:]
    result = _check_result(tmp_path / "out", data_dir, manifest, 3, "fine-tune")
    assert result.notes["finetune_epochs"] == 2 and result.notes["model_context_length"] == 16
    assert 0 < result.notes["mc_se_max_val"] < 0.3  # 8 paths = 4 antithetic pairs: a large SE, recorded
    assert result.notes["finetune_full_history_only"] is False
    assert result.notes["finetune_best_val_nll"] <= result.notes["finetune_initial_val_nll"]
    assert "epoch 2: train NLL" in done.stdout


def test_fine_tune_end_to_end_on_the_bundled_dataset(bundled_data, random_weights, tmp_path):
    data_dir, manifest = bundled_data
    assert manifest.source.kind == "arch-sp500" and manifest.rows > 4900
    spec = make_spec(manifest, 3, mode="fine-tune", num_samples=10)  # quick profile: 1 epoch of 4 batches
    done = run_job(spec, data_dir, tmp_path / "out", random_weights)
    assert done.returncode == 0, done.stderr + done.stdout[-2000:]
    result = _check_result(tmp_path / "out", data_dir, manifest, 3, "fine-tune")
    assert result.notes["scored_rows_with_padded_history"] == 0
    assert result.notes["finetune_full_history_only"] is True
    assert result.n_train > 2000  # training windows with the full 1124-value history


def test_bad_hyperparameters_are_refused(small_data):
    _, manifest = small_data
    for hyper, message in (
        ({"num_sampels": 3}, "num_sampels"),
        ({"mode": "few-shot"}, "mode"),
        ({"num_samples": 0}, "num_samples"),
        ({"series": "close"}, "series"),
        ({"lr": "fast"}, "lr"),
    ):
        with pytest.raises(JobError, match=message):
            run(make_spec(manifest, 1, **hyper), None, None)


def test_fine_tune_lowers_validation_nll_and_keeps_the_best_weights():
    torch.manual_seed(0)
    config = LagLlamaConfig(context_length=8, n_layer=1, n_head=2)
    model = LagLlamaModule(config).model
    rng = np.random.default_rng(0)
    n = 1500
    high = 100 + 3 * np.sin(np.arange(n) / 5.0) + rng.normal(0, 0.3, n)  # learnable: a noisy cycle
    frame = pd.DataFrame({"date": pd.bdate_range("2001-01-01", periods=n).date, "close": high, "high": high})
    split = np.where(np.arange(n) < 1300, "train", np.where(np.arange(n) < 1400, "val", "test"))
    series = SeriesData.build(frame, config, "high")
    settings = FineTuneSettings(
        lr=3e-3,
        weight_decay=1e-8,
        batch_size=16,
        max_epochs=3,
        batches_per_epoch=8,
        patience=3,
        max_val_windows=32,
        grad_clip=1.0,
    )
    report = fine_tune(model, series, split, settings, seed=0, log=lambda m: None)
    assert report.best_val_nll < report.initial_val_nll - 0.5 and report.best_epoch >= 1
    assert report.full_history_only and report.n_train_windows == 1300 - config.history_length
    rows = validation_rows(split, 32)
    assert abs(validation_nll(model, series, split, rows, batch_size=16) - report.best_val_nll) < 1e-4


def test_same_spec_gives_the_same_probabilities(small_data, random_weights):
    """Run caching assumes a job is a function of its inputs: the seed fixes every sample path."""
    from jobs.common.dataset import load_dataset

    data_dir, manifest = small_data
    spec = make_spec(manifest, 3, mode="zero-shot", num_samples=4, model_context_length=8)
    dataset = load_dataset(data_dir, spec)
    first, second = run(spec, dataset, random_weights), run(spec, dataset, random_weights)
    assert np.array_equal(first.val.p, second.val.p) and np.array_equal(first.test.p, second.test.p)
    assert np.array_equal(first.test.point_score, second.test.point_score) and np.isfinite(first.test.point_score).all()
    other = run(spec.model_copy(update={"seed": 1}), dataset, random_weights)
    assert not np.array_equal(first.test.p, other.test.p)


def test_zero_history_padding_is_the_published_switch(small_data, random_weights):
    """'zero' pads the days before the series with 0 as the published code does; rows with a full
    history are untouched by it, padded rows (all rows of this short slice) may change."""
    from jobs.common.dataset import load_dataset

    data_dir, manifest = small_data
    spec = make_spec(manifest, 1, mode="zero-shot", model_context_length=8)
    zero = make_spec(manifest, 1, mode="zero-shot", model_context_length=8, history_padding="zero")
    dataset = load_dataset(data_dir, spec)
    first, padded = run(spec, dataset, random_weights), run(zero, dataset, random_weights)
    assert first.notes["history_padding"] == "first-value" and padded.notes["history_padding"] == "zero"
    assert not np.array_equal(first.test.p, padded.test.p)
    # the published per-step scaler re-fit: its first step is the once-fitted one, so H=1 is unchanged
    refit = run(
        make_spec(manifest, 1, mode="zero-shot", model_context_length=8, rescale_each_step=True),
        dataset,
        random_weights,
    )
    assert refit.notes["rescale_each_step"] is True and refit.notes["kv_cache"] is False
    assert "departure_from_published" not in refit.notes and "departure_from_published" in first.notes
    assert np.allclose(refit.test.p, first.test.p, atol=1e-9)
    with pytest.raises(JobError, match="history_padding"):
        run(make_spec(manifest, 1, history_padding="mean"), None, None)
