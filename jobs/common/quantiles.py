"""P(hit) from a forecast given as quantiles or as sampled paths: the rules every foundation job
shares (Chronos-2, TiRex, PatchTST-FM, TTM). NumPy only.

The event, in the forecast's own units: x_k is the forecast quantity at step k = 1..H (for example
log(High_{t+k} / Close_t)) and c the barrier (log(1 + threshold)); "hit" is max_k x_k >= c.

H1 (one step) from quantiles, `exceedance`: P(x_1 >= c) = 1 - F(c), where F is the CDF that
passes through the forecast's quantiles (levels tau_1 < ... < tau_J at values q_1 <= ... <= q_J):
- between two quantiles, F is linear in the value (linear interpolation of the quantile function);
- beyond them, THE TAIL RULE: an exponential tail that passes through the two outermost quantiles
  on that side. Above q_J: 1 - F(c) = (1 - tau_J) * exp(-(c - q_J) / b_hi), with
  b_hi = (q_J - q_{J-1}) / log((1 - tau_{J-1}) / (1 - tau_J)), so the tail meets the quantiles
  q_{J-1} and q_J exactly. Below q_1: F(c) = tau_1 * exp((c - q_1) / b_lo), with
  b_lo = (q_2 - q_1) / log(tau_2 / tau_1). Then 0 < 1 - F < 1 everywhere: a barrier beyond the
  widest quantile gets a small, shrinking probability (never exactly 0 or 1), decaying at the rate
  the last quantile gap implies.
Crossed quantiles are made non-decreasing first (running maximum); equal quantiles are a jump in F,
whose height is split between the two sides by a tiny spread (TIE_SPREAD).

H > 1 is a maximum over a path, which marginal quantiles do not determine (any dependence between
the steps fits the same marginals). So:
- from sampled paths (a model that samples): `path_hit_from_samples`, the share of paths whose
  maximum reaches c;
- otherwise the linear probe (jobs/common/probe.py) on the model's embeddings or on
  `quantile_features` of the forecast: the per-step quantities a logistic head can weigh.
A product or maximum of per-step marginals is never presented as the path's probability.

The point arm beside p (`point_score`): the median path's maximum minus the barrier
(max_k q50_k - c; > 0 means the median forecast reaches the barrier).
"""

import numpy as np

TIE_SPREAD = 1e-9  # relative spread that makes equal quantiles strictly increasing


def check_levels(levels: np.ndarray) -> np.ndarray:
    levels = np.asarray(levels, dtype=np.float64)
    if levels.ndim != 1 or len(levels) < 2:
        raise ValueError("quantile levels must be a 1-D array of at least two levels")
    if not (np.all(levels > 0) and np.all(levels < 1) and np.all(np.diff(levels) > 0)):
        raise ValueError(f"quantile levels must be strictly increasing inside (0, 1), not {levels.tolist()}")
    return levels


def sorted_quantiles(quantiles: np.ndarray) -> np.ndarray:
    """(..., J) values made strictly increasing along the last axis: running maximum, then a spread
    of TIE_SPREAD * (1 + |q|) per position so that equal values become a steep, finite segment."""
    q = np.maximum.accumulate(np.asarray(quantiles, dtype=np.float64), axis=-1)
    spread = TIE_SPREAD * (1.0 + np.abs(q).max(axis=-1, keepdims=True))
    return q + spread * np.arange(q.shape[-1])


def exceedance(levels: np.ndarray, quantiles: np.ndarray, barrier: np.ndarray | float) -> np.ndarray:
    """P(x >= c) under the interpolated CDF with exponential tails (module docstring).

    levels (J,); quantiles (..., J) and barrier broadcast against each other (quantiles[..., 0] with
    barrier). Returns the broadcast shape."""
    tau = check_levels(levels)
    q = sorted_quantiles(quantiles)
    if q.shape[-1] != len(tau):
        raise ValueError(f"{q.shape[-1]} quantile values for {len(tau)} levels")
    c = np.asarray(barrier, dtype=np.float64)
    shape = np.broadcast_shapes(q.shape[:-1], c.shape)
    q, c = np.broadcast_to(q, (*shape, len(tau))), np.broadcast_to(c, shape)
    # inside: the segment j with q_j <= c < q_{j+1}, F linear between (q_j, tau_j) and (q_{j+1}, tau_{j+1})
    j = np.clip((c[..., None] >= q).sum(axis=-1) - 1, 0, len(tau) - 2)
    q_lo = np.take_along_axis(q, j[..., None], axis=-1)[..., 0]
    q_hi = np.take_along_axis(q, (j + 1)[..., None], axis=-1)[..., 0]
    cdf_inside = tau[j] + (c - q_lo) / (q_hi - q_lo) * (tau[j + 1] - tau[j])
    # tails: exponential through the two outermost quantiles of each side
    b_low = (q[..., 1] - q[..., 0]) / np.log(tau[1] / tau[0])
    b_high = (q[..., -1] - q[..., -2]) / np.log((1 - tau[-2]) / (1 - tau[-1]))
    below = tau[0] * np.exp(np.minimum(c - q[..., 0], 0.0) / b_low)
    above = 1.0 - (1.0 - tau[-1]) * np.exp(-np.maximum(c - q[..., -1], 0.0) / b_high)
    cdf = np.where(c < q[..., 0], below, np.where(c > q[..., -1], above, cdf_inside))
    return 1.0 - cdf


def path_hit_from_samples(paths: np.ndarray, barrier: np.ndarray | float) -> np.ndarray:
    """P(max_k x_k >= c) as the share of sampled paths that reach c: paths (n, S, H), barrier (n,) or scalar."""
    paths = np.asarray(paths, dtype=np.float64)
    if paths.ndim != 3:
        raise ValueError(f"sampled paths must be (windows, samples, steps), not shape {paths.shape}")
    c = np.broadcast_to(np.asarray(barrier, dtype=np.float64), paths.shape[:1])
    return (paths.max(axis=2) >= c[:, None]).mean(axis=1)


def median_path(levels: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """The 0.5 quantile per step, interpolated linearly between the levels around it: (..., J) -> (...)."""
    tau = check_levels(levels)
    if not tau[0] <= 0.5 <= tau[-1]:
        raise ValueError("the median needs quantile levels on both sides of 0.5")
    q = sorted_quantiles(quantiles)
    j = min(int(np.searchsorted(tau, 0.5, side="right")) - 1, len(tau) - 2)
    weight = (0.5 - tau[j]) / (tau[j + 1] - tau[j])
    return q[..., j] + weight * (q[..., j + 1] - q[..., j])


def point_score(levels: np.ndarray, quantiles: np.ndarray, barrier: np.ndarray | float) -> np.ndarray:
    """The point arm: max over steps of the median forecast minus the barrier. quantiles (n, H, J) -> (n,)."""
    return median_path(levels, quantiles).max(axis=-1) - np.asarray(barrier, dtype=np.float64)


def quantile_features(levels: np.ndarray, quantiles: np.ndarray, barrier: np.ndarray | float) -> np.ndarray:
    """What a linear probe reads from a quantile forecast (n, H, J) -> (n, H * (J + 1)): each step's
    quantiles measured from the barrier (q - c), and each step's exceedance P(x_k >= c)."""
    q = sorted_quantiles(quantiles)
    c = np.broadcast_to(np.asarray(barrier, dtype=np.float64), q.shape[:1])
    per_step = exceedance(levels, quantiles, c[:, None])
    return np.concatenate([(q - c[:, None, None]).reshape(len(q), -1), per_step.reshape(len(q), -1)], axis=1)
