"""jobs/common/quantiles.py: P(hit) from quantiles or sampled paths, and the tail rule."""

from statistics import NormalDist

import numpy as np
import pytest

from jobs.common.quantiles import (
    exceedance,
    median_path,
    path_hit_from_samples,
    point_score,
    quantile_features,
)

CHRONOS_LEVELS = np.array([0.01, 0.05, *np.round(np.arange(0.1, 0.91, 0.1), 2), 0.95, 0.99])
UNIFORM_LEVELS = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])


def normal_quantiles(levels, mean=0.0, sd=1.0):
    return np.array([NormalDist(mean, sd).inv_cdf(float(t)) for t in levels])


def test_inside_the_quantiles_the_cdf_is_linear_between_knots():
    q = np.arange(9, dtype=float)  # quantile tau_j = 0.1 (j + 1) at value j: F(c) = 0.1 (c + 1) inside
    barriers = np.array([0.0, 0.5, 3.25, 7.9, 8.0])
    p = exceedance(UNIFORM_LEVELS, np.tile(q, (5, 1)), barriers)
    np.testing.assert_allclose(p, 1 - 0.1 * (barriers + 1), atol=1e-7)


def test_the_tail_rule_exponential_through_the_two_outermost_quantiles():
    q = np.arange(9, dtype=float)
    # above q_J = 8: (1 - 0.9) exp(-(c - 8) / b), b = 1 / log(0.2 / 0.1)
    b_high = 1 / np.log(2.0)
    above = exceedance(UNIFORM_LEVELS, q, 8.0 + np.array([0.5, 1.0, 3.0]))
    np.testing.assert_allclose(above, 0.1 * np.exp(-np.array([0.5, 1.0, 3.0]) / b_high), rtol=1e-6)
    # continuity at the outermost quantiles, and the extension meets q_{J-1} on its own line
    np.testing.assert_allclose(exceedance(UNIFORM_LEVELS, q, [8.0 - 1e-12, 8.0 + 1e-12]), [0.1, 0.1], atol=1e-7)
    # below q_1 = 0: F(c) = 0.1 exp(c / b_lo), b_lo = 1 / log(0.2 / 0.1)
    below = exceedance(UNIFORM_LEVELS, q, np.array([-1.0, -4.0]))
    np.testing.assert_allclose(1 - below, 0.1 * np.exp(np.array([-1.0, -4.0]) * np.log(2.0)), rtol=1e-6)
    far = exceedance(UNIFORM_LEVELS, q, np.array([-1e6, 1e6]))
    assert far[0] == pytest.approx(1.0) and far[1] == pytest.approx(0.0) and 0 <= far[1] < 1e-12


def test_chronos_grid_recovers_a_normal_forecast():
    """With Chronos-2's 21 levels (0.01..0.99), a normal forecast's exceedance is close to the truth
    everywhere the grid covers, and the tails stay within a few tenths of a percent beyond it."""
    q = normal_quantiles(CHRONOS_LEVELS, mean=0.002, sd=0.01)
    barriers = np.linspace(-0.03, 0.035, 27)
    truth = np.array([1 - NormalDist(0.002, 0.01).cdf(c) for c in barriers])
    p = exceedance(CHRONOS_LEVELS, np.tile(q, (len(barriers), 1)), barriers)
    assert np.max(np.abs(p - truth)) < 0.012
    assert np.all(np.diff(p) < 0)  # strictly decreasing in the barrier, tails included


def test_crossed_and_tied_quantiles():
    crossed = np.array([0.0, 2.0, 1.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])  # the running maximum repairs it
    repaired = np.array([0.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    barriers = np.array([1.5, 2.0 - 1e-6, 2.0 + 1e-6, 2.5])
    np.testing.assert_allclose(exceedance(UNIFORM_LEVELS, crossed, barriers), [0.825, 0.8, 0.7, 0.65], atol=1e-5)
    np.testing.assert_array_equal(
        exceedance(UNIFORM_LEVELS, crossed, barriers), exceedance(UNIFORM_LEVELS, repaired, barriers)
    )
    tied = np.zeros(9)  # a point mass: the whole probability jumps at the value
    p = exceedance(UNIFORM_LEVELS, np.tile(tied, (3, 1)), np.array([-1e-3, 0.0, 1e-3]))
    assert p[0] > 0.999 and p[2] < 0.001 and np.all(np.isfinite(p))


def test_levels_must_be_increasing_inside_the_unit_interval():
    with pytest.raises(ValueError, match="strictly increasing"):
        exceedance(np.array([0.5, 0.1]), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="quantile values for"):
        exceedance(UNIFORM_LEVELS, np.zeros(3), 0.0)


def test_path_hit_counts_paths_whose_maximum_reaches_the_barrier():
    paths = np.array([[[0.0, 0.02, -0.01], [0.0, 0.0, 0.0], [0.011, -1.0, -1.0], [0.0, 0.0, 0.01]]])
    assert path_hit_from_samples(paths, 0.01)[0] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="windows, samples, steps"):
        path_hit_from_samples(paths[0], 0.01)


def test_median_point_score_and_probe_features():
    q = np.stack([np.arange(9.0), np.arange(9.0) + 2])  # two steps; medians 4 and 6
    assert median_path(UNIFORM_LEVELS, q).tolist() == pytest.approx([4.0, 6.0])
    chronos = np.tile(normal_quantiles(CHRONOS_LEVELS, 1.0), (1, 1))
    assert median_path(CHRONOS_LEVELS, chronos)[0] == pytest.approx(1.0, abs=1e-6)
    assert point_score(UNIFORM_LEVELS, q[None], np.array([5.0]))[0] == pytest.approx(1.0)
    features = quantile_features(UNIFORM_LEVELS, q[None].repeat(2, 0), np.array([5.0, 0.0]))
    assert features.shape == (2, 2 * 10)
    assert features[0, 4] == pytest.approx(-1.0) and features[1, 4] == pytest.approx(4.0)  # median - barrier
    assert features[0, -2] == pytest.approx(exceedance(UNIFORM_LEVELS, q[0], 5.0))
