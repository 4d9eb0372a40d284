"""Job-level checks for the torch models: every model runs end to end on the real bundled data,
hyperparameters are checked, and the test split cannot influence training or selection."""

import json
import math
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from jobs.catalog import MODELS, TORCH_JOB
from jobs.common.dataset import Dataset, load_dataset
from jobs.common.errors import JobError
from jobs.common.io import PREDICTIONS_FILE, RESULT_FILE, validate_predictions_table
from jobs.common.runner import run_job
from jobs.torch_models.job import fit_predict, plan
from jobs.torch_models.zoo import ARCHITECTURES
from shared_schema import DatasetRef, ExperimentSpec, JobResult
from tests.support.helpers import REPO

TORCH_MODELS = tuple(m.name for m in MODELS if m.entry == TORCH_JOB)
# Seconds per model: enough to exercise every step of the job, not to learn much.
TINY = {"size": 50_000, "epochs": 2, "patience": 1, "max_train_windows": 256, "batch_size": 64}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def single_threaded_jobs(monkeypatch):
    """The job sets torch's threads from OMP_NUM_THREADS; two spinning threads on a shared
    2-core box are many times slower than one."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def spec_for(manifest, model: str, horizon: int = 1, **hyperparameters) -> ExperimentSpec:
    return ExperimentSpec(
        id="FD-99",
        slug=f"test-{model}-h{horizon}",
        model=model,
        env="torch",
        horizon=horizon,
        threshold=manifest.threshold,
        context_length=80,
        split_dates=manifest.split_dates,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
        seed=0,
        profile="quick",
        hyperparameters={**TINY, **hyperparameters},
    )


@pytest.mark.parametrize("model", TORCH_MODELS)
def test_quick_job_end_to_end_on_bundled_data(model, bundled_data, tmp_path):
    data_dir, manifest = bundled_data
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec_for(manifest, model).model_dump_json())

    run_job(spec_file, data_dir, tmp_path / "out", None)

    result = JobResult.model_validate_json((tmp_path / "out" / RESULT_FILE).read_text())
    predictions = validate_predictions_table(pq.read_table(tmp_path / "out" / PREDICTIONS_FILE))
    assert result.spec.model == model
    assert result.metrics["test"].auc is not None and math.isfinite(result.metrics["test"].auc)
    assert abs(result.n_parameters - TINY["size"]) <= 0.10 * TINY["size"]
    assert result.notes["full_profile_size"] == (200_000_000 if model == "patchtst-200m" else 2_000_000)
    assert result.notes["cpu_kernels"] == "fast"  # jobs/torch_models/kernels.py's switch, recorded
    assert result.n_train == TINY["max_train_windows"]
    assert result.weights.kind == "from-scratch"
    assert "torch" in result.environment.packages
    assert 1 <= result.notes["best_epoch"] <= result.notes["epochs_run"] <= TINY["epochs"]
    assert len(predictions.p) == result.metrics["val"].n + result.metrics["test"].n


def test_test_labels_cannot_change_training_or_selection(bundled_data):
    """Flip every test label: validation predictions must stay bitwise equal (the test split is
    never used to train or select), and test predictions too (only their labels differ)."""
    data_dir, manifest = bundled_data
    spec = spec_for(manifest, "dlinear")
    dataset = load_dataset(data_dir, spec)
    flipped = dataset.frame.copy()
    test_rows = flipped["split"] == "test"
    flipped.loc[test_rows, "target_h1"] = 1 - flipped.loc[test_rows, "target_h1"]

    original = fit_predict(spec, dataset, None)
    tampered = fit_predict(spec, Dataset(manifest=dataset.manifest, frame=flipped), None)

    assert np.array_equal(original.val.p, tampered.val.p)
    assert np.array_equal(original.test.p, tampered.test.p)
    assert np.array_equal(original.test.y, 1 - tampered.test.y)


def test_profile_picks_defaults_and_spec_overrides_them(bundled_data):
    _, manifest = bundled_data
    quick = spec_for(manifest, "patchtst")
    assert plan(quick.model_copy(update={"hyperparameters": {}}), ARCHITECTURES["patchtst"]).size == 100_000
    full = quick.model_copy(update={"profile": "full", "hyperparameters": {"lr": 1e-4, "patch_len": 8, "size": 3e6}})
    settings = plan(full, ARCHITECTURES["patchtst"])
    assert (settings.size, settings.training.lr, settings.training.epochs) == (3_000_000, 1e-4, 30)
    assert settings.architecture == {"dropout": 0.1, "patch_len": 8}


@pytest.mark.parametrize(
    ("model", "hyperparameters", "message"),
    [
        ("patchtst", {"learning_rate": 0.1}, r"unknown hyperparameter\(s\) \['learning_rate'\]"),
        ("patchtst-causal", {"causal": False}, r"unknown hyperparameter\(s\) \['causal'\]"),
        ("crossformer", {"patch_len": 8}, r"unknown hyperparameter\(s\) \['patch_len'\]"),
        ("informer", {"epochs": 2.5}, "'epochs' must be a whole number"),
        ("informer", {"distil": 1}, "'distil' must be true or false"),
        ("dlinear", {"batch_size": 0}, "'batch_size' must be >= 1"),
        ("dlinear", {"precision": "fp16"}, "'precision' must be one of"),
        ("dlinear", {"compile": 1}, "'compile' must be true or false"),
    ],
)
def test_bad_hyperparameters_fail_the_job_with_their_reason(bundled_data, model, hyperparameters, message):
    _, manifest = bundled_data
    with pytest.raises(JobError, match=message):
        plan(spec_for(manifest, model, **hyperparameters), ARCHITECTURES[model])


def test_invalid_architecture_setting_fails_the_job_with_its_reason(bundled_data):
    data_dir, manifest = bundled_data
    spec = spec_for(manifest, "patchtst", patch_len=200)
    with pytest.raises(JobError, match=r"patch_len \(200\) must be between 1 and context_length \(80\)"):
        fit_predict(spec, load_dataset(data_dir, spec), None)


def test_cli_job_writes_a_valid_result(bundled_data, tmp_path):
    """Once through `python -m jobs run`, as every executor calls it."""
    data_dir, manifest = bundled_data
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec_for(manifest, "itransformer", horizon=3).model_dump(mode="json")))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs",
            "run",
            "--spec",
            str(spec_file),
            "--data",
            str(data_dir),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = JobResult.model_validate_json((tmp_path / "out" / RESULT_FILE).read_text())
    assert result.spec.horizon == 3 and result.environment.threads == 1


def test_same_input_control_sees_only_log_high_relative_to_the_close(bundled_data):
    """patchtst-high (H1's control) sees log(High_s / Close_t) over its window and nothing else."""
    from jobs.torch_models.job import model_inputs

    data_dir, manifest = bundled_data
    spec = spec_for(manifest, "patchtst-high")
    assert plan(spec, ARCHITECTURES["patchtst-high"]).inputs == "high"
    dataset = load_dataset(data_dir, spec)
    data = model_inputs(dataset, 1, 80, "high")
    assert data.feature_names == ["high"] and data.test.x.shape[2] == 1
    t = int(data.test.row_index[0])
    frame = dataset.frame
    expected = np.log(frame["high"].to_numpy()[t - 79 : t + 1] / frame["close"].to_numpy()[t])
    restored = data.test.x[0, :, 0] * data.normaliser.std[0] + data.normaliser.mean[0]
    assert np.allclose(restored, expected, atol=1e-5)
    with pytest.raises(JobError, match="'inputs' must be one of"):
        plan(spec_for(manifest, "patchtst", inputs="volume"), ARCHITECTURES["patchtst"])


def test_bf16_precision_runs_on_cpu_and_auto_stays_fp32(bundled_data):
    """`precision` is a switch: "auto" keeps CPU results in float32, "bf16" trains under autocast."""
    data_dir, manifest = bundled_data
    spec = spec_for(manifest, "dlinear")
    dataset = load_dataset(data_dir, spec)
    auto = fit_predict(spec, dataset, None)
    fp32 = fit_predict(spec_for(manifest, "dlinear", precision="fp32"), dataset, None)
    bf16 = fit_predict(spec_for(manifest, "dlinear", precision="bf16"), dataset, None)
    assert np.array_equal(auto.val.p, fp32.val.p)
    assert np.all(np.isfinite(bf16.test.p)) and not np.array_equal(bf16.val.p, fp32.val.p)
