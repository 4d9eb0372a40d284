"""ARMA-Attention (Lu et al., arXiv 2410.03159, later titled WAVE): a decoder-only model whose
token mixer is an autoregressive term plus a moving-average term over one-step residuals.

For value tokens v_1..v_T of one head:
    AR_t  = sum_{i <= t} a_{t,i} v_i                     (causal softmax attention)
    e_j   = v_{j+1} - AR_j                               (what AR_j failed to predict of the next token)
    MA_t  = (1 / (t - 1)) sum_{j < t} theta_{t,j} e_j    (theta in (-1, 1): tanh of a second query/key pair)
    out_t = AR_t + MA_t
e_j uses v_{j+1}, and MA_t only e_j with j < t, so out_t still sees steps <= t only. The MA
weights may be negative (an MA coefficient can be), hence tanh rather than a softmax; averaging
over the residuals seen so far keeps the term's scale independent of t.

Each day is one token (all features embedded by one linear map, plus a learned position), and
the head reads the newest token, so the whole model is causal.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.kernels import Dropout, attend
from jobs.torch_models.layers import Attention, EncoderBlock, Pool, check, check_common, split_heads


@dataclass(frozen=True)
class ARMAttentionConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 256
    dropout: float = 0.1
    pool: Pool = "last"

    def __post_init__(self) -> None:
        check_common(self)
        check(self.pool == "last", "ARMA-Attention is causal and reads out its newest token: pool must be 'last'")


class ARMAAttention(Attention):
    """Causal AR attention (the shared Attention's projections) plus the MA term over its one-step
    residuals, weighted through a second query/key pair (see the module docstring)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__(d_model, n_heads, dropout)
        self.ma_qk = nn.Linear(d_model, 2 * d_model)  # the MA term's query and key

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = split_heads(self.qkv(x), self.n_heads, 3)
        ma_q, ma_k = split_heads(self.ma_qk(x), self.n_heads, 2)
        ar = attend(q, k, v, p=self.dropout, training=self.training, causal=True)
        # e_j for j = 1..T-1 (1-based), placed at index j so that row t of the MA weights reads e_{<t}.
        residuals = F.pad(v[:, :, 1:] - ar[:, :, :-1], (0, 0, 1, 0))
        length = x.shape[1]
        theta = torch.tanh(ma_q @ ma_k.transpose(-2, -1) / math.sqrt(ma_q.shape[-1]))
        # Row t (0-based) may use residual slots 1..t, i.e. e_j with j < t in the docstring's indexing.
        allowed = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        allowed[:, 0] = False
        counts = allowed.sum(-1).clamp_min(1).to(theta.dtype)
        theta = theta.masked_fill(~allowed, 0.0) / counts[:, None]
        mixed = ar + theta @ residuals
        return self.out(mixed.transpose(1, 2).reshape(x.shape))


class ARMAttention(nn.Module):
    def __init__(self, config: ARMAttentionConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Linear(config.n_features, config.d_model)
        self.position = nn.Parameter(0.02 * torch.randn(config.context_length, config.d_model))
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            EncoderBlock(
                ARMAAttention(config.d_model, config.n_heads, config.dropout),
                config.d_model,
                config.d_ff,
                config.dropout,
            )
            for _ in range(config.n_layers)
        )
        self.head = ClassificationHead(config.d_model, config.pool, config.dropout)

    def encode(self, x: Tensor) -> Tensor:
        """(batch, time, features) -> one token per day (batch, time, d_model), each seeing days <= its own."""
        tokens = self.dropout(self.embedding(x) + self.position)
        for block in self.blocks:
            tokens = block(tokens)
        return tokens

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encode(x))
