"""Crossformer (Zhang & Yan, 2023), encoder only. Dimension-segment-wise embedding: every
feature's series is cut into segments, each embedded as a token, giving a (feature, segment) grid.
Two-stage attention mixes the grid: across time within each feature, then across features
within each segment through a few learned routers (cost linear in the number of features).
Between scales, segment merging joins neighbouring segments, so deeper layers see coarser time.

The paper learns routers per segment position; here one set per layer serves every segment
(positions are already in the tokens), so that with the newest-segment read-out no router of
the last layer is left without a gradient."""

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.kernels import Dropout
from jobs.torch_models.layers import Attention, EncoderBlock, FeedForward, Pool, check, check_common


@dataclass(frozen=True)
class CrossformerConfig:
    context_length: int = 80
    n_features: int = 25
    seg_len: int = 8
    win_size: int = 2
    n_routers: int = 4
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 128
    dropout: float = 0.1
    pool: Pool = "last"  # each feature's newest segment, averaged over features; beat mean pooling on validation

    def __post_init__(self) -> None:
        check_common(self)
        check(
            1 <= self.seg_len <= self.context_length,
            f"seg_len ({self.seg_len}) must be between 1 and context_length ({self.context_length})",
        )
        check(self.win_size >= 2, f"win_size must be >= 2 to merge segments, got {self.win_size}")
        check(self.n_routers >= 1, f"n_routers must be >= 1, got {self.n_routers}")

    @property
    def n_segments(self) -> int:
        """Segments of the first scale, the context being padded at the front to whole segments."""
        return math.ceil(self.context_length / self.seg_len)


class SegmentEmbedding(nn.Module):
    def __init__(self, config: CrossformerConfig):
        super().__init__()
        self.seg_len = config.seg_len
        self.embed = nn.Linear(config.seg_len, config.d_model)
        self.position = nn.Parameter(0.02 * torch.randn(config.n_features, config.n_segments, config.d_model))
        self.norm = nn.LayerNorm(config.d_model)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, time, features) -> (batch, features, segments, d_model). The oldest step is
        repeated at the front to fill whole segments, so the newest segment is never partial."""
        missing = -x.shape[1] % self.seg_len
        x = torch.cat([x[:, :1].expand(-1, missing, -1), x], dim=1)
        segments = x.transpose(1, 2).unfold(-1, self.seg_len, self.seg_len)
        return self.norm(self.embed(segments) + self.position)


class TwoStageAttention(nn.Module):
    def __init__(self, config: CrossformerConfig):
        super().__init__()
        d = config.d_model
        self.across_time = EncoderBlock(Attention(d, config.n_heads, config.dropout), d, config.d_ff, config.dropout)
        self.routers = nn.Parameter(0.02 * torch.randn(config.n_routers, d))
        self.gather = Attention(d, config.n_heads, config.dropout)
        self.scatter = Attention(d, config.n_heads, config.dropout)
        self.route_norm = nn.LayerNorm(d)
        self.ff_norm = nn.LayerNorm(d)
        self.ff = FeedForward(d, config.d_ff, config.dropout)
        self.dropout = Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        batch, features, segments, width = x.shape
        x = self.across_time(x.reshape(batch * features, segments, width))
        # Across features: routers collect from every feature, then every feature reads the routers.
        x = x.reshape(batch, features, segments, width).transpose(1, 2).reshape(batch * segments, features, width)
        normed = self.route_norm(x)
        routers = self.routers.expand(batch * segments, -1, -1)
        collected = self.gather(routers, context=normed)
        x = x + self.dropout(self.scatter(normed, context=collected))
        x = x + self.dropout(self.ff(self.ff_norm(x)))
        return x.reshape(batch, segments, features, width).transpose(1, 2)


class SegmentMerging(nn.Module):
    """Concatenates win_size neighbouring segments and projects back to d_model."""

    def __init__(self, d_model: int, win_size: int):
        super().__init__()
        self.win_size = win_size
        self.norm = nn.LayerNorm(win_size * d_model)
        self.merge = nn.Linear(win_size * d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        batch, features, segments, width = x.shape
        missing = -segments % self.win_size
        x = torch.cat([x, x[:, :, -1:].expand(-1, -1, missing, -1)], dim=2)  # pad by repeating the newest
        merged = x.reshape(batch, features, -1, self.win_size * width)
        return self.merge(self.norm(merged))


class Crossformer(nn.Module):
    def __init__(self, config: CrossformerConfig):
        super().__init__()
        self.config = config
        self.embedding = SegmentEmbedding(config)
        self.dropout = Dropout(config.dropout)
        # Scale i > 0 first merges the previous scale's segments, win_size at a time.
        self.merging = nn.ModuleList(
            SegmentMerging(config.d_model, config.win_size) for _ in range(config.n_layers - 1)
        )
        self.scales = nn.ModuleList(TwoStageAttention(config) for _ in range(config.n_layers))
        self.head = ClassificationHead(config.d_model, config.pool, config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.dropout(self.embedding(x))
        for i, attention in enumerate(self.scales):
            if i > 0:
                tokens = self.merging[i - 1](tokens)
            tokens = attention(tokens)
        return self.head(tokens)
