"""The CPU kernels (jobs/torch_models/kernels.py) compute what their textbook forms compute: the
16-bit-mask dropout is dropout (each element dropped independently at the realised rate, survivors
scaled exactly in every dtype, gradients through the same mask, reproducible from torch's seed);
attention is attention, forward and backward, with the switch either way."""

import math

import pytest
import torch
import torch.nn.functional as F

from jobs.torch_models import kernels
from jobs.torch_models.kernels import (
    MASK_BITS,
    NUMPY_MIN_WORDS,
    Dropout,
    attend,
    dropout,
    keep_multiplier,
    realised_rate,
)


@pytest.fixture(params=kernels.CHOICES)
def either_way(request):
    with kernels.using(request.param):
        yield request.param


def test_the_switch_selects_the_fast_form_on_a_cpu_or_the_textbook_one():
    with kernels.using("textbook"):
        assert not kernels.fast(torch.empty(1))
    with kernels.using("fast"):
        assert kernels.fast(torch.empty(1)) and not kernels.fast(torch.empty(1, device="meta"))  # CPU only
    assert kernels.fast(torch.empty(1))  # `using` restores the selection (the default: fast)
    with pytest.raises(ValueError, match="cpu_kernels must be one of"):
        kernels.select("fastest")


def test_realised_rate_is_p_to_the_mask_precision():
    assert realised_rate(0.1) == 6554 / 65536
    assert abs(realised_rate(0.1) - 0.1) <= 0.5 / 2**MASK_BITS
    assert realised_rate(0.0) == 0.0


def masks(n: int, p: float, size: int) -> torch.Tensor:
    """n mask elements drawn `size` at a time (small masks and large ones take different generators)."""
    return torch.cat([keep_multiplier(torch.empty(size), p) for _ in range(n // size)])


@pytest.mark.parametrize("size", [1000, 1 << 21], ids=["small-masks", "large-masks"])
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_drop_rate_scale_and_every_lane_of_a_draw(p, size):
    assert (size // 4 < NUMPY_MIN_WORDS) == (size == 1000)  # both generators are exercised
    torch.manual_seed(0)
    n = 1 << 21
    multiplier = masks(n, p, size)
    rate, scale = realised_rate(p), 1 / (1 - realised_rate(p))
    values = multiplier.unique().tolist()
    assert values[0] == 0.0 and values[1] == pytest.approx(scale) and len(values) == 2
    dropped = (multiplier == 0).double()
    sigma = math.sqrt(rate * (1 - rate) / n)
    assert abs(dropped.mean().item() - rate) < 5 * sigma
    # Four mask elements share one 64-bit draw: each of its 16-bit lanes must be unbiased (the
    # sign bit of a default-range draw is always 0, which would show in one lane).
    for lane in range(4):
        assert abs(dropped[lane::4].mean().item() - rate) < 5 * 2 * sigma
    assert abs(multiplier.double().mean().item() - 1.0) < 5 * sigma * scale  # expectation kept


@pytest.mark.parametrize("size", [1000, 1 << 21], ids=["small-masks", "large-masks"])
def test_neighbouring_elements_are_independent(size):
    torch.manual_seed(1)
    n = 1 << 21
    dropped = (masks(n, 0.3, size) == 0).double()
    for lag in (1, 2, 3, 4, 5):
        corr = torch.corrcoef(torch.stack([dropped[:-lag], dropped[lag:]]))[0, 1].item()
        assert abs(corr) < 5 / math.sqrt(n)


def test_masks_follow_torch_seed(either_way):
    x = torch.ones(1000)
    torch.manual_seed(7)
    a = dropout(x, 0.2, training=True)
    torch.manual_seed(7)
    b = dropout(x, 0.2, training=True)
    torch.manual_seed(8)
    c = dropout(x, 0.2, training=True)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_the_scale_is_exact_in_every_dtype(either_way, dtype):
    """A kept element is x * (1 / (1 - rate)) computed in float32 (float64 for float64) and rounded
    once: no dtype rounds the scale itself (bf16 would make it 1.109375, 0.157% low at p = 0.1)."""
    x = torch.randn(1 << 16, generator=torch.Generator().manual_seed(5)).to(dtype)
    torch.manual_seed(6)
    out = dropout(x, 0.1, training=True)
    kept = out != 0
    rate = realised_rate(0.1) if either_way == "fast" else 0.1
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    assert out.dtype == dtype
    expected = (x.to(compute) * torch.tensor(1 / (1 - rate), dtype=compute)).to(dtype)
    assert torch.equal(out[kept], expected[kept])
    assert 0.08 < 1 - kept.double().mean().item() < 0.12


def test_bf16_activations_get_the_same_mask_as_float32():
    torch.manual_seed(4)
    a = dropout(torch.ones(1 << 16), 0.1, training=True)
    torch.manual_seed(4)
    b = dropout(torch.ones(1 << 16, dtype=torch.bfloat16), 0.1, training=True)
    assert torch.equal(a == 0, b == 0)


def test_gradient_goes_through_the_same_mask(either_way):
    torch.manual_seed(3)
    x = torch.randn(64, 33, requires_grad=True)
    out = Dropout(0.25).train()(x)
    out.backward(torch.ones_like(out))
    kept = out != 0
    assert torch.allclose(out[kept] / x[kept], x.grad[kept])
    assert torch.all(x.grad[~kept] == 0)
    assert 0.15 < (~kept).float().mean().item() < 0.35


def test_identity_in_eval_and_at_zero_and_bad_rate_rejected(either_way):
    x = torch.randn(10, 10)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        Dropout(1.0)


@pytest.mark.parametrize("causal", [False, True])
def test_attend_is_sdpa_without_dropout_and_masks_the_weights_with_it(causal):
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(3, 4, 9, 8, generator=g) for _ in range(3))
    reference = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    for choice in kernels.CHOICES:
        with kernels.using(choice):
            assert torch.allclose(attend(q, k, v, p=0.0, training=True, causal=causal), reference, atol=1e-6)
            assert torch.allclose(attend(q, k, v, p=0.3, training=False, causal=causal), reference, atol=1e-6)

    with kernels.using("fast"):  # the fast form's weights take the 16-bit masks
        torch.manual_seed(11)
        got = attend(q, k, v, p=0.3, training=True, causal=causal)
    scores = q @ k.transpose(-2, -1) / math.sqrt(8)
    if causal:
        scores = scores.masked_fill(torch.ones(9, 9, dtype=torch.bool).triu(1), float("-inf"))
    weights = scores.softmax(-1)
    torch.manual_seed(11)
    expected = (weights * keep_multiplier(weights, 0.3)) @ v
    assert torch.allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("keys", [3, 9, 20, 25, 32, 33])
@pytest.mark.parametrize("causal", [False, True])
def test_attend_without_dropout_has_sdpa_gradients_at_every_key_count(either_way, keys, causal):
    g = torch.Generator().manual_seed(keys)
    q, k, v = (torch.randn(6, 4, keys, 8, generator=g).requires_grad_() for _ in range(3))
    upstream = torch.randn(6, 4, keys, 8, generator=g)
    got = attend(q, k, v, p=0.0, training=True, causal=causal)
    fused = "ScaledDotProduct" in type(got.grad_fn).__name__
    assert fused  # written out only to take the 16-bit masks
    got_grads = torch.autograd.grad(got, (q, k, v), upstream)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    expected_grads = torch.autograd.grad(expected, (q, k, v), upstream)
    assert torch.allclose(got, expected, atol=1e-5)
    for a, b in zip(got_grads, expected_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_causal_attention_with_dropout_never_reads_the_future(either_way):
    torch.manual_seed(2)
    q, k = torch.randn(2, 2, 6, 4), torch.randn(2, 2, 6, 4)
    v = torch.randn(2, 2, 6, 4, requires_grad=True)
    attend(q, k, v, p=0.2, training=True, causal=True)[:, :, 2].sum().backward()
    assert torch.all(v.grad[:, :, 3:] == 0)
    assert v.grad[:, :, :3].abs().sum() > 0
