"""Sampling: P(hit) against known distributions; cached and uncached sampling agree."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from jobs.lagllama.config import LagLlamaConfig
from jobs.lagllama.data import SeriesData, barrier
from jobs.lagllama.features import lag_tokens, scale_history
from jobs.lagllama.model import KVCache, LagLlamaModule
from jobs.lagllama.sampling import (
    antithetic_hit_probability,
    antithetic_uniforms,
    draw_uniforms,
    exact_one_step_hit,
    hit_probability,
    median_uniforms,
    sample_paths,
)


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    high = close * (1 + np.abs(rng.normal(0, 0.005, n)))
    dates = pd.bdate_range("2000-01-03", periods=n)
    return pd.DataFrame({"date": dates.date, "high": high, "close": close})


class StubModel(torch.nn.Module):
    """Next value ~ Student-t(df, mu, sigma) in scaled units; mu = current value (random walk) or a constant."""

    def __init__(self, config: LagLlamaConfig, df: float, sigma: float, walk: bool, level: float = 0.0):
        super().__init__()
        self.config, self.df, self.sigma, self.walk, self.level = config, df, sigma, walk, level

    def forward(self, tokens, cache: KVCache | None = None):
        if cache is not None:
            cache.length += tokens.shape[1]
        current = tokens[..., 0]  # lag index 0: the token's own value
        mu = current if self.walk else torch.full_like(current, self.level)
        return torch.full_like(current, self.df), mu, torch.full_like(current, self.sigma)


def _iqr(history: np.ndarray) -> float:
    q1, q3 = np.percentile(history, [25, 75])
    return float(q3 - q1)


def test_hit_probability_counts_paths_whose_maximum_reaches_the_barrier():
    paths = torch.tensor([[[1.0, 3.0, 2.0], [1.0, 1.5, 1.9]], [[0.0, 0.0, 0.0], [5.0, -1.0, 0.0]]])
    assert hit_probability(paths, torch.tensor([2.0, 0.5])).tolist() == [0.5, 0.5]


def _random_walk_case():
    """Two windows of a Student-t random walk (in scaled units) and a barrier one step-scale above
    today's value, in price units: (config, df, sigma, horizon, batch, barrier level)."""
    config = LagLlamaConfig(context_length=4)
    df, sigma, horizon = 5.0, 0.05, 3
    series = SeriesData.build(_frame(1300, seed=1), config, "high")
    batch = series.forecast_batch(np.array([1200, 1250]), horizon)
    history = batch.history.numpy().astype(np.float64)
    step = np.array([sigma * _iqr(h) for h in history])  # one step's scale in price units
    return config, df, sigma, horizon, batch, torch.from_numpy(history[:, -1] + step)


@pytest.mark.parametrize("use_cache", [True, False])
def test_random_walk_probability_matches_a_large_monte_carlo(use_cache):
    """Joint behaviour over H=3: P(max of partial sums >= d), not a product of per-step marginals."""
    config, df, sigma, horizon, batch, level = _random_walk_case()
    model = StubModel(config, df, sigma, walk=True)
    samples = 20_000 if use_cache else 4_000
    u = draw_uniforms(2, samples, horizon, torch.Generator().manual_seed(3))
    p = hit_probability(
        sample_paths(model, batch, horizon, uniforms=u, use_cache=use_cache).paths.double(), level
    ).numpy()

    eps = stats.t.rvs(df, size=(1_000_000, horizon), random_state=np.random.default_rng(4))
    partial = np.cumsum(eps, axis=1)
    reference = float((partial.max(axis=1) >= 1.0).mean())
    marginal_product = 1 - np.prod([1 - (partial[:, h] >= 1.0).mean() for h in range(horizon)])
    tolerance = 4 * np.sqrt(reference * (1 - reference) / samples) + 0.003
    assert np.all(np.abs(p - reference) < tolerance), (p, reference)
    assert abs(marginal_product - reference) > 0.1  # a per-step (non-joint) estimate would fail above


def test_one_step_probability_matches_the_exact_student_t_tail():
    config = LagLlamaConfig(context_length=4)
    frame = _frame(1300, seed=2)
    series = SeriesData.build(frame, config, "high")
    rows = np.array([1100, 1299])
    batch = series.forecast_batch(rows, 1)
    loc, scale = scale_history(config, batch.history, batch.observed)
    barrier_level = torch.from_numpy(barrier(frame, rows, 0.01, "high"))
    z = (barrier_level.numpy() - loc[:, 0].double().numpy()) / scale[:, 0].double().numpy()  # barrier, scaled
    df, level = 3.0, float(z.mean()) - 0.1
    sigma = float(np.abs(z - level).max()) + 0.1
    u = draw_uniforms(len(rows), 40_000, 1, torch.Generator().manual_seed(5))
    p = hit_probability(
        sample_paths(StubModel(config, df, sigma, walk=False, level=level), batch, 1, uniforms=u).paths.double(),
        barrier_level,
    ).numpy()
    exact = stats.t.sf(z, df, loc=level, scale=sigma)
    assert np.all(exact > 0.02) and np.all(exact < 0.98)  # the check is not trivially 0 or 1
    assert np.allclose(p, exact, atol=4 * np.sqrt(0.25 / 40_000) + 1e-3), (p, exact)
    # The job's H=1 path: the tail itself, from one median path (no sampling error at all).
    median = sample_paths(
        StubModel(config, df, sigma, walk=False, level=level), batch, 1, uniforms=median_uniforms(len(rows), 1)
    )
    assert np.allclose(exact_one_step_hit(median, barrier_level).numpy(), exact, rtol=1e-6, atol=1e-9)
    assert np.allclose(
        median.paths[:, 0, 0].double().numpy(),
        level * scale[:, 0].double().numpy() + loc[:, 0].double().numpy(),
        rtol=1e-5,
    )  # u = 0.5 is the Student-t median


def test_rescaling_each_step_refits_the_scaler_on_history_plus_samples():
    """The published sampler's re-fit: for a random walk in scaled units, each raw increment is
    sigma * IQR(history + samples so far) * t-quantile(u); the once-fitted sampler uses the
    history's IQR throughout, so its paths differ after the first step."""
    config, df, sigma, horizon, batch, _ = _random_walk_case()
    model = StubModel(config, df, sigma, walk=True)
    u = draw_uniforms(2, 3, horizon, torch.Generator().manual_seed(7))
    paths = (
        sample_paths(model, batch, horizon, uniforms=u, use_cache=False, rescale_each_step=True).paths.double().numpy()
    )
    once = sample_paths(model, batch, horizon, uniforms=u, use_cache=False).paths.double().numpy()
    history = batch.history.numpy().astype(np.float64)
    for w in range(2):
        for path in range(3):
            raw = list(history[w])
            for k in range(horizon):
                expected = raw[-1] + sigma * _iqr(np.array(raw)) * stats.t.ppf(float(u[w, path, k]), df)
                assert abs(paths[w, path, k] - expected) < 2e-3 * max(1.0, abs(expected) * 1e-2), (w, path, k)
                raw.append(expected)
    assert np.allclose(paths[:, :, 0], once[:, :, 0]) and not np.allclose(
        paths[:, :, 1:], once[:, :, 1:], rtol=0, atol=1e-6
    )
    with pytest.raises(ValueError, match="cannot use the key/value cache"):
        sample_paths(model, batch, horizon, uniforms=u, use_cache=True, rescale_each_step=True)


def test_antithetic_paths_reach_the_standard_error_target():
    """2,500 antithetic paths over H=3: the recorded SE is <= 0.01 and the estimate is within 4 SE of
    a 1,000,000-draw reference."""
    config, df, sigma, horizon, batch, level = _random_walk_case()
    u = antithetic_uniforms(2, 2500, horizon, torch.Generator().manual_seed(3))
    assert torch.allclose(u[:, 1250:], 1 - u[:, :1250])
    p, se = antithetic_hit_probability(
        sample_paths(StubModel(config, df, sigma, walk=True), batch, horizon, uniforms=u).paths.double(), level
    )
    eps = stats.t.rvs(df, size=(1_000_000, horizon), random_state=np.random.default_rng(4))
    reference = float((np.cumsum(eps, axis=1).max(axis=1) >= 1.0).mean())
    assert torch.all(se <= 0.01) and torch.all(se > 0)
    assert torch.all((p - reference).abs() < 4 * se + 0.002), (p, se, reference)
    with pytest.raises(ValueError, match="even number"):
        antithetic_uniforms(1, 7, 3, torch.Generator())


@pytest.mark.parametrize(
    "config", [LagLlamaConfig(), LagLlamaConfig(context_length=8, n_layer=2, n_head=2)], ids=["released", "tiny"]
)
def test_cached_and_uncached_sampling_agree(config):
    torch.manual_seed(0)
    model = LagLlamaModule(config).model.eval()
    series = SeriesData.build(_frame(1400, seed=3), config, "high")
    batch = series.forecast_batch(np.array([1150, 1300, 1399]), 3)
    u = draw_uniforms(3, 6, 3, torch.Generator().manual_seed(11))
    cached = sample_paths(model, batch, 3, uniforms=u, use_cache=True)
    uncached = sample_paths(model, batch, 3, uniforms=u, use_cache=False)
    assert torch.allclose(cached.paths, uncached.paths, rtol=1e-5, atol=1e-3)
    for (df_c, mu_c, s_c), (df_u, mu_u, s_u) in zip(cached.steps, uncached.steps):
        for a, b in ((df_c, df_u), (mu_c, mu_u), (s_c, s_u)):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    # samples differ across paths and across seeds (the comparison above is not vacuous)
    assert cached.paths[:, :, 1].std(dim=1).min() > 0
    other = sample_paths(model, batch, 3, uniforms=draw_uniforms(3, 6, 3, torch.Generator().manual_seed(12)))
    assert not torch.allclose(other.paths, cached.paths)
    # the same seed gives the same paths
    again = sample_paths(model, batch, 3, uniforms=draw_uniforms(3, 6, 3, torch.Generator().manual_seed(11)))
    assert torch.equal(again.paths, cached.paths)


def test_tokens_carry_lags_scale_and_time_features():
    config = LagLlamaConfig(context_length=4)
    frame = _frame(1200, seed=4)
    series = SeriesData.build(frame, config, "high")
    batch = series.forecast_batch(np.array([1199]), 1)
    loc, scale = scale_history(config, batch.history, batch.observed)
    scaled = (batch.history - loc) / scale
    length = config.history_length
    tokens = lag_tokens(
        config, scaled, torch.arange(length - 4, length), loc=loc, scale=scale, time_feat=batch.past_time
    )
    assert tokens.shape == (1, 4, 92)
    high = frame["high"].to_numpy()
    last = tokens[0, -1]
    for j, lag in enumerate(config.lags_seq[:5]):
        expected = (high[1199 - lag] - float(loc)) / float(scale)
        assert abs(float(last[j]) - expected) < 1e-3
    assert torch.allclose(last[84:86], torch.cat((loc.abs().log1p(), scale.log()), dim=-1)[0])
    day_of_week = pd.Timestamp(frame["date"].iloc[1199]).dayofweek / 6.0 - 0.5
    assert abs(float(last[86 + 3]) - day_of_week) < 1e-6


def test_history_before_the_series_start_is_padded_and_unobserved():
    config = LagLlamaConfig(context_length=4)
    series = SeriesData.build(_frame(300, seed=5), config, "high")
    batch = series.forecast_batch(np.array([99, 299]), 1)
    assert batch.history.shape == (2, config.history_length)
    assert batch.observed[0].sum() == 100 and batch.observed[1].sum() == 300
    assert not series.has_full_history(np.array([299]))[0]
    assert series.has_full_history(np.array([config.history_length - 1]))[0]


def test_log_high_series_uses_a_log_barrier():
    frame = _frame(50, seed=6)
    config = LagLlamaConfig(context_length=4)
    rows = np.array([10, 20])
    assert np.allclose(barrier(frame, rows, 0.01, "log-high"), np.log(barrier(frame, rows, 0.01, "high")))
    series = SeriesData.build(frame, config, "log-high")
    assert np.allclose(series.values[series.pad :], np.log(frame["high"].to_numpy()))
    with pytest.raises(ValueError, match="series"):
        SeriesData.build(frame, config, "close")
