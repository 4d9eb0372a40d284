"""The differentiable forward, fine-tuning and the probe representation on a reduced TimesFM 2.5."""

import numpy as np
import pytest
from conftest import make_spec

from jobs.common.dataset import Dataset
from jobs.common.windows import make_windows
from jobs.timesfm import model as tfm_model
from jobs.timesfm.data import build_series
from jobs.timesfm.finetune import fine_tune
from jobs.timesfm.runner import Runner
from jobs.timesfm.settings import Settings
from jobs.timesfm.weights import resolve_weights


@pytest.fixture(scope="module")
def series(bundled):
    import pandas as pd

    folder, manifest = bundled
    frame = pd.read_parquet(folder / "sp500.parquet")
    spec = make_spec(manifest, horizon=3)
    return spec, Dataset(manifest=manifest, frame=frame), build_series(Dataset(manifest=manifest, frame=frame), spec)


def _runner(small_weights, spec, **hyper):
    spec = spec.model_copy(update={"hyperparameters": hyper})
    return Runner(tfm_model.load_model(resolve_weights(small_weights)), spec, Settings.from_spec(spec))


def test_samples_are_the_rows_every_other_model_scores(series):
    spec, dataset, parts = series
    windows = make_windows(dataset, spec.horizon, spec.context_length, flat=True)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(parts[name].rows, windows.split(name).row_index)
        np.testing.assert_array_equal(parts[name].y, windows.split(name).y)
    # label definition: max High over t+1..t+H >= (1+thr) Close_t  <=>  max future log High >= c
    for name in ("val", "test"):
        part = parts[name]
        np.testing.assert_array_equal((part.future.max(axis=1) >= part.c - 1e-6).astype(np.int8), part.y)


def test_forward_mirrors_the_package_decode(small_weights, series):
    import jax.numpy as jnp

    spec, _, parts = series
    runner = _runner(small_weights, spec, mode="zero-shot", flip_invariance=False)
    sub = parts["val"].take(slice(0, 8))
    q_package = runner.forecast_channels(sub)[..., 1:]  # (8, 3, 9) quantiles through wrapper.compile + forecast
    values, masks = tfm_model.pad_left(sub.context)
    _, out, mu, sigma = tfm_model.forward(runner.module, jnp.asarray(values), jnp.asarray(masks))
    q_forward = np.asarray(out[:, :3, 1:]) * np.asarray(sigma)[:, None, None] + np.asarray(mu)[:, None, None]
    # the package also fixes quantile crossing; the median (never moved by that fix) must agree
    np.testing.assert_allclose(q_forward[..., 4], q_package[..., 4], rtol=0, atol=2e-3)
    assert q_package.shape == (8, 3, 9) and np.all(np.diff(q_package, axis=-1) >= -1e-6)


@pytest.mark.parametrize("params", ["all", "heads"])
def test_fine_tuning_lowers_the_quantile_loss_and_respects_the_frozen_set(small_weights, series, params):
    from flax import nnx

    spec, _, parts = series
    runner = _runner(
        small_weights,
        spec,
        mode="fine-tune",
        lr=3e-3,
        batch_size=16,
        max_steps=16,
        eval_every=4,
        patience=10,
        finetune_params=params,
    )
    before = {str(p): np.asarray(v) for p, v in nnx.to_flat_state(nnx.state(runner.module, nnx.Param))}
    data = parts["train"].take(slice(-64, None))
    info = fine_tune(runner, data, data, runner.settings, seed=0)  # val = train: the loss must drop
    assert info["steps"] == 16 and info["best_val_loss"] < info["initial_val_loss"]
    after = {str(p): np.asarray(v) for p, v in nnx.to_flat_state(nnx.state(runner.module, nnx.Param))}
    changed = {p for p in before if not np.array_equal(before[p], after[p])}
    head = {p for p in before if "output_projection" in p}
    if params == "heads":
        assert changed and changed <= head
    else:
        assert any("stacked_xf" in p for p in changed) and any("tokenizer" in p for p in changed)


def test_probe_representation_is_one_embedding_per_window(small_weights, series):
    spec, _, parts = series
    runner = _runner(small_weights, spec, mode="linear-probe")
    sub = parts["val"].take(slice(0, 70))  # crosses a batch boundary (64)
    emb = runner.embeddings(sub)
    assert emb.shape == (70, 64) and np.isfinite(emb).all()
    np.testing.assert_allclose(runner.embeddings(sub.take(slice(64, 70))), emb[64:], rtol=1e-4, atol=1e-4)
    assert np.std(emb, axis=0).mean() > 0
