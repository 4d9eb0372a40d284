"""Timer (Liu et al., ICML 2024; THUML's `thuml/timer-base-84m`): a decoder-only transformer over
non-overlapping patches of one univariate series that predicts the next patch from every token.

Written from the published architecture, not copied: the module tree is laid out so that
`TimerForPrediction(config).state_dict()` has exactly the names and shapes of the published
`model.safetensors` (`model.embed_layer.emb.weight`, `model.layers.{i}.self_attn.q_proj.weight`,
..., `lm_heads.0.weight`), which is what lets `weights.load_published` load it strictly.

Architecture: patch embedding (linear, no bias); per layer rotary-position causal self-attention
(q/k/v with bias, output projection without) and a SwiGLU feed-forward, each followed by its
residual sum and a LayerNorm (post-norm, as published); a final LayerNorm; one linear head per
output patch length.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class TimerConfig:
    """The published config.json's architecture keys (defaults: timer-base-84m)."""

    input_token_len: int = 96
    hidden_size: int = 1024
    intermediate_size: int = 2048
    output_token_lens: tuple[int, ...] = (96,)
    num_hidden_layers: int = 8
    num_attention_heads: int = 8
    rope_theta: float = 10000.0
    hidden_act: str = "silu"

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads or (self.hidden_size // self.num_attention_heads) % 2:
            raise ValueError("hidden_size / num_attention_heads must be an even whole number (rotary halves)")
        if self.hidden_act != "silu":
            raise ValueError(f"only the published SwiGLU (hidden_act 'silu') is implemented, not {self.hidden_act!r}")
        if min(self.input_token_len, self.num_hidden_layers, *self.output_token_lens) < 1:
            raise ValueError("token lengths and layer count must be >= 1")

    @classmethod
    def from_json(cls, path: Path) -> "TimerConfig":
        """Reads the published config.json; keys that do not shape the network are ignored."""
        raw = json.loads(Path(path).read_text())
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        if "output_token_lens" in known:
            known["output_token_lens"] = tuple(known["output_token_lens"])
        return cls(**known)

    def to_json(self) -> dict:
        return {
            "model_type": "timer",
            **{k: getattr(self, k) for k in self.__dataclass_fields__},
            "output_token_lens": list(self.output_token_lens),
        }


def rotate_half(x: Tensor) -> Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


class TimerAttention(nn.Module):
    def __init__(self, config: TimerConfig):
        super().__init__()
        width = config.hidden_size
        self.n_heads = config.num_attention_heads
        self.head_dim = width // self.n_heads
        self.q_proj = nn.Linear(width, width, bias=True)
        self.k_proj = nn.Linear(width, width, bias=True)
        self.v_proj = nn.Linear(width, width, bias=True)
        self.o_proj = nn.Linear(width, width, bias=False)
        inverse = 1.0 / (config.rope_theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        self.register_buffer("inv_freq", inverse, persistent=False)  # not in the published state dict

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        q, k, v = (
            p(x).view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)
            for p in (self.q_proj, self.k_proj, self.v_proj)
        )
        angles = torch.arange(length, device=x.device, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        angles = torch.cat((angles, angles), dim=-1)
        cos, sin = angles.cos().to(q.dtype), angles.sin().to(q.dtype)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(mixed.transpose(1, 2).reshape(batch, length, width))


class TimerFeedForward(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)), no biases."""

    def __init__(self, config: TimerConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class TimerDecoderLayer(nn.Module):
    def __init__(self, config: TimerConfig):
        super().__init__()
        self.self_attn = TimerAttention(config)
        self.ffn_layer = TimerFeedForward(config)
        self.norm1 = nn.LayerNorm(config.hidden_size)
        self.norm2 = nn.LayerNorm(config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm1(x + self.self_attn(x))
        return self.norm2(x + self.ffn_layer(x))


class TimerPatchEmbedding(nn.Module):
    def __init__(self, config: TimerConfig):
        super().__init__()
        self.patch = config.input_token_len
        self.emb = nn.Linear(config.input_token_len, config.hidden_size, bias=False)

    def forward(self, series: Tensor) -> Tensor:
        """(batch, n_patches * patch) -> (batch, n_patches, hidden)."""
        return self.emb(series.unfold(-1, self.patch, self.patch))


class TimerBackbone(nn.Module):
    def __init__(self, config: TimerConfig):
        super().__init__()
        self.embed_layer = TimerPatchEmbedding(config)
        self.layers = nn.ModuleList(TimerDecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = nn.LayerNorm(config.hidden_size)

    def forward(self, series: Tensor) -> Tensor:
        x = self.embed_layer(series)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class TimerForPrediction(nn.Module):
    """`hidden(series)`: one embedding per patch token; `forward(series)`: each token's forecast of
    the next `output_token_lens[0]` values (the published head used for generation)."""

    def __init__(self, config: TimerConfig):
        super().__init__()
        self.config = config
        self.model = TimerBackbone(config)
        self.lm_heads = nn.ModuleList(nn.Linear(config.hidden_size, n, bias=False) for n in config.output_token_lens)

    def hidden(self, series: Tensor) -> Tensor:
        if series.shape[-1] % self.config.input_token_len:
            raise ValueError(f"series length {series.shape[-1]} is not a multiple of {self.config.input_token_len}")
        return self.model(series)

    def forward(self, series: Tensor) -> Tensor:
        """(batch, n_patches * patch) -> (batch, n_patches, output_token_lens[0])."""
        return self.lm_heads[0](self.hidden(series))


def normalise(series: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The published RevIN: each row's mean and (unbiased) std over its input. A constant row,
    where the published code divides by zero, gets std 1 instead."""
    mean = series.mean(dim=-1, keepdim=True)
    std = series.std(dim=-1, keepdim=True)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    return (series - mean) / std, mean, std


@torch.no_grad()
def forecast(model: TimerForPrediction, series: Tensor, steps: int) -> Tensor:
    """Autoregressive forecast of the next `steps` values of each row, (batch, length) -> (batch, steps):
    normalise, predict the next output patch from the last token, append its first input-patch's
    worth of values (the window keeps its length), repeat; de-normalise."""
    scaled, mean, std = normalise(series)
    patch = model.config.input_token_len
    if steps > model.config.output_token_lens[0] and model.config.output_token_lens[0] < patch:
        raise ValueError("an output patch shorter than an input token cannot be fed back")
    produced, done = [], 0
    while done < steps:
        nxt = model(scaled)[:, -1, :]
        produced.append(nxt)
        done += nxt.shape[-1]
        scaled = torch.cat((scaled[:, patch:], nxt[:, :patch]), dim=-1)
    return torch.cat(produced, dim=-1)[:, :steps] * std + mean


def count_parameters(config: TimerConfig) -> int:
    """Exact count without allocating (meta device): 84,142,080 for the published config."""
    with torch.device("meta"):
        model = TimerForPrediction(config)
    return sum(p.numel() for p in model.parameters())


def ar_loss(model: TimerForPrediction, segment: Tensor) -> Tensor:
    """The published objective: MSE of every token's next-patch forecast, in the normalised scale
    of the input part. segment: (batch, (n + 1) * patch); the tokens see the first n patches."""
    patch = model.config.input_token_len
    inputs, mean, std = normalise(segment[:, :-patch])
    targets = ((segment[:, patch:] - mean) / std).unfold(-1, patch, patch)
    return F.mse_loss(model(inputs)[..., :patch], targets)
