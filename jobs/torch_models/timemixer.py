"""TimeMixer (Wang et al., 2024): no attention. The context is average-pooled into several time
scales; each past-decomposable-mixing (PDM) layer splits every scale into seasonal and trend
parts, mixes seasons bottom-up (fine -> coarse) and trends top-down (coarse -> fine) with MLPs
along time, and adds the result back. Like the paper's future-multipredictor mixing, every scale
makes its own prediction and the predictions are averaged.

Features are mixed at each time step (the paper's channel-dependent setting): with 25 features
the channel-independent one would cost 25x the compute for the same width.

The scales travel as one tensor, concatenated along time (finest first): the position-wise parts
(norm, feature mixing, output MLP) then run once over all scales, seasons and trends together,
instead of once per scale and part; only the scale-mixing MLPs see the scales one by one. Per
scale, the moving average is a block of one fixed matrix.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.kernels import Dropout
from jobs.torch_models.layers import FeedForward, Pool, check, check_common, moving_average_matrix


@dataclass(frozen=True)
class TimeMixerConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 64
    n_layers: int = 2
    d_ff: int = 128
    down_sampling_window: int = 2
    down_sampling_layers: int = 3
    moving_avg: int = 25
    dropout: float = 0.1
    pool: Pool = "last"  # each scale's newest step: the same recent past at every resolution

    def __post_init__(self) -> None:
        check_common(self)
        check(self.down_sampling_window >= 2, f"down_sampling_window must be >= 2, got {self.down_sampling_window}")
        check(self.down_sampling_layers >= 1, f"down_sampling_layers must be >= 1, got {self.down_sampling_layers}")
        check(
            self.scale_lengths[-1] >= 2,
            f"context_length {self.context_length} is too short for {self.down_sampling_layers} down-samplings by "
            f"{self.down_sampling_window}: the coarsest scale needs >= 2 steps",
        )
        check(
            self.moving_avg >= 1 and self.moving_avg % 2 == 1, f"moving_avg must be odd and >= 1, got {self.moving_avg}"
        )

    @property
    def scale_lengths(self) -> list[int]:
        lengths = [self.context_length]
        for _ in range(self.down_sampling_layers):
            lengths.append(lengths[-1] // self.down_sampling_window)
        return lengths


class TimeMLP(nn.Module):
    """Maps a sequence of one length to another along the time axis (the scale-mixing step)."""

    def __init__(self, in_length: int, out_length: int):
        super().__init__()
        self.first = nn.Linear(in_length, out_length)
        self.second = nn.Linear(out_length, out_length)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_length, d) -> (batch, out_length, d): the linear maps multiply from the left,
        so the time axis is never transposed to the end and back."""
        hidden = F.gelu(torch.matmul(self.first.weight, x) + self.first.bias[:, None])
        return torch.matmul(self.second.weight, hidden) + self.second.bias[:, None]


class PastDecomposableMixing(nn.Module):
    def __init__(self, config: TimeMixerConfig):
        super().__init__()
        lengths = config.scale_lengths
        self.lengths = lengths
        self.norm = nn.LayerNorm(config.d_model)
        # Each scale's trend (its centred moving average), all scales in one product.
        self.register_buffer(
            "averaging",
            torch.block_diag(*(moving_average_matrix(n, config.moving_avg) for n in lengths)),
            persistent=False,
        )
        self.feature_mixing = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.season_up = nn.ModuleList(TimeMLP(lengths[i], lengths[i + 1]) for i in range(len(lengths) - 1))
        self.trend_down = nn.ModuleList(TimeMLP(lengths[i + 1], lengths[i]) for i in range(len(lengths) - 1))
        self.out = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.dropout = Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, sum of scale lengths, d_model), the scales concatenated finest first."""
        normed = self.norm(x)
        trend = torch.matmul(self.averaging, normed)
        season, trend = self.feature_mixing(torch.cat([normed - trend, trend])).chunk(2)
        seasons, trends = list(season.split(self.lengths, dim=1)), list(trend.split(self.lengths, dim=1))
        # Fine seasonal detail informs each coarser scale...
        for i, up in enumerate(self.season_up):
            seasons[i + 1] = seasons[i + 1] + up(seasons[i])
        # ...and the coarse trend informs each finer one.
        for i in reversed(range(len(self.trend_down))):
            trends[i] = trends[i] + self.trend_down[i](trends[i + 1])
        mixed = torch.cat([s + t for s, t in zip(seasons, trends)], dim=1)
        return x + self.dropout(self.out(mixed))


class TimeMixer(nn.Module):
    def __init__(self, config: TimeMixerConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Linear(config.n_features, config.d_model)
        self.layers = nn.ModuleList(PastDecomposableMixing(config) for _ in range(config.n_layers))
        self.head = ClassificationHead(config.d_model, config.pool, config.dropout)

    def multiscale(self, x: Tensor) -> list[Tensor]:
        """(batch, time, features) -> one series per scale, finest first. Average pooling drops the
        oldest steps when a length does not divide, never the newest."""
        window = self.config.down_sampling_window
        scales = [x]
        for _ in range(self.config.down_sampling_layers):
            finer = scales[-1][:, scales[-1].shape[1] % window :]
            scales.append(F.avg_pool1d(finer.transpose(1, 2), window).transpose(1, 2))
        return scales

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.embedding(torch.cat(self.multiscale(x), dim=1))
        for layer in self.layers:
            tokens = layer(tokens)
        # Every scale's read-out (its newest step or its mean), one logit each, averaged.
        scales = tokens.split(self.config.scale_lengths, dim=1)
        pooled = torch.stack([s[:, -1] if self.config.pool == "last" else s.mean(dim=1) for s in scales], dim=1)
        return self.head.score(pooled).mean(dim=-1)
