"""Autoregressive sample paths from Lag-Llama, with or without a key/value cache, and P(hit).

Randomness: one tensor of uniforms U (windows, samples, horizon) is drawn up front from a seeded
generator and every step's value is the Student-t quantile at U (GluonTS StudentT.icdf). The same
seed therefore gives the same paths whichever way the distribution parameters are computed, so
cached and uncached sampling can be compared sample by sample.
"""

from dataclasses import dataclass

import torch
from gluonts.torch.distributions.studentT import StudentT

from jobs.lagllama.features import lag_tokens, scale_history
from jobs.lagllama.model import KVCache, LagLlamaModel

U_EPS = 1e-9


@dataclass(frozen=True)
class ForecastBatch:
    """What one forecast needs per window (B windows), in the model's own series units.

    history: (B, history_length) values ending at t; observed: 1 where the value is real, 0 for
    left padding before the series starts; past_time: (B, context_length, 6) time features of the
    last context_length dates; future_time: (B, H - 1, 6) of dates t+1..t+H-1 (tokens fed back)."""

    history: torch.Tensor
    observed: torch.Tensor
    past_time: torch.Tensor | None
    future_time: torch.Tensor | None

    def to(self, device: torch.device | str) -> "ForecastBatch":
        return ForecastBatch(
            *(
                None if x is None else x.to(device)
                for x in (self.history, self.observed, self.past_time, self.future_time)
            )
        )


@dataclass(frozen=True)
class SamplePaths:
    paths: torch.Tensor  # (B, S, H) in series units
    steps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]  # per step (df, loc, scale), each (B*S,), scaled units
    scaler: tuple[
        torch.Tensor, torch.Tensor
    ]  # the robust scaler's (loc, scale) per path, (B*S, 1): series = scaled * scale + loc


def draw_uniforms(batch: int, num_samples: int, horizon: int, generator: torch.Generator) -> torch.Tensor:
    u = torch.rand((batch, num_samples, horizon), generator=generator, dtype=torch.float64)
    return u.clamp(U_EPS, 1.0 - U_EPS)


def antithetic_uniforms(batch: int, num_samples: int, horizon: int, generator: torch.Generator) -> torch.Tensor:
    """Paths S/2.. use 1 - U of paths ..S/2: each pair's hits are negatively correlated (the path
    is monotone in every U), which lowers the estimate's variance at no extra cost."""
    if num_samples % 2:
        raise ValueError(f"antithetic sampling needs an even number of paths, got {num_samples}")
    u = draw_uniforms(batch, num_samples // 2, horizon, generator)
    return torch.cat((u, 1.0 - u), dim=1)


def median_uniforms(batch: int, horizon: int) -> torch.Tensor:
    """One path of every step's conditional median (U = 0.5)."""
    return torch.full((batch, 1, horizon), 0.5, dtype=torch.float64)


def _student_t_quantile(df: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The quantile at `u` (float64, on the CPU), computed in float64 on the CPU and returned in the
    parameters' dtype on their device: no device sees float64 (MPS has none)."""
    params = (x.cpu().double() for x in (df, loc, scale))
    return StudentT(*params).icdf(u.cpu()).to(device=loc.device, dtype=loc.dtype)


@torch.no_grad()
def sample_paths(
    model: LagLlamaModel,
    batch: ForecastBatch,
    horizon: int,
    *,
    uniforms: torch.Tensor,
    use_cache: bool = True,
    rescale_each_step: bool = False,
) -> SamplePaths:
    """Joint sample paths over t+1..t+H: each sampled value is fed back as the next token.

    `rescale_each_step` is the published sampler's behaviour: the robust scaler is re-fitted on the
    history plus the values sampled so far before every step (so no cache can be kept). Off, it is
    fitted once on the history. Either way `ext` holds the path in the first fit's units."""
    if use_cache and rescale_each_step:
        raise ValueError("re-fitting the scaler at every step changes every token: it cannot use the key/value cache")
    config = model.config
    b, length = batch.history.shape
    if length != config.history_length:
        raise ValueError(f"history has {length} values, the model needs {config.history_length}")
    num_samples = uniforms.shape[1]
    if uniforms.shape != (b, num_samples, horizon):
        raise ValueError(f"uniforms shape {tuple(uniforms.shape)} != {(b, num_samples, horizon)}")
    loc, scale = scale_history(config, batch.history, batch.observed)
    scaled = (batch.history - loc) / scale
    c = config.context_length
    prompt_pos = torch.arange(length - c, length)
    rep = lambda x: x.repeat_interleave(num_samples, 0)  # noqa: E731
    u = uniforms.reshape(b * num_samples, horizon)
    steps = []

    if use_cache:
        cache = KVCache(config.n_layer)
        df, mu, sigma = model(
            lag_tokens(config, scaled, prompt_pos, loc=loc, scale=scale, time_feat=batch.past_time), cache
        )
        df, mu, sigma = rep(df[:, -1]), rep(mu[:, -1]), rep(sigma[:, -1])
        cache = cache.share(num_samples)
    ext, loc_r, scale_r = rep(scaled), rep(loc), rep(scale)
    past_time_r = rep(batch.past_time) if batch.past_time is not None else None
    future_time_r = rep(batch.future_time) if batch.future_time is not None and horizon > 1 else None

    observed_r = rep(batch.observed) if rescale_each_step else None
    for k in range(horizon):
        step_loc, step_scale = loc_r, scale_r
        if not use_cache:
            positions = torch.arange(length - c, length + k)
            time_feat = None
            if past_time_r is not None:
                time_feat = past_time_r if k == 0 else torch.cat((past_time_r, future_time_r[:, :k]), dim=1)
            tokens_from = ext
            if rescale_each_step and k > 0:
                raw = ext * scale_r + loc_r
                observed = torch.cat((observed_r, torch.ones_like(raw[:, length:])), dim=1)
                step_loc, step_scale = scale_history(config, raw, observed)
                tokens_from = (raw - step_loc) / step_scale
            df, mu, sigma = (
                p[:, -1]
                for p in model(
                    lag_tokens(config, tokens_from, positions, loc=step_loc, scale=step_scale, time_feat=time_feat)
                )
            )
        steps.append((df, mu, sigma))
        value = _student_t_quantile(df, mu, sigma, u[:, k])
        if step_loc is not loc_r:  # back to the first fit's units, in which `ext` is kept
            value = (value * step_scale[:, 0] + step_loc[:, 0] - loc_r[:, 0]) / scale_r[:, 0]
        ext = torch.cat((ext, value[:, None]), dim=1)
        if use_cache and k < horizon - 1:
            time_feat = future_time_r[:, k : k + 1] if future_time_r is not None else None
            token = lag_tokens(config, ext, torch.tensor([length + k]), loc=loc_r, scale=scale_r, time_feat=time_feat)
            df, mu, sigma = (p[:, -1] for p in model(token, cache))
    paths = ext[:, length:] * scale_r + loc_r
    return SamplePaths(paths=paths.reshape(b, num_samples, horizon), steps=steps, scaler=(loc_r, scale_r))


def hit_probability(paths: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """P(max over the horizon >= threshold) per window, the fraction of sample paths that reach it.

    paths (B, S, H); thresholds (B,) in the same units."""
    return (paths.max(dim=-1).values >= thresholds[:, None]).double().mean(dim=-1)


def antithetic_hit_probability(paths: torch.Tensor, thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """P(hit) and its Monte Carlo standard error from antithetic paths (pair i = paths i and i + S/2):
    the SE is the spread of the pair means over sqrt(pairs), per window. paths (B, S, H); thresholds (B,)."""
    hits = (paths.max(dim=-1).values >= thresholds[:, None]).double()
    half = hits.shape[1] // 2
    pairs = 0.5 * (hits[:, :half] + hits[:, half:])
    return pairs.mean(dim=-1), pairs.std(dim=-1) / half**0.5


def exact_one_step_hit(first_step: SamplePaths, thresholds: torch.Tensor) -> torch.Tensor:
    """H = 1: P(X_{t+1} >= threshold) from the Student-t itself (no sampling error). `first_step`
    holds one path per window; its step-1 (df, loc, scale) are in scaled units."""
    from scipy.stats import t as student_t

    df, mu, sigma = (x.cpu().double().numpy() for x in first_step.steps[0])
    loc, scale = (x.cpu().double().numpy()[:, 0] for x in first_step.scaler)
    level = (thresholds.cpu().double().numpy() - loc) / scale
    return torch.from_numpy(student_t.sf((level - mu) / sigma, df))
