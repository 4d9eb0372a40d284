"""Informer (Zhou et al., 2021), encoder only: ProbSparse self-attention lets only the few queries
whose attention is far from uniform attend (the rest take the mean value), and a distilling
convolution + max-pool between layers halves the sequence each time."""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.kernels import Dropout
from jobs.torch_models.layers import EncoderBlock, Pool, TokenEmbedding, check, check_common, split_heads


@dataclass(frozen=True)
class InformerConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 256
    factor: int = 5
    distil: bool = True
    dropout: float = 0.1
    pool: Pool = "last"  # the newest distilled token; beat mean pooling on validation

    def __post_init__(self) -> None:
        check_common(self)
        check(self.factor >= 1, f"factor must be >= 1, got {self.factor}")
        check(
            not self.distil or self.context_length >= 2 ** (self.n_layers - 1),
            f"context_length {self.context_length} cannot be halved by {self.n_layers - 1} distilling layers; "
            f"use fewer layers or distil=False",
        )


class ProbSparseAttention(nn.Module):
    """Self-attention for the top-u queries ranked by a sampled max-minus-mean sparsity score."""

    def __init__(self, d_model: int, n_heads: int, factor: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.factor = factor
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = Dropout(dropout)

    def sampled_keys(self, length: int, n_sample: int, device: torch.device) -> Tensor:
        """Keys each query is scored against: random while training, as in Informer; evenly spaced
        at evaluation so that predictions do not depend on the random state."""
        if self.training:
            return torch.randint(length, (length, n_sample), device=device)
        return torch.linspace(0, length - 1, n_sample, device=device).round().long().expand(length, n_sample)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        q, k, v = split_heads(self.qkv(x), self.n_heads, 3)
        n_pick = min(length, self.factor * max(1, math.ceil(math.log(length))))

        keys = self.sampled_keys(length, n_pick, x.device)
        sampled_scores = (q.unsqueeze(-2) @ k[:, :, keys].transpose(-2, -1)).squeeze(-2)
        sparsity = sampled_scores.amax(dim=-1) - sampled_scores.sum(dim=-1) / length
        picked = F.one_hot(sparsity.topk(n_pick, dim=-1).indices, length).to(q.dtype)

        weights = ((picked @ q) @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(dim=-1)
        active = self.dropout(weights) @ v
        lazy = v.mean(dim=-2, keepdim=True)
        mixed = lazy + picked.transpose(-2, -1) @ (active - lazy)
        return self.out(mixed.transpose(1, 2).reshape(batch, length, width))


class Distilling(nn.Module):
    """Conv + norm + ELU + stride-2 max-pool: keeps the dominant features at half the length."""

    def __init__(self, d_model: int):
        super().__init__()
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, padding=1, padding_mode="replicate")
        self.norm = nn.BatchNorm1d(d_model)

    def forward(self, x: Tensor) -> Tensor:
        y = F.elu(self.norm(self.conv(x.transpose(1, 2))))
        return F.max_pool1d(y, kernel_size=3, stride=2, padding=1).transpose(1, 2)


class Informer(nn.Module):
    def __init__(self, config: InformerConfig):
        super().__init__()
        self.config = config
        self.embedding = TokenEmbedding(config.n_features, config.d_model)
        self.register_buffer("position", sinusoidal_positions(config.context_length, config.d_model), persistent=False)
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            EncoderBlock(
                ProbSparseAttention(config.d_model, config.n_heads, config.factor, config.dropout),
                config.d_model,
                config.d_ff,
                config.dropout,
            )
            for _ in range(config.n_layers)
        )
        n_distilling = config.n_layers - 1 if config.distil else 0
        self.distilling = nn.ModuleList(Distilling(config.d_model) for _ in range(n_distilling))
        self.head = ClassificationHead(config.d_model, config.pool, config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.dropout(self.embedding(x) + self.position)
        for i, block in enumerate(self.blocks):
            tokens = block(tokens)
            if i < len(self.distilling):
                tokens = self.distilling[i](tokens)
        return self.head(tokens)


def sinusoidal_positions(length: int, width: int) -> Tensor:
    """The fixed sine/cosine position code of the original transformer, (length, width)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table
