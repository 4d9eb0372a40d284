"""Quantile forecast -> threshold probability, against distributions with known answers."""

import math
from statistics import NormalDist

import numpy as np
import pytest

from jobs.timesfm.probability import (
    QUANTILE_LEVELS,
    brownian_correlation,
    max_exceedance,
    step_exceedance,
    threshold_scores,
)

Z = np.array([NormalDist().inv_cdf(t) for t in QUANTILE_LEVELS])


def normal_quantiles(mu, sigma):
    """(n, H, 9) quantiles of N(mu, sigma^2) per row/step."""
    mu, sigma = np.asarray(mu, float), np.asarray(sigma, float)
    return mu[..., None] + sigma[..., None] * Z


@pytest.mark.parametrize("c", [-3.0, -1.0, 0.0, 0.3, 1.0, 1.5, 2.5, 4.0])
def test_normal_forecast_exceedance_is_exact_inside_and_beyond_the_quantiles(c):
    q = normal_quantiles([[0.5]], [[2.0]])  # one row, one step
    p = step_exceedance(q, np.array([c]))[0, 0]
    expected = 1.0 - NormalDist(0.5, 2.0).cdf(c)
    assert p == pytest.approx(expected, abs=1e-7)


def test_median_gives_one_half_and_probability_falls_with_the_threshold():
    rng = np.random.default_rng(0)
    q = np.sort(rng.normal(size=(1, 1, 9)), axis=-1)
    assert step_exceedance(q, np.array([q[0, 0, 4]]))[0, 0] == pytest.approx(0.5, abs=1e-6)
    cs = np.linspace(q.min() - 2, q.max() + 2, 50)
    ps = np.array([step_exceedance(q, np.array([c]))[0, 0] for c in cs])
    assert np.all(np.diff(ps) <= 1e-12) and ps[0] > 0.9 and ps[-1] < 0.1


def test_non_normal_forecast_is_exact_at_the_forecast_quantiles():
    # Exponential(1) quantiles: at each forecast quantile the exceedance is exactly 1 - tau.
    q = (-np.log(1 - QUANTILE_LEVELS))[None, None, :]
    for j, tau in enumerate(QUANTILE_LEVELS):
        assert step_exceedance(q, np.array([q[0, 0, j]]))[0, 0] == pytest.approx(1 - tau, abs=1e-6)


def test_crossed_or_tied_quantiles_still_give_valid_monotone_probabilities():
    q = np.array([[[0.0, 0.2, 0.1, 0.1, 0.1, 0.5, 0.4, 0.9, 0.8]]])
    cs = np.linspace(-1, 2, 31)
    ps = np.array([max_exceedance(q, np.array([c]))[0] for c in cs])
    assert np.all((ps >= 0) & (ps <= 1)) and np.all(np.diff(ps) <= 1e-12)
    assert np.isfinite(threshold_scores(q, np.array([0.1]))).all()


def test_one_step_horizon_is_the_same_under_every_dependence_assumption():
    q = normal_quantiles([[0.0], [0.2]], [[1.0], [0.5]])
    c = np.array([0.7, 0.1])
    results = [max_exceedance(q, c, dependence=d) for d in ("brownian", "comonotone", "independent")]
    expected = 1 - np.array([NormalDist(0, 1).cdf(0.7), NormalDist(0.2, 0.5).cdf(0.1)])
    for r in results:
        np.testing.assert_allclose(r, expected, atol=1e-7)


def test_comonotone_and_independent_closed_forms_and_brownian_between_them():
    q = normal_quantiles([[0.0, 0.1, 0.2]], [[1.0, 1.4, 1.7]])
    c = np.array([1.5])
    per_step = step_exceedance(q, c)[0]
    como = max_exceedance(q, c, dependence="comonotone")[0]
    indep = max_exceedance(q, c, dependence="independent")[0]
    brown = max_exceedance(q, c, dependence="brownian")[0]
    assert como == pytest.approx(per_step.max())
    assert indep == pytest.approx(1 - np.prod(1 - per_step))
    assert como < brown < indep


def test_brownian_dependence_matches_a_simulated_gaussian_random_walk():
    # X_k = sum of k iid N(m, s^2) steps: marginal N(k m, k s^2), corr sqrt(min/max) -> exact copula.
    m, s, horizon = 0.05, 1.0, 3
    k = np.arange(1, horizon + 1)
    q = normal_quantiles([k * m], [np.sqrt(k) * s])
    rng = np.random.default_rng(123)
    paths = np.cumsum(rng.normal(m, s, size=(400_000, horizon)), axis=1)
    for c in (0.5, 1.5, 3.0):
        simulated = (paths.max(axis=1) >= c).mean()
        got = max_exceedance(q, np.array([c]), dependence="brownian", n_draws=65536)[0]
        assert got == pytest.approx(simulated, abs=0.01)
        if c < 2:  # ...and both closed forms are measurably off for a random walk
            assert max_exceedance(q, np.array([c]), dependence="independent")[0] - simulated > 0.02
            assert simulated - max_exceedance(q, np.array([c]), dependence="comonotone")[0] > 0.02


def test_brownian_correlation_and_bad_dependence_name():
    corr = brownian_correlation(3)
    assert corr[0, 2] == pytest.approx(math.sqrt(1 / 3)) and np.allclose(np.diag(corr), 1)
    with pytest.raises(ValueError):
        max_exceedance(normal_quantiles([[0, 0]], [[1, 1]]), np.array([0.0]), dependence="gaussian")


def test_vectorised_rows_match_row_by_row():
    rng = np.random.default_rng(5)
    q = np.sort(rng.normal(size=(300, 3, 9)), axis=-1)
    c = rng.normal(size=300)
    full = max_exceedance(q, c)
    rows = np.array([max_exceedance(q[i : i + 1], c[i : i + 1])[0] for i in range(0, 300, 37)])
    np.testing.assert_allclose(full[::37], rows, atol=1e-12)
