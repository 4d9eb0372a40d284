"""jobs/common/windows.py: windows that end at t and never see later rows, level-free price inputs,
and normalisation statistics fitted on the training windows only."""

import numpy as np
import pytest

from jobs.common.dataset import load_dataset
from jobs.common.windows import make_windows
from tests.support.helpers import make_spec


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
