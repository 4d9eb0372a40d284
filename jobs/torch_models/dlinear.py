"""DLinear (Zeng et al., 2023), the no-attention floor: split each feature's window into trend
(moving average) and remainder, and map each part linearly over time. One linear map per feature
(the paper's 'individual' variant), so the pooled head still knows which feature is which.
Everything before the shared head is linear in the input.

The trend is a centred moving average, one product with a fixed (time x time) matrix
(`moving_average_matrix`, edges repeated). Folding the decomposition and both maps into one effective
map per step was measured (benchmarks/bench_kernels.py, issue 34): no whole-job gain, so the model is
written as the paper describes it."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.layers import check, check_common, moving_average_matrix


@dataclass(frozen=True)
class DLinearConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 64
    moving_avg: int = 25
    dropout: float = 0.1

    def __post_init__(self) -> None:
        check_common(self)
        check(
            self.moving_avg >= 1 and self.moving_avg % 2 == 1, f"moving_avg must be odd and >= 1, got {self.moving_avg}"
        )


class DLinear(nn.Module):
    def __init__(self, config: DLinearConfig):
        super().__init__()
        self.config = config
        shape = (config.n_features, config.context_length, config.d_model)
        scale = config.context_length**-0.5
        self.seasonal_weight = nn.Parameter(scale * torch.randn(shape))
        self.trend_weight = nn.Parameter(scale * torch.randn(shape))
        self.bias = nn.Parameter(torch.zeros(config.n_features, config.d_model))
        # trend = averaging @ x over time; derived from the config, so not saved with the weights.
        self.register_buffer(
            "averaging", moving_average_matrix(config.context_length, config.moving_avg), persistent=False
        )
        self.head = ClassificationHead(config.d_model, "mean", config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, time, features) -> logits: one token per feature, averaged by the head."""
        trend = torch.matmul(self.averaging, x)
        tokens = torch.einsum("btf,ftd->bfd", x - trend, self.seasonal_weight)
        tokens = tokens + torch.einsum("btf,ftd->bfd", trend, self.trend_weight) + self.bias
        return self.head(tokens)
