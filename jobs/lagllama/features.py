"""From a univariate history to Lag-Llama tokens: robust scaling, lag gathering, time features.

A token at position i carries the scaled values x[i - lag] for every lag (lag 0 is x[i] itself),
the two scale features (log1p|loc|, log scale) and the 6 time features of date i; the model's
output at position i is the distribution of x[i + 1].
"""

import warnings

import numpy as np
import pandas as pd
import torch

from jobs.lagllama.config import NUM_TIME_FEATURES, LagLlamaConfig


def robust_scale(
    values: torch.Tensor, observed: torch.Tensor, minimum_scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """loc = median, scale = inter-quartile range of the observed values of each row (B, T) -> (B, 1)."""
    masked = torch.where(observed > 0, values, torch.full_like(values, float("nan")))
    loc = torch.nanmedian(masked, dim=-1, keepdim=True).values
    q1 = torch.nanquantile(masked, 0.25, dim=-1, keepdim=True)
    q3 = torch.nanquantile(masked, 0.75, dim=-1, keepdim=True)
    loc = torch.nan_to_num(loc, nan=0.0)
    scale = torch.nan_to_num(q3 - q1, nan=1.0).clamp_min(minimum_scale)
    return loc, scale


def std_scale(values: torch.Tensor, observed: torch.Tensor, minimum_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    weight = observed.float()
    n = weight.sum(-1, keepdim=True).clamp_min(1.0)
    loc = (values * weight).sum(-1, keepdim=True) / n
    var = (((values - loc) * weight) ** 2).sum(-1, keepdim=True) / n
    return loc, var.sqrt().clamp_min(minimum_scale)


def scale_history(
    config: LagLlamaConfig, history: torch.Tensor, observed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    if config.scaling == "robust":
        return robust_scale(history, observed, config.minimum_scale)
    if config.scaling == "std":
        return std_scale(history, observed, config.minimum_scale)
    return torch.zeros_like(history[:, :1]), torch.ones_like(history[:, :1])


def time_features(dates) -> np.ndarray:
    """GluonTS' time features for frequency 'S' (as Lag-Llama uses), (n, 6) float32, in [-0.5, 0.5]."""
    from gluonts.time_feature import time_features_from_frequency_str

    index = pd.PeriodIndex(pd.DatetimeIndex(pd.to_datetime(np.asarray(dates))), freq="D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        feats = time_features_from_frequency_str("S")
    out = np.stack([f(index) for f in feats], axis=-1).astype(np.float32)
    assert out.shape[-1] == NUM_TIME_FEATURES
    return out


def lag_tokens(
    config: LagLlamaConfig,
    scaled: torch.Tensor,
    positions: torch.Tensor,
    *,
    loc: torch.Tensor,
    scale: torch.Tensor,
    time_feat: torch.Tensor | None,
) -> torch.Tensor:
    """Tokens (B, T, feature_size) for the given positions (T,) of scaled series (B, L).

    Every position must be >= max_lag so that all lags exist. time_feat is (B, T, 6) or None."""
    positions = positions.to(scaled.device)
    lags = torch.as_tensor(config.lags_seq, device=scaled.device)
    index = positions[:, None] - lags[None, :]  # (T, n_lags)
    if int(index.min()) < 0:
        raise ValueError("a token position lacks its full lag history")
    values = scaled[:, index]  # (B, T, n_lags)
    static = torch.cat((loc.abs().log1p(), scale.log()), dim=-1)  # (B, 2)
    parts = [values, static[:, None, :].expand(-1, values.shape[1], -1)]
    if config.time_feat:
        if time_feat is None:
            raise ValueError("the config has time features on, but none were given")
        parts.append(time_feat)
    return torch.cat(parts, dim=-1)
