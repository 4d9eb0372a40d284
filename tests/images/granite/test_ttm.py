"""TTM on torch 2.13: the published layout loads (as published and with the 24 exogenous channels),
the padded context, and no look-ahead through the exogenous channels."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_spec

from jobs.common.covariates import covariate_windows
from jobs.common.dataset import load_dataset
from jobs.granite.ttm_job import Forecaster, Settings, load, model_inputs
from jobs.granite.weights import TTM, resolve_weights

SETTINGS = Settings(
    mode="fine-tune",
    max_steps=2,
    batch_size=4,
    lr=1e-3,
    eval_every=1,
    patience=1,
    max_train_windows=0,
    max_val_windows=0,
    probe_l2=(1.0,),
    predict_batch_size=8,
)


@pytest.fixture(scope="module")
def setup(bundled, ttm_weights):
    data_dir, manifest = bundled
    spec = make_spec(manifest, model="ttm", model_id="FD-34", horizon=3)
    dataset = load_dataset(Path(data_dir), spec)
    return spec, dataset, covariate_windows(dataset, 3, 80, manifest.threshold), resolve_weights(ttm_weights, TTM)


def test_inputs_pad_the_context_to_the_checkpoint_and_mark_the_padding(setup):
    _, _, windows, _ = setup
    part = windows.val.recent(4)
    values, observed = model_inputs(part, 90, exogenous=True)
    assert values.shape == (4, 90, 25) and observed.shape == (4, 90, 25)
    assert not observed[:, :10].any() and observed[:, 10:].all()
    np.testing.assert_allclose(values[:, 10:, 0].numpy(), part.target, rtol=1e-6)
    np.testing.assert_allclose(values[:, 10:, 1:].numpy(), part.covariates, rtol=1e-6)
    assert model_inputs(part, 90, exogenous=False)[0].shape == (4, 90, 1)


def test_the_checkpoint_loads_as_published_and_with_exogenous_channels(setup):
    spec, _, windows, resolved = setup
    published = load(resolved, spec, exogenous=False)
    mixing = load(resolved, spec, exogenous=True)
    assert published.config.num_input_channels == 1 and mixing.config.num_input_channels == 25
    shared = set(published.state_dict()) & set(mixing.state_dict())
    assert shared and all(
        torch.equal(published.state_dict()[k], mixing.state_dict()[k]) for k in shared if "backbone" in k
    )
    part = windows.val.recent(5)
    paths = Forecaster(mixing, SETTINGS, 3, torch.device("cpu"), exogenous=True).point_paths(part)
    assert paths.shape == (5, 3) and np.isfinite(paths).all()


def test_covariates_change_the_forecast_but_their_future_never_enters(setup):
    """Decoder channel mixing reads the 24 features' past; their future (unknown at t) is not an input."""
    spec, _, windows, resolved = setup
    model = load(resolved, spec, exogenous=True).eval()
    part = windows.val.recent(4)
    values, observed = model_inputs(part, 90, exogenous=True)
    with torch.no_grad():
        base = model(past_values=values, past_observed_mask=observed).prediction_outputs
        reshaped = values.clone()
        reshaped[:, :, 1:] = reshaped[:, :, 1:].flip(1)  # other paths: per-window scaling removes a mere shift
        moved = model(past_values=reshaped, past_observed_mask=observed).prediction_outputs
        future = torch.randn(4, 3, 25)
        with_future = model(past_values=values, past_observed_mask=observed, future_values=future).prediction_outputs
    assert not torch.allclose(base, moved)
    torch.testing.assert_close(base, with_future)


@pytest.mark.parametrize(("exogenous", "series", "calls"), [(True, 50, 3), (False, 2, 3), (False, 512, 1)])
def test_predict_batch_size_counts_series_and_changes_no_forecast(setup, exogenous, series, calls):
    """predict_batch_size is series per forward pass (windows x channels): with the 25 exogenous channels 50
    series are 2 windows a call; every batch size gives the same paths as one call on all windows."""
    spec, _, windows, resolved = setup
    model = load(resolved, spec, exogenous=exogenous)
    part = windows.val.recent(5)
    seen = []
    hook = model.register_forward_hook(
        lambda _m, inputs, kwargs, _o: seen.append(len(kwargs["past_values"])), with_kwargs=True
    )
    batched = Forecaster(
        model,
        Settings(**{**SETTINGS.__dict__, "predict_batch_size": series}),
        3,
        torch.device("cpu"),
        exogenous=exogenous,
    ).point_paths(part)
    hook.remove()
    assert len(seen) == calls and sum(seen) == 5
    whole = Forecaster(
        model,
        Settings(**{**SETTINGS.__dict__, "predict_batch_size": 10_000}),
        3,
        torch.device("cpu"),
        exogenous=exogenous,
    ).point_paths(part)
    np.testing.assert_allclose(batched, whole, rtol=1e-5, atol=1e-7)
