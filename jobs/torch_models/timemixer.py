"""TimeMixer (Wang et al., 2024): no attention. The context is average-pooled into several time
scales; each past-decomposable-mixing (PDM) layer splits every scale into seasonal and trend
parts, mixes seasons bottom-up (fine -> coarse) and trends top-down (coarse -> fine) with MLPs
along time, and adds the result back. Like the paper's future-multipredictor mixing, every scale
makes its own prediction and the predictions are averaged.

Features are mixed at each time step (the paper's channel-dependent setting): with 25 features
the channel-independent one would cost 25x the compute for the same width.
"""

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.layers import FeedForward, Pool, SeriesDecomposition, check, check_common


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
        check(self.scale_lengths[-1] >= 2,
              f"context_length {self.context_length} is too short for {self.down_sampling_layers} down-samplings by "
              f"{self.down_sampling_window}: the coarsest scale needs >= 2 steps")
        check(self.moving_avg >= 1 and self.moving_avg % 2 == 1, f"moving_avg must be odd and >= 1, got {self.moving_avg}")

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
        """(batch, in_length, d) -> (batch, out_length, d)."""
        return self.second(F.gelu(self.first(x.transpose(1, 2)))).transpose(1, 2)


class PastDecomposableMixing(nn.Module):
    def __init__(self, config: TimeMixerConfig):
        super().__init__()
        lengths = config.scale_lengths
        self.norm = nn.LayerNorm(config.d_model)
        self.decompose = SeriesDecomposition(config.moving_avg)
        self.feature_mixing = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.season_up = nn.ModuleList(TimeMLP(lengths[i], lengths[i + 1]) for i in range(len(lengths) - 1))
        self.trend_down = nn.ModuleList(TimeMLP(lengths[i + 1], lengths[i]) for i in range(len(lengths) - 1))
        self.out = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, scales: list[Tensor]) -> list[Tensor]:
        seasons, trends = [], []
        for x in scales:
            season, trend = self.decompose(self.norm(x))
            seasons.append(self.feature_mixing(season))
            trends.append(self.feature_mixing(trend))
        # Fine seasonal detail informs each coarser scale...
        for i, up in enumerate(self.season_up):
            seasons[i + 1] = seasons[i + 1] + up(seasons[i])
        # ...and the coarse trend informs each finer one.
        for i in reversed(range(len(self.trend_down))):
            trends[i] = trends[i] + self.trend_down[i](trends[i + 1])
        return [x + self.dropout(self.out(s + t)) for x, s, t in zip(scales, seasons, trends)]


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
            finer = scales[-1][:, scales[-1].shape[1] % window:]
            scales.append(F.avg_pool1d(finer.transpose(1, 2), window).transpose(1, 2))
        return scales

    def forward(self, x: Tensor) -> Tensor:
        scales = [self.embedding(s) for s in self.multiscale(x)]
        for layer in self.layers:
            scales = layer(scales)
        return sum(self.head(s) for s in scales) / len(scales)
