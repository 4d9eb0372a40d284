"""The torch models' CPU kernels: each fast form beside its textbook form, behind one switch.

The switch is the torch models' hyper-parameter `cpu_kernels` (jobs/catalog.py): "fast" (the
default) or "textbook". Its value enters the run key (the catalog's declaration is hashed per model;
a spec that sets it carries it) and the result's notes; the job selects it (`select`) before it
builds a model, for the whole process (a process runs the seeds of one spec only). The fast form
acts only on a CPU: on CUDA and MPS the textbook form is torch's fused kernel already.

One fast form is left, the one a whole job pays for (benchmarks/bench_kernels.py; issue 34's note
has the table: a full-profile TimeMixer job about 8% less CPU time, PatchTST's 2%):
* dropout masks: one 16-bit lane of a 64-bit random word per element, compared with an integer
  threshold, instead of `bernoulli_` (one Mersenne-Twister draw per element, on one thread). Each
  element is dropped independently with probability p realised to 1/65536 (0.1 -> 0.1000061).
  Attention with dropout is written out (`written_out`, SDPA's definition) so that its weights take
  these masks too. What changes against the textbook form is the random stream (and the rounding
  of attention): results differ from it, seed for seed, not in distribution.
Measured and removed for paying less than 5% of a whole job: softmax over short rows as whole-tensor
passes, attention written out over short or unevenly vectorised rows, the residual-add and gelu
products fused with the dropout mask, DLinear folded into one product, and a short OpenMP spin.

Either form scales the kept elements by 1 / (1 - rate) in float32 (float64 for float64) and rounds
once to the activation's dtype, so every activation keeps its expectation in bf16 too (torch's CPU
dropout rounds the scale itself to bf16: 0.157% low at p = 0.1).
"""

import math
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

CHOICES = ("fast", "textbook")
_selected = "fast"  # process-wide: set by the job from its spec (`select`)


def select(choice: str) -> None:
    """The fast forms ("fast") or none ("textbook"), for this process."""
    if choice not in CHOICES:
        raise ValueError(f"cpu_kernels must be one of {list(CHOICES)}, got {choice!r}")
    global _selected
    _selected = choice


@contextmanager
def using(choice: str):
    """`select(choice)` for a block (tests), then the previous selection again."""
    previous = _selected
    select(choice)
    try:
        yield
    finally:
        select(previous)


def fast(x: Tensor) -> bool:
    """Whether the fast form runs for a tensor like x."""
    return _selected == "fast" and x.device.type == "cpu"


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
    if not fast(x):
        keep = torch.empty(x.shape, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
        return _Multiply.apply(x, keep.bernoulli_(1.0 - p).div_(1.0 - p))
    if realised_rate(p) == 0.0:
        return x
    return _Multiply.apply(x, keep_multiplier(x, p))


class Dropout(nn.Module):
    """Drop-in for nn.Dropout (same argument, no state, so checkpoints are unchanged)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# -- attention -------------------------------------------------------------------------------------------
def attend(q: Tensor, k: Tensor, v: Tensor, *, p: float, training: bool, causal: bool = False) -> Tensor:
    """Scaled dot-product attention with dropout p on the attention weights: torch's SDPA kernel,
    or, training with dropout on a CPU in the fast form, the same math written out so that the
    weights take the 16-bit masks (SDPA's CPU kernel falls back to that math itself with dropout,
    and draws its mask with bernoulli_)."""
    drop = training and p > 0.0
    if drop and fast(q):
        return written_out(q, k, v, p=p, causal=causal)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=p if drop else 0.0, is_causal=causal)


def written_out(q: Tensor, k: Tensor, v: Tensor, *, p: float, causal: bool) -> Tensor:
    """softmax(q k^T / sqrt(d) [+ causal mask]) with dropout p, times v: SDPA's definition."""
    scores = torch.matmul(q, k.transpose(-2, -1)).mul_(1.0 / math.sqrt(q.shape[-1]))
    if causal:
        hidden = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).triu_(1)
        scores = scores.masked_fill(hidden, float("-inf"))
    return torch.matmul(dropout(scores.softmax(dim=-1), p, training=True), v)
