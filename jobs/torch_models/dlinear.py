"""DLinear (Zeng et al., 2023), the no-attention floor: split each feature's window into trend
(moving average) and remainder, and map each part linearly over time. One linear map per feature
(the paper's 'individual' variant), so the pooled head still knows which feature is which.
Everything before the shared head is linear in the input.

Textbook form: decompose, apply both maps, pool. Fast form (jobs/torch_models/kernels.py's switch,
kernel "dlinear"): because of that linearity the forward pass is one matrix product: the moving
average is a fixed (time x time) matrix, so decomposing the input and applying both maps equals
applying one effective map, built from the two weight tensors each step (its cost does not grow with
the batch); and the head's mean over features is folded into the same product. Same parameters,
same function (tests/test_model_rewrites.py checks outputs and gradients)."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from jobs.torch_models import kernels
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

    def effective_weight(self) -> Tensor:
        """(time * features, d_model): x[t, f] -> token, seasonal and trend maps in one.

        tokens = sum_t (x - A x)[t] Ws[t] + (A x)[t] Wt[t] = sum_s x[s] (Ws[s] + sum_t A[t, s] (Wt - Ws)[t])."""
        features, time, width = self.seasonal_weight.shape
        seasonal = self.seasonal_weight.transpose(0, 1)  # (time, features, d_model), the order of x's row
        difference = (self.trend_weight - self.seasonal_weight).transpose(0, 1).reshape(time, features * width)
        through_trend = (self.averaging.T @ difference).view(time, features, width)
        return (seasonal + through_trend).reshape(time * features, width)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, time, features) -> logits: one token per feature, averaged by the head."""
        if not kernels.fast("dlinear", x):
            trend = torch.matmul(self.averaging, x)
            tokens = torch.einsum("btf,ftd->bfd", x - trend, self.seasonal_weight)
            tokens = tokens + torch.einsum("btf,ftd->bfd", trend, self.trend_weight) + self.bias
            return self.head(tokens)
        # the head's mean over the feature tokens, done inside the one product
        batch, _, features = x.shape
        mean_token = torch.addmm(
            self.bias.mean(dim=0), x.reshape(batch, -1), self.effective_weight(), alpha=1.0 / features
        )
        return self.head(mean_token.unsqueeze(1))
