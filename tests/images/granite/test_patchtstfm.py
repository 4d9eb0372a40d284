"""PatchTST-FM on torch 2.13 (the granite env's override): the published layout loads, the job's
forecasts are the package's forward, its fine-tuning loss is the package's pre-training loss."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_PATCHTSTFM, make_spec
from tsfm_public.models.patchtst_fm import PatchTSTFMConfig, PatchTSTFMForPrediction
from tsfm_public.models.patchtst_fm.modeling_patchtst_fm import PatchTSTFMForPretraining

from jobs.common.covariates import covariate_windows
from jobs.common.dataset import load_dataset
from jobs.common.errors import JobError
from jobs.granite.patchtstfm_job import Forecaster, Settings, forecast_loss, future_values, masked_inputs
from jobs.granite.weights import PATCHTSTFM, load_pretrained, resolve_weights

SETTINGS = Settings(
    mode="zero-shot",
    max_steps=2,
    batch_size=4,
    lr=1e-4,
    eval_every=1,
    patience=1,
    max_train_windows=0,
    max_val_windows=0,
    probe_l2=(1.0,),
    predict_batch_size=8,
)


@pytest.fixture(scope="module")
def loaded(patchtstfm_weights):
    return load_pretrained(PatchTSTFMForPrediction, resolve_weights(patchtstfm_weights, PATCHTSTFM)).eval()


@pytest.fixture(scope="module")
def windows(bundled):
    data_dir, manifest = bundled
    spec = make_spec(manifest, model="patchtstfm", model_id="FD-31", horizon=3)
    dataset = load_dataset(Path(data_dir), spec)
    return dataset, covariate_windows(dataset, 3, 80, manifest.threshold)


def test_the_published_layout_round_trips(patchtstfm_weights, loaded):
    folder = patchtstfm_weights / "patchtstfm"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "weights.json"]
    fresh = PatchTSTFMForPrediction(PatchTSTFMConfig(**TINY_PATCHTSTFM))
    assert loaded.state_dict().keys() == fresh.state_dict().keys()
    assert len(loaded.config.quantile_levels) == 99
    corrupt = folder / "model.safetensors"
    saved = corrupt.read_bytes()
    try:
        corrupt.write_bytes(saved[:-8])
        with pytest.raises(JobError, match="corrupt"):
            resolve_weights(patchtstfm_weights, PATCHTSTFM)
    finally:
        corrupt.write_bytes(saved)


def test_job_quantiles_are_the_package_forward(loaded, windows):
    _, split = windows
    part = split.val.recent(6)
    ours = Forecaster(loaded, SETTINGS, 3, torch.device("cpu")).quantiles(part)
    with torch.no_grad():
        theirs = loaded(
            past_values=torch.tensor(part.target, dtype=torch.float32), prediction_length=3
        ).quantile_outputs
    assert ours.shape == (6, 3, 99)
    np.testing.assert_allclose(ours, theirs[..., 0].numpy().transpose(0, 2, 1), rtol=1e-5, atol=1e-6)


def test_fine_tuning_loss_is_the_package_pretraining_loss(loaded, windows):
    """Where no padding is pruned (context + forecast region fill the model), forecast_loss equals
    PatchTSTFMForPretraining's loss on the same masked inputs, weights shared."""
    dataset, split = windows
    part = split.train.recent(5)
    context = torch.tensor(part.target, dtype=torch.float32)
    future = torch.tensor(future_values(dataset, part, 3), dtype=torch.float32)
    forecast_length = Forecaster(loaded, SETTINGS, 3, torch.device("cpu")).forecast_length
    pretraining = PatchTSTFMForPretraining(loaded.config).eval()
    pretraining.load_state_dict(loaded.state_dict())
    values, pred_mask, miss_mask, pad_mask, used = masked_inputs(context, future, loaded.config, forecast_length)
    assert used == loaded.config.context_length  # 80 + 128: nothing to prune
    theirs = pretraining(values, pred_mask=pred_mask, miss_mask=miss_mask, pad_mask=pad_mask).loss
    with torch.no_grad():
        ours = forecast_loss(loaded, context, future, forecast_length)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-6)
    # the loss reads the true future: a shifted future costs more
    with torch.no_grad():
        assert float(forecast_loss(loaded, context, future + 1.0, forecast_length)) != pytest.approx(float(ours))


def test_future_values_are_the_targets_after_t(windows):
    dataset, split = windows
    part = split.train.recent(3)
    future = future_values(dataset, part, 3)
    high, close = dataset.frame["high"].to_numpy(), dataset.frame["close"].to_numpy()
    t = part.rows[0]
    np.testing.assert_allclose(future[0], np.log(high[t + 1 : t + 4] / close[t]))
    # the window's last value is x_t = log(High_t / Close_t): the future continues the same series
    assert part.target[0, -1] == pytest.approx(np.log(high[t] / close[t]))


def test_embeddings_read_the_last_context_patch(loaded, windows):
    _, split = windows
    forecaster = Forecaster(loaded, SETTINGS, 3, torch.device("cpu"))
    embedded = forecaster.embeddings(split.val.recent(6))
    assert embedded.shape == (6, loaded.config.d_model) and np.isfinite(embedded).all()
    assert not np.allclose(embedded[0], embedded[1])
    np.testing.assert_allclose(embedded[4:], forecaster.embeddings(split.val.recent(2)), rtol=1e-5, atol=1e-6)
