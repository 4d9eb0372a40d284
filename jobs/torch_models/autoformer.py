"""Autoformer (Wu et al., 2021), encoder only: series decomposition inside every layer, and
auto-correlation in place of attention: the FFT finds the lags at which queries and keys
correlate most, and values are aggregated from the series rolled by those lags.

Each layer strips a trend and passes only the seasonal part on. The read-out adds the stripped
trends back (the accumulation Autoformer's decoder does) so the head still sees levels.
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.layers import DecompositionEncoder, Pool, check, check_common


@dataclass(frozen=True)
class AutoformerConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 256
    moving_avg: int = 25
    factor: float = 1.0
    dropout: float = 0.1
    # Rolling a series keeps its mean, so mean pooling would hide which lags were aggregated;
    # the newest time step is read out instead.
    pool: Pool = "last"

    def __post_init__(self) -> None:
        check_common(self)
        check(
            self.moving_avg >= 1 and self.moving_avg % 2 == 1, f"moving_avg must be odd and >= 1, got {self.moving_avg}"
        )
        check(self.top_k >= 1, f"factor ({self.factor}) selects no lag: factor * ln(context_length) must be >= 1")

    @property
    def top_k(self) -> int:
        """Lags aggregated: factor * ln(L), as in the paper."""
        return min(self.context_length, int(self.factor * math.log(self.context_length)))


class AutoCorrelation(nn.Module):
    def __init__(self, d_model: int, n_heads: int, top_k: int):
        super().__init__()
        self.n_heads = n_heads
        self.top_k = top_k
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        q = self.query(x).view(batch, length, self.n_heads, -1).float()
        k = self.key(x).view(batch, length, self.n_heads, -1).float()
        # Wiener-Khinchin: correlation at every lag from one FFT product (float32: FFTs reject bf16).
        correlation = torch.fft.irfft(torch.fft.rfft(q, dim=1) * torch.fft.rfft(k, dim=1).conj(), n=length, dim=1)
        # Lags are chosen per sample (the paper's inference rule) from the head- and channel-mean.
        strength, lags = correlation.mean(dim=(2, 3)).topk(self.top_k, dim=-1)
        weights = torch.softmax(strength, dim=-1)

        # Time-delay aggregation: sum_k w_k * roll(values, -lag_k) is one (length x length) matrix per
        # sample, weight w_k at (t, (t + lag_k) mod length), applied with one batched product
        # instead of gathering top_k rolled copies of the values.
        steps = torch.arange(length, device=x.device)
        rolled_index = (steps[None, :, None] + lags[:, None, :]) % length  # (batch, length, top_k)
        delays = torch.zeros(batch, length, length, device=x.device, dtype=weights.dtype)
        delays = delays.scatter_add(2, rolled_index, weights[:, None, :].expand(-1, length, -1))
        values = self.value(x)
        aggregated = torch.matmul(delays.to(values.dtype), values)
        return self.out(aggregated)


class Autoformer(nn.Module):
    def __init__(self, config: AutoformerConfig):
        super().__init__()
        self.config = config
        mixers = [AutoCorrelation(config.d_model, config.n_heads, config.top_k) for _ in range(config.n_layers)]
        self.encoder = DecompositionEncoder(
            mixers, config.n_features, config.d_model, config.d_ff, config.moving_avg, config.dropout
        )
        self.head = ClassificationHead(config.d_model, config.pool, config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))
