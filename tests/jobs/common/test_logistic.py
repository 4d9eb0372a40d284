"""jobs/common/logistic.py: the NumPy probe fitter, checked against the penalised optimum and the torch fitter."""

import tracemalloc

import numpy as np
import pytest

from jobs.common import logistic
from jobs.common.logistic import fit_logistic, fit_wide_logistic


def test_numpy_logistic_fit_is_the_penalised_optimum():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 5))
    y = (x @ np.array([1.5, -1.0, 0.0, 0.5, 0.0]) + 0.3 + rng.standard_normal(400) > 0).astype(np.int8)
    l2 = 0.01
    weights, bias = fit_logistic(x, y, l2)
    p = 1 / (1 + np.exp(-(x @ weights + bias)))
    gradient = np.append(x.T @ (p - y) / len(y) + l2 * weights, np.mean(p - y))
    assert np.max(np.abs(gradient)) < 1e-8
    assert weights[0] > 1.0 and weights[1] < -0.5
    with pytest.raises(ValueError, match="l2 must be > 0"):
        fit_logistic(x, y, 0.0)


def test_numpy_logistic_matches_the_torch_fitter():
    torch = pytest.importorskip("torch")  # noqa: F841 (the Timer job's L-BFGS fitter needs it)
    from jobs.timer.job import fit_logistic as torch_fit

    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 8))
    y = (x[:, 0] + rng.standard_normal(300) > 0).astype(np.int8)
    ours, theirs = fit_logistic(x, y, 0.1), torch_fit(x, y, 0.1)
    np.testing.assert_allclose(ours[0], theirs[0], atol=1e-4)  # L-BFGS stops within ~1e-5
    assert ours[1] == pytest.approx(theirs[1], abs=1e-4)


def test_the_wide_head_reaches_the_primal_optimum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 150))
    y = (x[:, 0] + rng.normal(size=40) > 0).astype(float)
    for l2 in (1e-2, 1.0):
        weights, bias = fit_wide_logistic(x, y, l2)
        expected_weights, expected_bias = fit_logistic(x, y, l2)
        np.testing.assert_allclose(weights, expected_weights, atol=1e-7)
        assert abs(bias - expected_bias) < 1e-7


def test_the_wide_head_is_the_same_optimum_read_in_column_blocks(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 100))
    y = (x[:, 0] + rng.normal(size=30) > 0).astype(float)
    whole = fit_wide_logistic(x, y, 0.1)
    monkeypatch.setattr(logistic, "COLUMN_BLOCK", 7)  # 15 blocks, the last one short
    blocked = fit_wide_logistic(x, y, 0.1)
    np.testing.assert_allclose(blocked[0], whole[0], atol=1e-10)
    assert blocked[1] == pytest.approx(whole[1], abs=1e-10)


def test_float32_features_are_never_copied_whole_to_float64():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 200_000)).astype(np.float32)  # 51 MB; a float64 copy would be 102 MB
    y = (x[:, 0] > 0).astype(float)
    tracemalloc.start()
    try:
        weights, _ = fit_wide_logistic(x, y, 1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert weights.shape == (200_000,) and weights.dtype == np.float64
    assert peak < 0.5 * x.nbytes  # the weights (1.6 MB), the kernel, one float64 block (4 MB): no copy of x
