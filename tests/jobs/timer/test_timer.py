"""Timer: strict loading of the published safetensors layout, the published parameter count, shapes,
causality, and real quick jobs on the bundled data with a random-init checkpoint."""

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file, save_file

from jobs.common.errors import JobError
from jobs.common.io import PREDICTIONS_FILE, RESULT_FILE, validate_predictions_table
from jobs.common.runner import run_job
from jobs.common.weights import sha256_file
from jobs.timer.model import TimerConfig, TimerForPrediction, count_parameters, forecast
from jobs.timer.weights import WEIGHTS_FILE, load_published, resolve_weights, write_random_init
from shared_schema import DatasetRef, ExperimentSpec, JobResult

SMALL = TimerConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
PUBLISHED_PARAMETERS = 84_142_080  # timer-base-84m: 8 layers x 1024 wide, SwiGLU 2048, 96-day patches


def published_names(layers: int) -> set[str]:
    """The tensor names of thuml/timer-base-84m's model.safetensors, spelled out independently."""
    per_layer = [f"self_attn.{p}_proj.{t}" for p in "qkv" for t in ("weight", "bias")] + ["self_attn.o_proj.weight"]
    per_layer += [f"ffn_layer.{p}_proj.weight" for p in ("gate", "up", "down")]
    per_layer += [f"norm{n}.{t}" for n in (1, 2) for t in ("weight", "bias")]
    names = {f"model.layers.{i}.{name}" for i in range(layers) for name in per_layer}
    return names | {"model.embed_layer.emb.weight", "model.norm.weight", "model.norm.bias", "lm_heads.0.weight"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_published_config_has_the_published_names_and_parameter_count():
    assert count_parameters(TimerConfig()) == PUBLISHED_PARAMETERS
    with torch.device("meta"):
        state = TimerForPrediction(TimerConfig()).state_dict()
    assert set(state) == published_names(8)
    assert state["model.embed_layer.emb.weight"].shape == (1024, 96)
    assert state["model.layers.0.ffn_layer.gate_proj.weight"].shape == (2048, 1024)
    assert state["lm_heads.0.weight"].shape == (96, 1024)


def test_published_layout_loads_strictly(tmp_path):
    folder = write_random_init(tmp_path, SMALL, seed=3)
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == 32
    resolved = resolve_weights(tmp_path)
    assert resolved.config == SMALL and resolved.source.kind == "random-init"
    model = load_published(resolved)
    stored = load_file(str(folder / WEIGHTS_FILE))
    assert set(stored) == published_names(2)
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in stored.items())


@pytest.mark.parametrize("damage", ["rename", "reshape", "drop"])
def test_a_checkpoint_that_differs_from_the_layout_is_refused(tmp_path, damage):
    folder = write_random_init(tmp_path, SMALL)
    tensors = load_file(str(folder / WEIGHTS_FILE))
    if damage == "rename":
        tensors["model.layers.0.self_attn.qkv.weight"] = tensors.pop("model.layers.0.self_attn.q_proj.weight")
    elif damage == "reshape":
        tensors["lm_heads.0.weight"] = torch.zeros(48, 32)
    else:
        del tensors["model.norm.bias"]
    save_file(tensors, str(folder / WEIGHTS_FILE))
    with pytest.raises(JobError, match="sha256"):  # the cache's hash check sees the change first
        resolve_weights(tmp_path)
    manifest = json.loads((folder / "weights.json").read_text())
    manifest["files"][WEIGHTS_FILE] = sha256_file(folder / WEIGHTS_FILE)
    (folder / "weights.json").write_text(json.dumps(manifest))
    with pytest.raises(JobError, match="does not fit the Timer architecture"):
        load_published(resolve_weights(tmp_path))


def test_missing_weights_name_the_pull_command(tmp_path):
    with pytest.raises(JobError, match="orch weights pull timer"):
        resolve_weights(tmp_path)


def test_shapes_and_autoregressive_forecast():
    torch.manual_seed(0)
    model = TimerForPrediction(SMALL).eval()
    series = torch.randn(3, 288)
    assert model(series).shape == (3, 3, 96)
    assert model.hidden(series).shape == (3, 3, 32)
    assert forecast(model, series, 3).shape == (3, 3)
    long = forecast(model, series, 150)  # two generated patches
    assert long.shape == (3, 150)
    assert torch.allclose(long[:, :3], forecast(model, series, 3))
    with pytest.raises(ValueError, match="not a multiple of 96"):
        model(torch.randn(1, 100))


def test_a_token_never_sees_later_patches():
    torch.manual_seed(0)
    model = TimerForPrediction(SMALL).eval()
    series = torch.randn(2, 384)
    changed = series.clone()
    changed[:, 200:] += 3.0  # inside the third patch (192..287) and later
    with torch.no_grad():
        before, after = model(series), model(changed)
    assert torch.allclose(before[:, :2], after[:, :2], atol=1e-6)
    assert not torch.allclose(before[:, 2], after[:, 2])


def timer_spec(manifest, horizon: int, **hyperparameters) -> ExperimentSpec:
    return ExperimentSpec(
        id="FD-19",
        slug=f"timer-h{horizon}",
        model="timer",
        env="torch",
        horizon=horizon,
        threshold=manifest.threshold,
        context_length=80,
        split_dates=manifest.split_dates,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
        seed=0,
        profile="quick",
        hyperparameters={
            "max_steps": 4,
            "eval_every": 2,
            "max_train_windows": 256,
            "max_val_segments": 16,
            **hyperparameters,
        },
    )


@pytest.mark.parametrize(("mode", "horizon"), [("fine-tune", 3), ("zero-shot", 1), ("linear-probe", 1)])
def test_quick_job_on_bundled_data_with_random_init_weights(mode, horizon, bundled_data, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data_dir, manifest = bundled_data
    write_random_init(tmp_path / "weights", SMALL)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(timer_spec(manifest, horizon, mode=mode).model_dump_json())

    run_job(spec_file, data_dir, tmp_path / "out", tmp_path / "weights")

    result = JobResult.model_validate_json((tmp_path / "out" / RESULT_FILE).read_text())
    table = pq.read_table(tmp_path / "out" / PREDICTIONS_FILE)
    predictions = validate_predictions_table(table)
    assert result.weights.kind == "random-init"  # never presented as the published model
    assert result.notes["mode"] == mode and result.notes["lookback_days"] == 288
    assert math.isfinite(result.metrics["test"].auc)
    scores = np.array(predictions.point_score, dtype=float)
    assert np.isfinite(scores).all() and scores.std() > 0
    assert "point_score_auc_test" in result.notes
    if mode == "fine-tune":
        assert 1 <= result.notes["finetune_steps"] <= 4
        assert result.notes["finetune_best_val_mse"] <= result.notes["finetune_initial_val_mse"]
    if mode != "linear-probe":  # p is a monotone map of the point score: identical ranking
        p = np.array(predictions.p)
        assert np.all(np.diff(p[np.argsort(scores, kind="stable")]) >= -1e-12)
