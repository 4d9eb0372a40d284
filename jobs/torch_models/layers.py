"""Building blocks several architectures share, so each model file shows only what defines it."""

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.torch_models.kernels import Dropout, attend

Pool = Literal["mean", "last"]


def check(condition: bool, message: str) -> None:
    """Config validation: one readable ValueError per broken constraint."""
    if not condition:
        raise ValueError(message)


def check_common(config) -> None:
    """Constraints every config shares (input shape, dropout, heads dividing the width)."""
    check(config.context_length >= 2, f"context_length must be >= 2, got {config.context_length}")
    check(config.n_features >= 1, f"n_features must be >= 1, got {config.n_features}")
    check(0.0 <= config.dropout < 1.0, f"dropout must be in [0, 1), got {config.dropout}")
    check(config.d_model >= 1, f"d_model must be >= 1, got {config.d_model}")
    for name in ("n_layers", "d_ff", "n_heads"):
        value = getattr(config, name, 1)
        check(value >= 1, f"{name} must be >= 1, got {value}")
    n_heads = getattr(config, "n_heads", 1)
    check(config.d_model % n_heads == 0, f"d_model ({config.d_model}) must be divisible by n_heads ({n_heads})")
    pool = getattr(config, "pool", "mean")
    check(pool in ("mean", "last"), f"pool must be 'mean' or 'last', got {pool!r}")


class FeedForward(nn.Module):
    """Position-wise MLP: the width knob (d_ff) the size search turns last, for fine control."""

    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.up = nn.Linear(d_model, d_ff)
        self.down = nn.Linear(d_ff, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.dropout(F.gelu(self.up(x))))


def split_heads(stacked: Tensor, n_heads: int, parts: int) -> tuple[Tensor, ...]:
    """(batch, length, parts * d) -> `parts` tensors of (batch, heads, length, d / heads): the
    outputs of one stacked projection (q/k/v, or k/v), each split into its heads."""
    batch, length, _ = stacked.shape
    return stacked.view(batch, length, parts, n_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)


class Attention(nn.Module):
    """Multi-head scaled dot-product attention; queries and keys/values may differ (cross-attention).
    q, k and v come from one nn.Linear(d, 3d): self-attention is one product."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, context: Tensor | None = None, causal: bool = False) -> Tensor:
        if context is None:
            q, k, v = split_heads(self.qkv(x), self.n_heads, 3)
        else:  # the query rows of the stacked map for x, the key and value rows for the context
            d = x.shape[-1]
            (q,) = split_heads(F.linear(x, self.qkv.weight[:d], self.qkv.bias[:d]), self.n_heads, 1)
            k, v = split_heads(F.linear(context, self.qkv.weight[d:], self.qkv.bias[d:]), self.n_heads, 2)
        mixed = attend(q, k, v, p=self.dropout, training=self.training, causal=causal)
        return self.out(mixed.transpose(1, 2).reshape(x.shape))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block around any token mixer `mixer(x) -> x` (pre-norm keeps deep stacks stable)."""

    def __init__(self, mixer: nn.Module, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.mixer = mixer
        self.mix_norm = nn.LayerNorm(d_model)
        self.ff_norm = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, **mixer_kwargs) -> Tensor:
        x = x + self.dropout(self.mixer(self.mix_norm(x), **mixer_kwargs))
        return x + self.dropout(self.ff(self.ff_norm(x)))


class SeriesDecomposition(nn.Module):
    """x = seasonal + trend, the trend a centred moving average over time (edges padded by repetition).

    The average is one product with `moving_average_matrix` (built once per length, device and
    dtype; never saved with the weights): 2.5x faster forward and backward than padding, pooling
    and transposing at Autoformer's shape."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self._matrix: Tensor | None = None

    def averaging(self, like: Tensor) -> Tensor:
        length = like.shape[1]
        matrix = self._matrix
        if matrix is None or matrix.shape[0] != length or matrix.device != like.device or matrix.dtype != like.dtype:
            matrix = moving_average_matrix(length, self.kernel_size).to(device=like.device, dtype=like.dtype)
            self._matrix = matrix
        return matrix

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (batch, time, channels) -> (seasonal, trend), both shaped like x."""
        trend = torch.matmul(self.averaging(x), x)
        return x - trend, trend


def moving_average_matrix(length: int, kernel_size: int) -> Tensor:
    """(length, length) matrix A with A @ x = SeriesDecomposition's trend of x along time: a
    centred moving average whose edges repeat the first and last step. One matrix product
    replaces padding, pooling and two transposes where a model applies it to many series."""
    half = (kernel_size - 1) // 2
    taps = (torch.arange(length)[:, None] + torch.arange(kernel_size)[None, :] - half).clamp(0, length - 1)
    return torch.zeros(length, length).scatter_add_(1, taps, torch.full(taps.shape, 1.0 / kernel_size))


class TokenEmbedding(nn.Module):
    """Per-time-step embedding of all features with a width-3 convolution over time (Informer's
    token embedding). Edges are padded by repetition rather than circularly, so the newest step is
    never mixed with the oldest one."""

    def __init__(self, n_features: int, d_model: int):
        super().__init__()
        self.conv = nn.Conv1d(n_features, d_model, kernel_size=3, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, time, features) -> (batch, time, d_model)."""
        padded = F.pad(x.transpose(1, 2), (1, 1), mode="replicate")
        return self.conv(padded).transpose(1, 2)


class DecompositionEncoderLayer(nn.Module):
    """Autoformer's encoder layer: mix, strip the trend, feed-forward, strip the trend again.

    FEDformer is the same layer with a Fourier mixer, so both use this one. Returns the seasonal
    part and the trend removed, which the model accumulates for its read-out."""

    def __init__(self, mixer: nn.Module, d_model: int, d_ff: int, moving_avg: int, dropout: float):
        super().__init__()
        self.mixer = mixer
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.decompose_mixed = SeriesDecomposition(moving_avg)
        self.decompose_fed = SeriesDecomposition(moving_avg)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x, mixed_trend = self.decompose_mixed(x + self.dropout(self.mixer(x)))
        x, fed_trend = self.decompose_fed(x + self.dropout(self.ff(x)))
        return x, mixed_trend + fed_trend


class DecompositionEncoder(nn.Module):
    """Autoformer's encoder: embed, run decomposition layers, and add the trends they removed back
    onto the seasonal output for the read-out. FEDformer differs only in the mixers it passes."""

    def __init__(
        self, mixers: list[nn.Module], n_features: int, d_model: int, d_ff: int, moving_avg: int, dropout: float
    ):
        super().__init__()
        self.embedding = TokenEmbedding(n_features, d_model)
        self.dropout = Dropout(dropout)
        self.layers = nn.ModuleList(
            DecompositionEncoderLayer(mixer, d_model, d_ff, moving_avg, dropout) for mixer in mixers
        )

    def forward(self, x: Tensor) -> Tensor:
        seasonal = self.dropout(self.embedding(x))
        trend = torch.zeros_like(seasonal)
        for layer in self.layers:
            seasonal, removed = layer(seasonal)
            trend = trend + removed
        return seasonal + trend
