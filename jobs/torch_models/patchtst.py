"""PatchTST (Nie et al., 2023): each feature's series is cut into overlapping patches that become
the tokens of a transformer shared by all features (channel independence). The reference model.

`causal=True` is the control: a causal mask over patches (with the same last-token read-out),
so every token sees only patches that ended at or before it.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.kernels import Dropout
from jobs.torch_models.layers import Attention, EncoderBlock, Pool, check, check_common


@dataclass(frozen=True)
class PatchTSTConfig:
    context_length: int = 80
    n_features: int = 25
    patch_len: int = 16
    stride: int = 8
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 256
    dropout: float = 0.1
    causal: bool = False
    # The newest patch is read out (per feature, then averaged over features). On validation it
    # beat mean pooling, and it leaves the causal mask as the control's only difference.
    pool: Pool = "last"

    def __post_init__(self) -> None:
        check_common(self)
        check(
            1 <= self.patch_len <= self.context_length,
            f"patch_len ({self.patch_len}) must be between 1 and context_length ({self.context_length})",
        )
        check(
            1 <= self.stride <= self.patch_len,
            f"stride ({self.stride}) must be between 1 and patch_len ({self.patch_len}), or steps would be skipped",
        )
        check(not self.causal or self.pool == "last", "causal PatchTST must read out its last token: set pool='last'")

    @property
    def n_patches(self) -> int:
        """Patches after padding the end with `stride` copies of the last step, as PatchTST does,
        so the newest steps always fall in a patch."""
        return (self.context_length + self.stride - self.patch_len) // self.stride + 1


class PatchTST(nn.Module):
    def __init__(self, config: PatchTSTConfig):
        super().__init__()
        self.config = config
        self.patch_embedding = nn.Linear(config.patch_len, config.d_model)
        self.position = nn.Parameter(0.02 * torch.randn(config.n_patches, config.d_model))
        # Weights are shared across features; this tells the pooled head which feature a token is
        # (a flatten head knows it from the token's slot, a pooling head does not).
        self.feature_identity = nn.Parameter(0.02 * torch.randn(config.n_features, 1, config.d_model))
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            EncoderBlock(
                Attention(config.d_model, config.n_heads, config.dropout), config.d_model, config.d_ff, config.dropout
            )
            for _ in range(config.n_layers)
        )
        self.head = ClassificationHead(config.d_model, config.pool, config.dropout)

    def encode(self, x: Tensor) -> Tensor:
        """(batch, time, features) -> per-patch tokens (batch, features, patches, d_model)."""
        c = self.config
        series = F.pad(x.transpose(1, 2), (0, c.stride), mode="replicate")
        patches = series.unfold(-1, c.patch_len, c.stride)
        tokens = self.dropout(self.patch_embedding(patches) + self.position + self.feature_identity)
        batch, features, n_patches, width = tokens.shape
        tokens = tokens.reshape(batch * features, n_patches, width)
        for block in self.blocks:
            tokens = block(tokens, causal=c.causal)
        return tokens.reshape(batch, features, n_patches, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encode(x))
