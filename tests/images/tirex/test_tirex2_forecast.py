"""The job's forecasts against the package's own pipeline call, and what the covariates change."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_spec

from jobs.common import quantiles
from jobs.common.covariates import covariate_windows
from jobs.common.dataset import load_dataset
from jobs.tirex.tirex2_job import LEVELS, Forecaster, Settings, use_parallel_mlstm
from jobs.tirex.weights import ResolvedWeights, load
from shared_schema import WeightsSource


@pytest.fixture(scope="module")
def setup(bundled, tirex2_weights):
    data_dir, manifest = bundled
    spec = make_spec(manifest, model="tirex2", model_id="FD-29", horizon=3)
    windows = covariate_windows(load_dataset(Path(data_dir), spec), 3, 80, manifest.threshold)
    model = load(ResolvedWeights(tirex2_weights / "tirex2", WeightsSource(kind="random-init")), "cpu")
    return windows, model


def settings(**changes) -> Settings:
    base = dict(
        mode="zero-shot",
        covariates=True,
        pad_context=True,
        mlstm_kernel="chunkwise",
        max_train_windows=0,
        probe_l2=(1.0,),
        predict_batch_size=16,
    )
    return Settings(**(base | changes))


def test_job_quantiles_are_the_package_forecast(setup):
    """The job's (n, H, 9) array is `ForecastModel.forecast` on the window a user would pass."""
    from tirex2 import TimeseriesType

    windows, model = setup
    part = windows.val.recent(5)
    ours = Forecaster(model, settings(), 3).quantiles(part)
    for i in range(5):
        series = TimeseriesType(
            target=torch.tensor(part.target[i : i + 1], dtype=torch.float32),
            past_covariates=torch.tensor(part.covariates[i].T, dtype=torch.float32),
            future_covariates=None,
        )
        theirs = model.forecast([series], prediction_length=3, output_type="numpy")[0][0]  # (9, H)
        np.testing.assert_allclose(ours[i], theirs.T, rtol=1e-5, atol=1e-6)
    # H1's probability is the tail rule's exceedance of the t+1 quantiles at the barrier
    p = quantiles.exceedance(LEVELS, ours[:, 0, :], part.barrier)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_array_equal(p > 0.5, np.median(ours[:, 0, :], axis=1) > part.barrier)


def test_covariates_reach_the_model(setup):
    windows, model = setup
    part = windows.val.recent(4)
    seen = Forecaster(model, settings(), 3).quantiles(part)
    alone = Forecaster(model, settings(covariates=False), 3).quantiles(part)
    assert not np.allclose(seen, alone)


def test_embeddings_are_the_target_variates_last_context_token(setup):
    windows, model = setup
    part = windows.val.recent(6)
    forecaster = Forecaster(model, settings(predict_batch_size=4), 3)
    embedded = forecaster.embeddings(part)
    assert embedded.shape == (6, model.model.embedding_dim) and np.isfinite(embedded).all()
    # batching does not change a window's embedding; different windows differ
    np.testing.assert_allclose(embedded[4:], forecaster.embeddings(windows.val.recent(2)), rtol=1e-4, atol=1e-5)
    assert not np.allclose(embedded[0], embedded[1])


@pytest.mark.parametrize("pad_context", [True, False])
def test_the_parallel_mlstm_kernel_forecasts_what_the_chunkwise_one_does(setup, tirex2_weights, pad_context):
    """mlstm_kernel='parallel': the quadratic form over the unpadded sequence, the package's chunkwise kernel
    (zero-padded to its 64-token chunk) computes the same function: quantiles agree to float rounding."""
    windows, chunkwise_model = setup
    part = windows.val.recent(6)
    model = load(ResolvedWeights(tirex2_weights / "tirex2", WeightsSource(kind="random-init")), "cpu")
    assert use_parallel_mlstm(model) == 1  # the tiny config's one mLSTM block (both directions share its cell)
    chunkwise = Forecaster(chunkwise_model, settings(pad_context=pad_context), 3).quantiles(part)
    parallel = Forecaster(model, settings(pad_context=pad_context, mlstm_kernel="parallel"), 3).quantiles(part)
    np.testing.assert_allclose(parallel, chunkwise, rtol=1e-5, atol=1e-6)
    kernels = {m.mlstm_backend.config.chunkwise_kernel for m in model.model.modules() if hasattr(m, "mlstm_backend")}
    assert kernels == {"parallel--native_autograd"}
