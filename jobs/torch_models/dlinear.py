"""DLinear (Zeng et al., 2023), the no-attention floor: split each feature's window into trend
(moving average) and remainder, and map each part linearly over time. One linear map per feature
(the paper's 'individual' variant), so the pooled head still knows which feature is which.
Everything before the shared head is linear in the input."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.layers import SeriesDecomposition, check, check_common


@dataclass(frozen=True)
class DLinearConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 64
    moving_avg: int = 25
    dropout: float = 0.1

    def __post_init__(self) -> None:
        check_common(self)
        check(self.moving_avg >= 1 and self.moving_avg % 2 == 1, f"moving_avg must be odd and >= 1, got {self.moving_avg}")


class DLinear(nn.Module):
    def __init__(self, config: DLinearConfig):
        super().__init__()
        self.config = config
        self.decompose = SeriesDecomposition(config.moving_avg)
        shape = (config.n_features, config.context_length, config.d_model)
        scale = config.context_length ** -0.5
        self.seasonal_weight = nn.Parameter(scale * torch.randn(shape))
        self.trend_weight = nn.Parameter(scale * torch.randn(shape))
        self.bias = nn.Parameter(torch.zeros(config.n_features, config.d_model))
        self.head = ClassificationHead(config.d_model, "mean", config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, time, features) -> logits; the head averages the per-feature tokens."""
        seasonal, trend = self.decompose(x)
        tokens = (torch.einsum("btf,ftd->bfd", seasonal, self.seasonal_weight)
                  + torch.einsum("btf,ftd->bfd", trend, self.trend_weight) + self.bias)
        return self.head(tokens)
