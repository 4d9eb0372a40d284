"""ETSformer (Woo et al., 2022), encoder only. Each layer peels two components off its input:
a seasonal one by frequency attention (keep the top-k Fourier components by amplitude) and a
growth one by exponential-smoothing attention (attention weights fixed to decay as alpha^lag over
first differences, alpha learned per head). The read-out is the final residual (the level) plus
every layer's growth and season, mirroring ETSformer's level + growth + season forecast."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.kernels import Dropout
from jobs.torch_models.layers import FeedForward, Pool, TokenEmbedding, check, check_common


@dataclass(frozen=True)
class ETSformerConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 256
    top_k: int = 4
    dropout: float = 0.1
    pool: Pool = "last"  # tokens are time steps; the newest level + growth + season is read out

    def __post_init__(self) -> None:
        check_common(self)
        n_candidates = (self.context_length - 1) // 2
        check(
            1 <= self.top_k <= n_candidates,
            f"top_k ({self.top_k}) must be between 1 and the {n_candidates} non-constant frequencies of "
            f"context_length {self.context_length}",
        )


def frequency_attention(x: Tensor, top_k: int) -> Tensor:
    """The seasonal part of x: its top_k strongest Fourier components per channel, back in time.

    The constant and (for even lengths) Nyquist terms are excluded, as in ETSformer."""
    length = x.shape[1]
    spectrum = torch.fft.rfft(x.float(), dim=1)  # FFTs reject bf16
    candidates = torch.zeros(spectrum.shape[1], dtype=torch.bool, device=x.device)
    candidates[1 : (length - 1) // 2 + 1] = True
    amplitude = spectrum.abs().masked_fill(~candidates[None, :, None], -1.0)
    strongest = F.one_hot(amplitude.topk(top_k, dim=1).indices, spectrum.shape[1]).sum(dim=1).transpose(1, 2)
    return torch.fft.irfft(spectrum * strongest.to(amplitude.dtype), n=length, dim=1).to(x.dtype)


class ExponentialSmoothingAttention(nn.Module):
    """Growth: per head, an exponentially weighted sum of the first differences of projected inputs."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.in_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.before_window = nn.Parameter(torch.randn(d_model))  # the value before step 0, for its difference
        self.initial_state = nn.Parameter(torch.randn(n_heads, d_model // n_heads))
        self.smoothing_logit = nn.Parameter(torch.randn(n_heads))
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        values = self.in_proj(x)
        previous = torch.cat([self.before_window.expand(batch, 1, width).to(values.dtype), values[:, :-1]], dim=1)
        differences = (values - previous).view(batch, length, self.n_heads, -1)

        alpha = torch.sigmoid(self.smoothing_logit)[:, None, None]  # (heads, 1, 1)
        steps = torch.arange(length, device=x.device, dtype=alpha.dtype)
        lag = steps[:, None] - steps[None, :]
        weights = (1 - alpha) * alpha ** lag.clamp(min=0) * (lag >= 0)  # (heads, t, s): causal decay
        initial = (alpha[:, :, 0] ** (steps + 1)).T  # (t, heads): what is left of the initial state
        smoothed = torch.einsum("hts,bshe->bthe", weights.to(differences.dtype), differences)
        smoothed = smoothed + initial[None, :, :, None].to(smoothed.dtype) * self.initial_state.to(smoothed.dtype)
        return self.out_proj(self.dropout(smoothed.reshape(batch, length, width)))


class ETSLayer(nn.Module):
    def __init__(self, config: ETSformerConfig):
        super().__init__()
        self.top_k = config.top_k
        self.growth = ExponentialSmoothingAttention(config.d_model, config.n_heads, config.dropout)
        self.growth_norm = nn.LayerNorm(config.d_model)
        self.ff = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.ff_norm = nn.LayerNorm(config.d_model)
        self.dropout = Dropout(config.dropout)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        season = frequency_attention(x, self.top_k)
        x = x - season
        growth = self.growth(x)
        x = self.growth_norm(x - growth)
        x = self.ff_norm(x + self.dropout(self.ff(x)))
        return x, growth, season


class ETSformer(nn.Module):
    def __init__(self, config: ETSformerConfig):
        super().__init__()
        self.config = config
        self.embedding = TokenEmbedding(config.n_features, config.d_model)
        self.dropout = Dropout(config.dropout)
        self.layers = nn.ModuleList(ETSLayer(config) for _ in range(config.n_layers))
        self.head = ClassificationHead(config.d_model, config.pool, config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        level = self.dropout(self.embedding(x))
        components = torch.zeros_like(level)
        for layer in self.layers:
            level, growth, season = layer(level)
            components = components + growth + season
        return self.head(level + components)
