"""A LLaMA-style decoder over lagged values with a GluonTS Student-t head (Lag-Llama).

Module names and shapes mirror the published checkpoint: `LagLlamaModule().state_dict()` has the
same 73 tensors as the Lightning checkpoint (`model.transformer.h.{i}.attn.q_proj.weight`, ...).
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from gluonts.torch.distributions import StudentTOutput

from jobs.lagllama.config import LagLlamaConfig


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = x.float().pow(2).mean(dim=-1, keepdim=True)
        return (self.scale * (x * torch.rsqrt(norm + self.eps))).type_as(x)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (rotate-half convention), cos/sin computed for given positions."""

    def __init__(self, head_dim: int, base: float) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = positions.float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + _rotate_half(x) * sin


@dataclass
class LayerCache:
    """Keys/values (rotary applied) of one layer. `prefix_*` (B, heads, Tp, d) are shared by the
    `group` consecutive rows of `k`/`v` (B * group, heads, Ts, d): one window's prompt is stored once
    and attended by all of its sample paths, never copied per path."""

    k: torch.Tensor
    v: torch.Tensor
    prefix_k: torch.Tensor | None = None
    prefix_v: torch.Tensor | None = None
    group: int = 1


class KVCache:
    """Per-layer keys/values of every token seen so far; `length` is the next position."""

    def __init__(self, n_layer: int) -> None:
        self.layers: list[LayerCache | None] = [None] * n_layer
        self.length = 0

    def share(self, group: int) -> "KVCache":
        """Batch row i becomes the shared prefix of rows i*group..(i+1)*group-1 (its sample paths)."""
        out = KVCache(len(self.layers))
        for i, c in enumerate(self.layers):
            if c is None:
                continue
            if c.prefix_k is not None:
                raise ValueError("cache is already shared")
            empty = c.k.new_zeros((c.k.shape[0] * group, c.k.shape[1], 0, c.k.shape[3]))
            out.layers[i] = LayerCache(k=empty, v=empty, prefix_k=c.k, prefix_v=c.v, group=group)
        out.length = self.length
        return out


def _grouped_attention(q: torch.Tensor, c: LayerCache) -> torch.Tensor:
    """New queries (B*G, h, 1, d) over the shared prefix (B, h, Tp, d) and their own keys."""
    bg, h, t, d = q.shape
    b, g = c.prefix_k.shape[0], c.group
    qg = q.view(b, g, h, d)
    s_prefix = torch.einsum("bghd,bhtd->bght", qg, c.prefix_k)
    s_own = (q @ c.k.transpose(-1, -2)).view(b, g, h, -1)
    weights = torch.softmax(torch.cat((s_prefix, s_own), dim=-1) / d**0.5, dim=-1)
    tp = c.prefix_k.shape[2]
    out = torch.einsum("bght,bhtd->bghd", weights[..., :tp], c.prefix_v).reshape(bg, h, 1, d)
    return out + weights[..., tp:].reshape(bg, h, 1, -1) @ c.v


class CausalSelfAttention(nn.Module):
    def __init__(self, config: LagLlamaConfig) -> None:
        super().__init__()
        n_embd = config.n_embd
        self.n_head = config.n_head
        self.head_dim = config.n_embd_per_head
        self.q_proj = nn.Linear(n_embd, n_embd, bias=False)
        self.kv_proj = nn.Linear(n_embd, 2 * n_embd, bias=False)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=False)
        self.dropout = config.dropout

    def forward(self, x, cos, sin, cache: KVCache | None, layer: int) -> torch.Tensor:
        b, t, c = x.shape
        q = self.q_proj(x)
        k, v = self.kv_proj(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, self.head_dim).transpose(1, 2) for z in (q, k, v))
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        past = cache.layers[layer] if cache is not None else None
        if past is None:
            if cache is not None:
                cache.layers[layer] = LayerCache(k, v)
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
            )
        else:
            if t != 1:
                raise ValueError("a cached forward takes one new token at a time")
            now = LayerCache(
                torch.cat((past.k, k), dim=2), torch.cat((past.v, v), dim=2), past.prefix_k, past.prefix_v, past.group
            )
            cache.layers[layer] = now
            if now.prefix_k is None:
                y = F.scaled_dot_product_attention(q, now.k, now.v)  # one new query sees every cached key
            else:
                y = _grouped_attention(q, now)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class MLP(nn.Module):
    """SwiGLU feed-forward."""

    def __init__(self, config: LagLlamaConfig) -> None:
        super().__init__()
        self.c_fc1 = nn.Linear(config.n_embd, config.mlp_hidden, bias=False)
        self.c_fc2 = nn.Linear(config.n_embd, config.mlp_hidden, bias=False)
        self.c_proj = nn.Linear(config.mlp_hidden, config.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.silu(self.c_fc1(x)) * self.c_fc2(x))


class Block(nn.Module):
    def __init__(self, config: LagLlamaConfig) -> None:
        super().__init__()
        self.rms_1 = RMSNorm(config.n_embd, config.norm_eps)
        self.attn = CausalSelfAttention(config)
        self.rms_2 = RMSNorm(config.n_embd, config.norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, cache, layer) -> torch.Tensor:
        x = x + self.attn(self.rms_1(x), cos, sin, cache, layer)
        return x + self.mlp(self.rms_2(x))


class LagLlamaModel(nn.Module):
    """Tokens (B, T, feature_size) -> Student-t arguments (df, loc, scale), each (B, T), in scaled units."""

    def __init__(self, config: LagLlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.distr_output = StudentTOutput()
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Linear(config.feature_size, config.n_embd),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=RMSNorm(config.n_embd, config.norm_eps),
            )
        )
        self.rotary = RotaryEmbedding(config.n_embd_per_head, config.rope_base)
        self.param_proj = self.distr_output.get_args_proj(config.n_embd)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> tuple[torch.Tensor, ...]:
        start = cache.length if cache is not None else 0
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)
        cos, sin = self.rotary(positions)
        x = self.transformer.wte(tokens)
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cos, sin, cache, layer)
        x = self.transformer.ln_f(x)
        if cache is not None:
            cache.length = start + tokens.shape[1]
        return self.param_proj(x)


class LagLlamaModule(nn.Module):
    """Same nesting as the published LightningModule (`self.model`), so state_dict names match it."""

    def __init__(self, config: LagLlamaConfig) -> None:
        super().__init__()
        self.model = LagLlamaModel(config)

    @property
    def config(self) -> LagLlamaConfig:
        return self.model.config


def count_parameters(module: nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))
