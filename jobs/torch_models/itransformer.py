"""iTransformer (Liu et al., 2024): the transformer is inverted, so each token is one feature's
whole context window and attention mixes features, while the feed-forward acts along time."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.kernels import Dropout
from jobs.torch_models.layers import Attention, EncoderBlock, check_common


@dataclass(frozen=True)
class ITransformerConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 256
    dropout: float = 0.1

    def __post_init__(self) -> None:
        check_common(self)


class ITransformer(nn.Module):
    def __init__(self, config: ITransformerConfig):
        super().__init__()
        self.config = config
        self.series_embedding = nn.Linear(config.context_length, config.d_model)
        # Attention is permutation-equivariant over variates, and the pooled head would be too;
        # a learned identity per feature lets the head tell RSI from volume.
        self.feature_identity = nn.Parameter(0.02 * torch.randn(config.n_features, config.d_model))
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            EncoderBlock(
                Attention(config.d_model, config.n_heads, config.dropout), config.d_model, config.d_ff, config.dropout
            )
            for _ in range(config.n_layers)
        )
        # Variate tokens have no order, so only mean pooling means anything here.
        self.head = ClassificationHead(config.d_model, "mean", config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, time, features) -> logits (batch,)."""
        tokens = self.dropout(self.series_embedding(x.transpose(1, 2)) + self.feature_identity)
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(tokens)
