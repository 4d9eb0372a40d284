"""The torch models' CPU kernels: each fast form beside its textbook form, behind one switch.

The switch is the torch models' hyper-parameter `cpu_kernels` (jobs/catalog.py): "fast" (the
default) or "textbook". Its value enters the run key (the catalog's declaration is hashed per model;
a spec that sets it carries it) and the result's notes; the job selects it (`select`) before it
builds a model, for the whole process (a process runs the seeds of one spec only). The fast forms
act only on a CPU: on CUDA and MPS the textbook forms are torch's fused kernels already.

Fast forms, each kept because a whole job pays for it (benchmarks/bench_kernels.py; the issue 34
note has the table):
* dropout masks: one 16-bit lane of a 64-bit random word per element, compared with an integer
  threshold, instead of `bernoulli_` (one Mersenne-Twister draw per element, on one thread). Each
  element is dropped independently with probability p realised to 1/65536 (0.1 -> 0.1000061) and
  survivors are scaled by 1 / (1 - realised p) in float32 and rounded once, whatever the dtype, so
  every activation keeps its expectation. `torch.manual_seed` reproduces the masks. What changes
  against the textbook form is the random stream: results differ from it, seed for seed.
* short rows: softmax over rows shorter than SHORT_ROW keys as four whole-tensor passes (torch's
  CPU kernel takes a scalar path on a row shorter than one vector), and attention over them written
  out around that softmax instead of SDPA's kernel; with dropout, attention is written out so that
  its weights take the cheap masks. The same math, rounded differently.
"""

import math
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

CHOICES = ("fast", "textbook")
KERNELS = ("dropout_masks", "fused_dropout", "short_rows", "uneven_rows", "dlinear")  # what "fast" turns on
_active: set[str] = set(KERNELS)


def select(choice: str) -> None:
    """Every fast kernel ("fast") or none ("textbook"), for this process."""
    if choice not in CHOICES:
        raise ValueError(f"cpu_kernels must be one of {list(CHOICES)}, got {choice!r}")
    _active.clear()
    _active.update(KERNELS if choice == "fast" else ())


def selected() -> str:
    return "fast" if _active == set(KERNELS) else "textbook" if not _active else "+".join(sorted(_active))


def ablate(kernel: str) -> None:
    """Turn one fast kernel back into its textbook form (benchmarks/bench_kernels.py only)."""
    if kernel not in KERNELS:
        raise ValueError(f"no kernel {kernel!r}; known: {list(KERNELS)}")
    _active.discard(kernel)


@contextmanager
def using(choice: str):
    """`select(choice)` for a block (tests), then the previous selection again."""
    previous = set(_active)
    select(choice)
    try:
        yield
    finally:
        _active.clear()
        _active.update(previous)


def fast(kernel: str, x: Tensor) -> bool:
    """Whether `kernel` runs in its fast form for a tensor like x."""
    return kernel in _active and x.device.type == "cpu"


# -- dropout ---------------------------------------------------------------------------------------------
MASK_BITS = 16
_LANES = 64 // MASK_BITS  # mask elements per 64-bit draw
_LOWEST = -(2 ** (MASK_BITS - 1))
# Setting up numpy's generator costs about 10 us: below this many words torch's own draw is quicker
# (measured: 1,000 words 3 us vs 13 us; 10,000 words equal; 1,000,000 words 2.8 ms vs 1.5 ms).
NUMPY_MIN_WORDS = 8192


def realised_rate(p: float) -> float:
    """The drop probability the 16-bit masks realise for a requested `p`."""
    return round(p * 2**MASK_BITS) / 2**MASK_BITS


def random_words(n: int) -> Tensor:
    """n uniform 64-bit words (int64, CPU). For large n numpy's PCG64DXSM writes them 2x faster than
    torch's Mersenne Twister (`random_`); it is seeded with one draw from torch's default generator,
    so `torch.manual_seed` still reproduces every mask. Small n are drawn by torch directly."""
    if n < NUMPY_MIN_WORDS:
        return torch.empty(n, dtype=torch.int64).random_(-(2**63), 2**63 - 1)  # the sign bit too
    seed = int(torch.randint(-(2**63), 2**63 - 1, (), dtype=torch.int64)) % 2**64
    return torch.from_numpy(np.random.PCG64DXSM(seed).random_raw(n).view(np.int64))


def keep_multiplier(x: Tensor, p: float) -> Tensor:
    """A tensor shaped like x: 1 / (1 - realised_rate(p)) where an element is kept, 0 where it is
    dropped, each element dropped independently with probability realised_rate(p). Float32 for
    every x but float64 (then float64): bf16 and fp16 hold neither every 16-bit lane nor the scale."""
    n = x.numel()
    lanes = random_words((n + _LANES - 1) // _LANES).view(torch.int16)[:n].view(x.shape)
    scale = 1.0 / (1.0 - realised_rate(p))
    # Kept where lane >= threshold. The lanes are integers, so lane - (threshold - 1) is >= 1 for a
    # kept element and <= 0 for a dropped one: clamped to [0, 1] it is the exact 0/1 mask, in three
    # vectorised float passes (torch.where with scalars or a bool mask's conversion are 2-3x slower).
    threshold = _LOWEST + round(p * 2**MASK_BITS)
    mask = lanes.to(torch.float32).sub_(threshold - 1).clamp_(0.0, 1.0)
    return (mask.double() if x.dtype == torch.float64 else mask).mul_(scale)


class _Multiply(torch.autograd.Function):
    """x * multiplier, computed in the multiplier's precision and rounded once to x's dtype; the
    multiplier is a constant of the graph (kept as floats: two passes fewer than a bool mask, per call)."""

    @staticmethod
    def forward(ctx, x: Tensor, multiplier: Tensor) -> Tensor:
        ctx.save_for_backward(multiplier)
        return torch.mul(x, multiplier).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (multiplier,) = ctx.saved_tensors
        return torch.mul(grad, multiplier).to(grad.dtype), None


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """F.dropout's contract. Textbook form: torch's on CUDA and MPS; on a CPU its algorithm (one
    bernoulli_ draw per element) with the scale in float32, which torch's CPU kernel rounds to a
    bf16 or fp16 input's dtype. Fast form: the 16-bit masks (a rate too small for them to realise,
    below 1/131072, drops nothing)."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    if not fast("dropout_masks", x):
        keep = torch.empty(x.shape, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
        return _Multiply.apply(x, keep.bernoulli_(1.0 - p).div_(1.0 - p))
    if realised_rate(p) == 0.0:
        return x
    return _Multiply.apply(x, keep_multiplier(x, p))


class _AddMultiplied(torch.autograd.Function):
    """residual + x * multiplier in one pass (addcmul) instead of a product and then a sum."""

    @staticmethod
    def forward(ctx, residual: Tensor, x: Tensor, multiplier: Tensor) -> Tensor:
        ctx.save_for_backward(multiplier)
        return torch.addcmul(residual, x, multiplier).to(residual.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (multiplier,) = ctx.saved_tensors
        return grad, torch.mul(grad, multiplier).to(grad.dtype), None


class _GeluMultiply(torch.autograd.Function):
    """gelu(h) * multiplier with the product written over gelu's output."""

    @staticmethod
    def forward(ctx, h: Tensor, multiplier: Tensor) -> Tensor:
        ctx.save_for_backward(h, multiplier)
        return F.gelu(h).mul_(multiplier)

    @staticmethod
    def backward(ctx, grad: Tensor):
        h, multiplier = ctx.saved_tensors
        return torch.ops.aten.gelu_backward(torch.mul(grad, multiplier).to(grad.dtype), h), None


def _fused(x: Tensor, p: float, training: bool) -> bool:
    return training and p > 0.0 and fast("dropout_masks", x) and fast("fused_dropout", x) and realised_rate(p) > 0


def gelu_dropout(h: Tensor, p: float, training: bool) -> Tensor:
    if _fused(h, p, training):
        return _GeluMultiply.apply(h, keep_multiplier(h, p))
    return dropout(F.gelu(h), p, training)


class Dropout(nn.Module):
    """Drop-in for nn.Dropout (same argument, no state, so checkpoints are unchanged)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def add(self, residual: Tensor, x: Tensor) -> Tensor:
        if _fused(x, self.p, self.training):
            return _AddMultiplied.apply(residual, x, keep_multiplier(x, self.p))
        return residual + dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# -- softmax and attention over short rows ---------------------------------------------------------------
# torch's CPU softmax vectorises along a row: a row shorter than one vector of floats (16 with
# AVX-512, 8 with AVX2) takes a scalar path, measured 6-15x slower forward and 3-12x slower backward
# than four whole-tensor passes at lengths 2-15 (AVX-512, 2 threads). Attention over a handful of
# keys (PatchTST's 10 patches, Crossformer's 7, 4 and 2 segments or its 1 router) is exactly that
# case. One threshold for every host, so that which form runs never depends on the CPU's vector width.
SHORT_ROW = 16


def softmax(x: Tensor) -> Tensor:
    """x.softmax(-1)."""
    if fast("short_rows", x) and x.shape[-1] < SHORT_ROW:
        return _ShortRowSoftmax.apply(x)
    return x.softmax(dim=-1)


class _ShortRowSoftmax(torch.autograd.Function):
    """softmax over the last dim as whole-tensor passes (max, exp, sum, divide); backward
    y * (g - sum(g * y)). Computed in float32 whatever the input is, like autocast's softmax."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        y = x.float()
        y = (y - y.amax(dim=-1, keepdim=True)).exp_()
        y = y.div_(y.sum(dim=-1, keepdim=True)).to(x.dtype)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor):
        (y,) = ctx.saved_tensors
        grad, y32 = grad.float(), y.float()
        return (grad - (grad * y32).sum(dim=-1, keepdim=True)).mul_(y32).to(y.dtype)


def attend(q: Tensor, k: Tensor, v: Tensor, *, p: float, training: bool, causal: bool = False) -> Tensor:
    """Scaled dot-product attention with dropout p on the attention weights. Textbook: torch's
    SDPA kernel. Fast, on a CPU: the same math written out (`written_out`) over short rows, where
    `softmax` is 2x faster than SDPA's kernel, and with dropout, where SDPA's CPU kernel would fall
    back to this math anyway and draw its mask with bernoulli_."""
    drop = training and p > 0.0
    keys = k.shape[-2]
    uneven = (
        fast("uneven_rows", q)
        and not causal
        and 8 * (keys % SHORT_ROW) >= keys
        and q.shape[:-1].numel() * keys <= 2**20
    )
    if fast("short_rows", q) and (keys < SHORT_ROW or (drop and fast("dropout_masks", q)) or uneven):
        return written_out(q, k, v, p=p if drop else 0.0, causal=causal)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=p if drop else 0.0, is_causal=causal)


def written_out(q: Tensor, k: Tensor, v: Tensor, *, p: float, causal: bool) -> Tensor:
    """softmax(q k^T / sqrt(d) [+ causal mask]) with dropout p, times v: SDPA's definition."""
    scores = torch.matmul(q, k.transpose(-2, -1)).mul_(1.0 / math.sqrt(q.shape[-1]))
    if causal:
        hidden = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).triu_(1)
        scores = scores.masked_fill(hidden, float("-inf"))
    return torch.matmul(dropout(softmax(scores), p, training=True), v)
