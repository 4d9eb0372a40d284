"""TiRex 1.x classifier pieces on a random-init checkpoint in the published Lightning layout: the
package's loader reads it, the job's embedding is the package's own call, and no statistic crosses
windows or splits."""

import numpy as np
import pytest
import torch

from jobs.tirex.tirexcls_job import Embedder, TrainStatistics, features, package_embedding
from jobs.tirex.tirexcls_weights import CHECKPOINT_FILE, MODEL_DIR, load, resolve_weights


@pytest.fixture(scope="module")
def model(tirexcls_weights):
    return load(resolve_weights(tirexcls_weights), "cpu")


@pytest.fixture(scope="module")
def windows():
    generator = torch.Generator().manual_seed(3)
    return torch.randn(12, 25, 80, generator=generator).cumsum(-1).numpy()


def package_own(model, monkeypatch, data_augmentation: bool):
    """The package's TiRexEmbedding as a user builds it, its hub load answered by the loaded model."""
    import tirex.models.embedding as embedding_module

    monkeypatch.setattr(embedding_module, "load_model", lambda path, device, compile: model)
    return embedding_module.TiRexEmbedding(device="cpu", data_augmentation=data_augmentation, batch_size=5).eval()


def test_the_checkpoint_loads_through_the_package_loader(tirexcls_weights, model):
    from tirex import load_model
    from tirex.base import PretrainedModel

    checkpoint = tirexcls_weights / MODEL_DIR / CHECKPOINT_FILE
    saved = torch.load(checkpoint, weights_only=True)  # what the package reads: no pickled code
    assert any(name.startswith("block_stack.") for name in saved["state_dict"])  # renamed by on_load_checkpoint
    assert type(model) is PretrainedModel.REGISTRY["TiRex"]
    assert model.config.quantiles == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    with pytest.raises(ValueError, match="Invalid model id"):  # why the job does not pass a path to load_model
        load_model(str(checkpoint))


@pytest.mark.parametrize("data_augmentation", [False, True])
def test_the_embedding_is_the_packages_own_call(model, windows, monkeypatch, data_augmentation):
    ours = Embedder(package_embedding(model, data_augmentation=data_augmentation, batch_size=5))(windows)
    with torch.inference_mode():
        theirs = package_own(model, monkeypatch, data_augmentation)(torch.from_numpy(windows)).double().numpy()
    # the package standardises the statistics with the embedded batch's own: fitted on this batch, ours equal it
    scaler = TrainStatistics.fit(ours.statistics) if data_augmentation else None
    np.testing.assert_allclose(features(ours, scaler), theirs, rtol=1e-5, atol=1e-5)
    assert theirs.shape[1] == 25 * 2 * 32 * (2 if data_augmentation else 1) + (25 * 8 * 4 if data_augmentation else 0)


def test_a_windows_features_do_not_depend_on_the_other_windows(model, windows):
    embed = Embedder(package_embedding(model, data_augmentation=True, batch_size=4))
    train = embed(windows[:6])
    scaler = TrainStatistics.fit(train.statistics)
    together = features(embed(windows[6:]), scaler)
    changed = windows[6:].copy()
    changed[1:] = np.flip(changed[1:], axis=-1) * 3.0  # every other test window replaced
    alone = features(embed(changed), scaler)
    np.testing.assert_allclose(alone[0], together[0], rtol=1e-6, atol=1e-6)
    assert not np.allclose(alone[1], together[1])
    # the statistics' scale comes from the training windows only: other test windows move nothing
    single = features(embed(windows[6:7]), scaler)
    np.testing.assert_allclose(single[0], together[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("data_augmentation", [False, True])
def test_the_shared_padding_prefix_embeds_what_the_package_does(model, windows, data_augmentation):
    """padding_prefix='shared' runs the recurrence over the context's left padding (48 NaN days = 3 patches
    here) once and starts every series from that state: the package's per-series embedding, up to the
    rounding of the package's bfloat16 sLSTM state (features are layer-normed, ~1 in size)."""
    embedders = {
        prefix: Embedder(
            package_embedding(model, data_augmentation=data_augmentation, batch_size=5, padding_prefix=prefix)
        )
        for prefix in ("per-series", "shared")
    }
    per_series, shared = (embedders[prefix](windows) for prefix in ("per-series", "shared"))
    assert shared.embedding.dtype == np.float32 and shared.embedding.shape == per_series.embedding.shape
    difference = np.abs(shared.embedding - per_series.embedding)
    assert difference.max() < 0.05
    assert np.linalg.norm(difference) < 5e-3 * np.linalg.norm(per_series.embedding)
    assert embedders["shared"].module.model._states.keys() == {3}  # computed once, for 3 padded patches
    if data_augmentation:
        np.testing.assert_array_equal(shared.statistics, per_series.statistics)


def test_padding_prefix_is_validated(model):
    with pytest.raises(ValueError, match="padding_prefix must be one of"):
        package_embedding(model, data_augmentation=False, batch_size=5, padding_prefix="cached")
