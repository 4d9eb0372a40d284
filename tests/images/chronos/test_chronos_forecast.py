"""Chronos-2 as the job uses it: the published checkpoint layout, the package's own loader, and the
job's batched forecast agreeing with the pipeline call a user writes."""

import json

import numpy as np
import pytest
import torch
from chronos import Chronos2Pipeline
from chronos.chronos2.dataset import Chronos2Dataset, DatasetMode

from jobs.chronos2.finetune import prepared_inputs
from jobs.chronos2.forecast import Forecaster
from jobs.chronos2.weights import QUANTILES, load_pipeline, resolve_weights, write_checkpoint
from jobs.common.covariates import covariate_windows, future_targets
from jobs.common.errors import JobError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model(tiny_weights):
    return load_pipeline(resolve_weights(tiny_weights), CPU).model


@pytest.fixture(scope="module")
def windows(dataset):
    return covariate_windows(dataset, horizon=3, context_length=80, threshold=0.01)


def test_random_init_checkpoint_has_the_published_layout(tmp_path):
    folder = write_checkpoint(tmp_path / "snapshot", size="tiny", seed=3)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["Chronos2Model"] and config["chronos_config"]["quantiles"] == QUANTILES
    assert len(QUANTILES) == 21 and QUANTILES[0] == 0.01 and QUANTILES[-1] == 0.99
    pipeline = Chronos2Pipeline.from_pretrained(str(folder), device_map="cpu")  # the published weights' path
    assert pipeline.quantiles == QUANTILES
    assert sum(p.numel() for p in pipeline.model.parameters()) < 100_000


def test_resolve_refuses_a_folder_that_is_not_chronos2(tiny_weights, tmp_path):
    with pytest.raises(JobError, match="orch weights pull chronos2"):
        resolve_weights(tmp_path)
    assert resolve_weights(tiny_weights).source.kind == "random-init"


@pytest.mark.parametrize("use_covariates", [True, False])
def test_batched_forecast_equals_the_pipeline_call(model, windows, use_covariates):
    """The job's direct batches give the quantiles `Chronos2Pipeline.predict` gives for the same windows
    passed as the documented dicts (target + named past covariates)."""
    part = windows.val.recent(40)
    forecaster = Forecaster(model, horizon=3, use_covariates=use_covariates, batch_windows=16, device=CPU)
    ours = forecaster.quantiles(part)
    inputs = [
        {"target": part.target[i]}
        | (
            {"past_covariates": {name: part.covariates[i, :, j] for j, name in enumerate(windows.covariate_names)}}
            if use_covariates
            else {}
        )
        for i in range(len(part.rows))
    ]
    theirs = Chronos2Pipeline(model=model).predict(inputs, prediction_length=3)
    reference = torch.stack([forecast[0] for forecast in theirs]).transpose(1, 2).double().numpy()
    assert ours.shape == (40, 3, 21)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6)


def test_the_model_sees_the_covariates(model, windows):
    part = windows.val.recent(16)
    forecaster = Forecaster(model, horizon=1, use_covariates=True, batch_windows=16, device=CPU)
    shuffled = type(part)(
        part.target, part.covariates[::-1].copy(), part.y, part.dates, part.rows, part.barrier
    )  # other windows' covariates beside the same targets
    assert not np.allclose(forecaster.quantiles(part), forecaster.quantiles(shuffled))
    assert not np.allclose(forecaster.embeddings(part), forecaster.embeddings(shuffled))


def test_embeddings_are_the_encoders_reg_and_forecast_tokens(model, windows):
    part = windows.val.recent(4)
    forecaster = Forecaster(model, horizon=1, use_covariates=True, batch_windows=2, device=CPU)
    features = forecaster.embeddings(part)
    assert features.shape == (4, 2 * model.config.d_model)
    context = torch.cat([torch.from_numpy(part.target[:1]).float(), torch.from_numpy(part.covariates[0].T)])
    with torch.no_grad():
        hidden = model.encode(context=context, group_ids=torch.zeros(25, dtype=torch.long))[0][0]
    np.testing.assert_allclose(features[0], torch.cat([hidden[0, -2], hidden[0, -1]]).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("horizon", [1, 3, 16])
def test_one_pass_gives_the_textbook_quantiles_and_embeddings(model, windows, horizon):
    """The fast path (embeddings read from the forecast's own encoder pass) equals the two separate passes,
    quantiles() and embeddings(), for every horizon within one output patch; beyond it, it refuses."""
    part = windows.val.recent(6)
    forecaster = Forecaster(model, horizon=horizon, use_covariates=True, batch_windows=4, device=CPU)
    quantiles, embeddings = forecaster.quantiles_and_embeddings(part)
    np.testing.assert_allclose(quantiles, forecaster.quantiles(part), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(embeddings, forecaster.embeddings(part), rtol=1e-6, atol=1e-7)
    assert embeddings.shape == (6, 2 * model.config.d_model) and np.abs(embeddings).sum() > 0
    beyond = Forecaster(model, horizon=17, use_covariates=True, batch_windows=4, device=CPU)
    with pytest.raises(ValueError, match="2 output patches"):
        beyond.quantiles_and_embeddings(part)


def test_bfloat16_scoring_stays_near_float32(model, windows):
    """precision=bfloat16 (autocast) really runs in bfloat16 (the forecasts differ from float32's) and stays
    within bfloat16's rounding of them: quantiles and the embeddings both."""
    part = windows.val.recent(8)
    exact, fast = (
        Forecaster(model, horizon=3, use_covariates=True, batch_windows=4, device=CPU, precision=precision)
        for precision in ("float32", "bfloat16")
    )
    quantiles, embeddings = fast.quantiles_and_embeddings(part)
    reference = exact.quantiles(part)
    assert not np.array_equal(quantiles, reference)
    np.testing.assert_allclose(quantiles, reference, rtol=0.05, atol=0.02 * np.abs(reference).max())
    np.testing.assert_allclose(embeddings, exact.embeddings(part), rtol=0.1, atol=0.05)
    np.testing.assert_allclose(fast.embeddings(part), embeddings, rtol=1e-6, atol=1e-6)


def test_fine_tuning_examples_end_at_t_and_carry_no_covariate_after_t(dataset, windows):
    """The package cuts every example at the window's end t (min_past = context length): context is the
    window, the loss target is the label's quantity over t+1..t+H, and covariates after t are NaN."""
    part = windows.train.recent(8)
    future = future_targets(dataset, part.rows, 3)
    inputs = prepared_inputs(part, future, use_covariates=True)
    assert all(torch.isnan(x["context"][1:, 80:]).all() for x in inputs)
    loader = Chronos2Dataset(
        inputs,
        context_length=80,
        prediction_length=3,
        batch_size=25 * 8,
        output_patch_size=16,
        min_past=80,
        mode=DatasetMode.TRAIN,
    )
    batch = next(iter(loader))
    contexts, targets = batch["context"].reshape(8, 25, 80), batch["future_target"].reshape(8, 25, 3)
    for context, target in zip(contexts, targets):
        i = int(np.argmin(np.abs(part.target - context[0].numpy()).sum(axis=1)))  # which window this is
        np.testing.assert_allclose(context[0].numpy(), part.target[i], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(target[0].numpy(), future[i], rtol=1e-6, atol=1e-7)
        assert torch.isnan(target[1:]).all()  # covariates are never a loss target
