"""Dropout whose masks are cheap on a CPU, and attention that uses it (with a softmax that is cheap
on the short rows of attention over a few keys).

On a CPU, `torch.nn.Dropout` draws every mask with `bernoulli_`: one Mersenne-Twister number per
element, turned into a float and compared, on one thread. With dropout 0.1 that was 30-40% of a
whole training step of PatchTST, TimeMixer and Crossformer (profiled at the TSLib anchor's
configuration; the matrix products were less). Here a mask element is one 16-bit lane of a 64-bit
word (from numpy's PCG64DXSM generator seeded from torch's default generator, or for small masks
from torch's generator itself), compared with an integer threshold: four elements per word, and
the comparison is vectorised. What changes is the mask's source, not what the layer computes:
each element is dropped independently with probability p, realised to 1/65536 (p = 0.1 -> 6554/65536 = 0.1000061), and the survivors are scaled by
1 / (1 - realised p), so every activation keeps its expectation. `torch.manual_seed` reproduces
the masks.

On CUDA and MPS the native dropout is already a fused kernel with its own fast generator: it is used
there unchanged, as it is in eval mode and wherever p == 0 (no mask is drawn at all).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

MASK_BITS = 16
_LANES = 64 // MASK_BITS  # mask elements per 64-bit draw
_LOWEST = -(2 ** (MASK_BITS - 1))


def realised_rate(p: float) -> float:
    """The drop probability the 16-bit masks realise for a requested `p`."""
    return round(p * 2**MASK_BITS) / 2**MASK_BITS


# Setting up numpy's generator costs about 10 us: below this many words torch's own draw is quicker
# (measured: 1,000 words 3 us vs 13 us; 10,000 words equal; 1,000,000 words 2.8 ms vs 1.5 ms).
NUMPY_MIN_WORDS = 8192


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
    dropped, each element dropped independently with probability realised_rate(p)."""
    n = x.numel()
    lanes = random_words((n + _LANES - 1) // _LANES).view(torch.int16)[:n].view(x.shape)
    scale = 1.0 / (1.0 - realised_rate(p))
    # Kept where lane >= threshold. The lanes are integers, so lane - (threshold - 1) is >= 1 for a
    # kept element and <= 0 for a dropped one: clamped to [0, 1] it is the exact 0/1 mask, in three
    # vectorised float passes (torch.where with scalars or a bool mask's conversion are 2-3x slower).
    threshold = _LOWEST + round(p * 2**MASK_BITS)
    # float32 whatever x is: bf16 and fp16 cannot hold every 16-bit integer exactly.
    return lanes.to(torch.float32).sub_(threshold - 1).clamp_(0.0, 1.0).mul_(scale).to(x.dtype)


class _Multiply(torch.autograd.Function):
    """x * multiplier, the multiplier a constant of the graph. Activations are memory-bound here:
    keeping the float multiplier (not a bool mask) saves two full passes per call, for 3 more
    bytes per element held until the backward pass."""

    @staticmethod
    def forward(ctx, x: Tensor, multiplier: Tensor) -> Tensor:
        ctx.save_for_backward(multiplier)
        return x * multiplier

    @staticmethod
    def backward(ctx, grad: Tensor):
        (multiplier,) = ctx.saved_tensors
        return grad * multiplier, None


def _cheap_masks(x: Tensor, p: float, training: bool) -> bool:
    """Whether a mask is drawn here: training, on a CPU, with a rate the 16-bit lanes can realise
    (p below 1/131072 rounds to 0: no element would ever be dropped)."""
    return training and x.device.type == "cpu" and realised_rate(p) > 0.0


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """F.dropout's contract; on a CPU with the cheap masks above."""
    if _cheap_masks(x, p, training):
        return _Multiply.apply(x, keep_multiplier(x, p))
    if not training or p == 0.0 or x.device.type == "cpu":  # eval, p = 0, or a rate too small to realise
        return x
    return F.dropout(x, p, training=True)


class _AddMultiplied(torch.autograd.Function):
    """residual + x * multiplier in one pass (addcmul) instead of a product and then a sum."""

    @staticmethod
    def forward(ctx, residual: Tensor, x: Tensor, multiplier: Tensor) -> Tensor:
        ctx.save_for_backward(multiplier)
        return torch.addcmul(residual, x, multiplier)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (multiplier,) = ctx.saved_tensors
        return grad, grad * multiplier, None


class _GeluMultiply(torch.autograd.Function):
    """gelu(h) * multiplier with the product written over gelu's output: one activation-sized
    tensor fewer per feed-forward layer, forward and backward (activations are memory-bound)."""

    @staticmethod
    def forward(ctx, h: Tensor, multiplier: Tensor) -> Tensor:
        ctx.save_for_backward(h, multiplier)
        return F.gelu(h).mul_(multiplier)

    @staticmethod
    def backward(ctx, grad: Tensor):
        h, multiplier = ctx.saved_tensors
        return torch.ops.aten.gelu_backward(grad * multiplier, h), None


def gelu_dropout(h: Tensor, p: float, training: bool) -> Tensor:
    """dropout(gelu(h)), the feed-forward layer's middle, fused where the cheap masks apply."""
    if _cheap_masks(h, p, training):
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
        """residual + self(x), fused where the cheap masks apply (every residual branch uses it)."""
        if _cheap_masks(x, self.p, self.training):
            return _AddMultiplied.apply(residual, x, keep_multiplier(x, self.p))
        return residual + dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# torch's CPU softmax vectorises along a row: a row shorter than one vector of floats (16 with
# AVX-512, 8 with AVX2) takes a scalar path, measured 6-15x slower forward and 3-12x slower
# backward than four whole-tensor passes at lengths 2-15 (AVX-512, 2 threads). Attention over a
# handful of keys (PatchTST's 10 patches, Crossformer's 7, 4 and 2 segments or its 1 router) is
# exactly that case.
SHORT_ROW = 16 if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else 8


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


def softmax_rows(x: Tensor) -> Tensor:
    """x.softmax(-1); on a CPU, rows shorter than SHORT_ROW go through the whole-tensor passes."""
    if x.device.type == "cpu" and x.shape[-1] < SHORT_ROW:
        return _ShortRowSoftmax.apply(x)
    return x.softmax(dim=-1)


# SDPA's CPU kernel vectorises along the keys too, and the keys past the last whole vector (keys %
# SHORT_ROW of them) take a scalar loop for every query row. Where that remainder is at least an
# eighth of the keys, attention written out (two matrix products around torch's softmax) was
# 1.1-1.7x faster in eval and 1.2-1.5x forward + backward, at 20-60 keys (iTransformer attends
# over its 25 features); with a smaller remainder SDPA won or tied (17, 18, 34, 50, 100 keys; the
# one exception, 70 keys, gained 1.1x written out). Written out, the scores are materialised:
# past 2**20 of them SDPA won again (25 keys, 2.2M scores: 2x faster), and causal attention's
# mask cost more than the remainder (SDPA 1.2-3x faster).
# Figures: 2 threads, AVX-512; `benchmarks/bench_kernels.py` re-measures them.
WRITTEN_OUT_MAX_SCORES = 2**20


def writes_out(q: Tensor, k: Tensor, *, drop: bool, causal: bool) -> bool:
    """Whether `attend` writes attention out (else the fused SDPA kernel): on a CPU, with dropout
    (so the weights' mask is a cheap one: SDPA would fall back to this same math and draw it with
    bernoulli_), for fewer than SHORT_ROW keys (SDPA's kernel was as fast to 2x slower than this
    math with `softmax_rows`), and for non-causal attention whose keys' remainder past a whole
    vector is at least an eighth of them, scores permitting (see WRITTEN_OUT_MAX_SCORES)."""
    if q.device.type != "cpu":
        return False
    keys = k.shape[-2]
    if drop or keys < SHORT_ROW:
        return True
    scores = q.shape[:-1].numel() * keys
    return not causal and 8 * (keys % SHORT_ROW) >= keys and scores <= WRITTEN_OUT_MAX_SCORES


def attend(q: Tensor, k: Tensor, v: Tensor, *, p: float, training: bool, causal: bool = False) -> Tensor:
    """Scaled dot-product attention with dropout p on the attention weights: the fused SDPA kernel,
    or the same math written out where `writes_out` says that is faster or needed."""
    drop = training and p > 0.0
    if not writes_out(q, k, drop=drop, causal=causal):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p if training else 0.0, is_causal=causal)
    scores = torch.matmul(q, k.transpose(-2, -1)).mul_(1.0 / math.sqrt(q.shape[-1]))
    if causal:
        hidden = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).triu_(1)
        scores = scores.masked_fill(hidden, float("-inf"))
    weights = softmax_rows(scores)
    return torch.matmul(dropout(weights, p, training=True) if drop else weights, v)
