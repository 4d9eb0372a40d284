"""Speed rewrites compute what the published formulation computes: each reference below is the
model's previous, step-by-step implementation, written as a function of the rewritten module's
own parameters. Same weights, same input -> same logits and same gradients, in float32
tolerance; with dropout active the masks differ, so equality is checked with dropout off and
in eval mode. Every check runs with the CPU kernels' switch both ways (jobs/torch_models/kernels.py)."""

import pytest
import torch
import torch.nn.functional as F

from jobs.torch_models import kernels
from jobs.torch_models.autoformer import Autoformer, AutoformerConfig
from jobs.torch_models.dlinear import DLinear, DLinearConfig
from jobs.torch_models.layers import Attention, SeriesDecomposition, moving_average_matrix, split_heads
from jobs.torch_models.timemixer import TimeMixer, TimeMixerConfig

ATOL, RTOL = 1e-5, 1e-4


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the CI box has 2 shared cores
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, params=kernels.CHOICES)
def cpu_kernels(request):
    with kernels.using(request.param):
        yield request.param


def inputs(n: int = 6, length: int = 80, features: int = 25) -> torch.Tensor:
    return torch.randn(n, length, features, generator=torch.Generator().manual_seed(11))


def decomposition_reference(x: torch.Tensor, kernel: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(seasonal, trend): the trend by padding with the edge steps and average pooling."""
    half = (kernel - 1) // 2
    padded = torch.cat([x[:, :1].expand(-1, half, -1), x, x[:, -1:].expand(-1, half, -1)], dim=1)
    trend = F.avg_pool1d(padded.transpose(1, 2), kernel, stride=1).transpose(1, 2)
    return x - trend, trend


def dlinear_reference(model: DLinear, x: torch.Tensor) -> torch.Tensor:
    """Decompose, then one einsum per part over time, then the mean-pooling head."""
    seasonal, trend = decomposition_reference(x, model.config.moving_avg)
    tokens = (
        torch.einsum("btf,ftd->bfd", seasonal, model.seasonal_weight)
        + torch.einsum("btf,ftd->bfd", trend, model.trend_weight)
        + model.bias
    )
    return model.head(tokens)


def timemixer_reference(model: TimeMixer, x: torch.Tensor) -> torch.Tensor:
    """One list entry per scale; every layer decomposes and mixes scale by scale, and the head
    runs once per scale."""

    def time_mlp(mlp, series):
        return mlp.second(F.gelu(mlp.first(series.transpose(1, 2)))).transpose(1, 2)

    scales = [model.embedding(s) for s in model.multiscale(x)]

    def decompose(series):
        return decomposition_reference(series, model.config.moving_avg)

    for layer in model.layers:
        seasons, trends = [], []
        for series in scales:
            season, trend = decompose(layer.norm(series))
            seasons.append(layer.feature_mixing(season))
            trends.append(layer.feature_mixing(trend))
        for i, up in enumerate(layer.season_up):
            seasons[i + 1] = seasons[i + 1] + time_mlp(up, seasons[i])
        for i in reversed(range(len(layer.trend_down))):
            trends[i] = trends[i] + time_mlp(layer.trend_down[i], trends[i + 1])
        scales = [series + layer.dropout(layer.out(s + t)) for series, s, t in zip(scales, seasons, trends)]
    return sum(model.head(s) for s in scales) / len(scales)


def autocorrelation_reference(mixer, x: torch.Tensor) -> torch.Tensor:
    """Autoformer's time-delay aggregation as top_k gathered, rolled copies of the values."""
    batch, length, width = x.shape
    q = mixer.query(x).view(batch, length, mixer.n_heads, -1)
    k = mixer.key(x).view(batch, length, mixer.n_heads, -1)
    correlation = torch.fft.irfft(torch.fft.rfft(q, dim=1) * torch.fft.rfft(k, dim=1).conj(), n=length, dim=1)
    strength, lags = correlation.mean(dim=(2, 3)).topk(mixer.top_k, dim=-1)
    weights = torch.softmax(strength, dim=-1)
    values = mixer.value(x)
    rolled = torch.stack([torch.roll(values[b], -int(lag), dims=0) for b in range(batch) for lag in lags[b]])
    rolled = rolled.view(batch, mixer.top_k, length, width)
    return mixer.out((weights[:, :, None, None] * rolled).sum(dim=1))


def autoformer_reference(model: Autoformer, x: torch.Tensor) -> torch.Tensor:
    """The decomposition encoder step by step, with the reference aggregation and decomposition."""
    encoder, kernel = model.encoder, model.config.moving_avg
    seasonal = encoder.dropout(encoder.embedding(x))
    trend = torch.zeros_like(seasonal)
    for layer in encoder.layers:
        seasonal, mixed_trend = decomposition_reference(
            seasonal + layer.dropout(autocorrelation_reference(layer.mixer, seasonal)), kernel
        )
        seasonal, fed_trend = decomposition_reference(seasonal + layer.dropout(layer.ff(seasonal)), kernel)
        trend = trend + mixed_trend + fed_trend
    return model.head(seasonal + trend)


CASES = [
    pytest.param(
        Autoformer, AutoformerConfig(d_model=16, d_ff=24, n_heads=2, dropout=0.0), autoformer_reference, id="autoformer"
    ),
    pytest.param(
        Autoformer,
        AutoformerConfig(
            context_length=37, n_features=4, d_model=8, d_ff=8, n_heads=2, moving_avg=5, factor=2.0, dropout=0.0
        ),
        autoformer_reference,
        id="autoformer-odd-length-more-lags",
    ),
    pytest.param(DLinear, DLinearConfig(d_model=8, dropout=0.0), dlinear_reference, id="dlinear"),
    pytest.param(
        DLinear,
        DLinearConfig(context_length=30, n_features=3, d_model=5, moving_avg=41, dropout=0.0),
        dlinear_reference,
        id="dlinear-window-longer-than-context",
    ),
    pytest.param(
        TimeMixer, TimeMixerConfig(d_model=32, d_ff=48, n_layers=2, dropout=0.0), timemixer_reference, id="timemixer"
    ),
    pytest.param(
        TimeMixer,
        TimeMixerConfig(
            context_length=83,
            d_model=16,
            d_ff=24,
            down_sampling_window=3,
            down_sampling_layers=2,
            moving_avg=5,
            pool="mean",
            dropout=0.0,
        ),
        timemixer_reference,
        id="timemixer-uneven-scales-mean-pool",
    ),
]


def _logits_and_gradients(model, forward, x):
    model.zero_grad(set_to_none=True)
    logits = forward(x)
    F.binary_cross_entropy_with_logits(logits, torch.arange(len(x)).remainder(2).float()).backward()
    return logits.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("model_class, config, reference", CASES)
def test_rewrite_matches_the_reference_forward_and_backward(model_class, config, reference):
    torch.manual_seed(0)
    model = model_class(config).train()
    x = inputs(length=config.context_length, features=config.n_features)
    logits, grads = _logits_and_gradients(model, model, x)
    expected, expected_grads = _logits_and_gradients(model, lambda batch: reference(model, batch), x)
    torch.testing.assert_close(logits, expected, atol=ATOL, rtol=RTOL)
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], atol=ATOL, rtol=RTOL, msg=name)
    assert any(g.abs().max() > 0 for g in grads.values())


@pytest.mark.parametrize("model_class, config, reference", CASES)
def test_rewrite_matches_the_reference_in_eval_with_dropout_configured(model_class, config, reference):
    config = type(config)(**{**config.__dict__, "dropout": 0.3})
    torch.manual_seed(1)
    model = model_class(config).eval()
    x = inputs(length=config.context_length, features=config.n_features)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(model, x), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("length, kernel", [(80, 25), (20, 25), (7, 1), (9, 3)])
def test_moving_average_matrix_is_the_decomposition_trend(length, kernel):
    x = torch.randn(4, length, 3, generator=torch.Generator().manual_seed(5))
    seasonal, trend = decomposition_reference(x, kernel)
    torch.testing.assert_close(moving_average_matrix(length, kernel) @ x, trend, atol=1e-6, rtol=1e-5)
    got_seasonal, got_trend = SeriesDecomposition(kernel)(x)
    torch.testing.assert_close(got_trend, trend, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_seasonal, seasonal, atol=1e-6, rtol=1e-5)


def test_derived_matrices_are_not_saved_with_the_weights():
    """Saved weights of the previous implementation load unchanged: no new state_dict keys."""
    dlinear = DLinear(DLinearConfig(d_model=4))
    timemixer = TimeMixer(TimeMixerConfig(d_model=16, d_ff=16))
    assert set(dlinear.state_dict()) == {
        "seasonal_weight",
        "trend_weight",
        "bias",
        "head.norm.weight",
        "head.norm.bias",
        "head.logit.weight",
        "head.logit.bias",
    }
    assert not any("averaging" in key for key in timemixer.state_dict())


def separate_projection_attention(attention: Attention, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """One linear map per query, key and value (the rows of the stacked map), each split into heads."""
    batch, length, width = x.shape
    maps = zip(attention.qkv.weight.chunk(3), attention.qkv.bias.chunk(3), strict=True)
    query, key, value = (lambda t, w=w, b=b: F.linear(t, w, b) for w, b in maps)

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(t.shape[0], t.shape[1], attention.n_heads, -1).transpose(1, 2)

    q, k, v = heads(query(x)), heads(key(context)), heads(value(context))
    mixed = F.scaled_dot_product_attention(q, k, v)
    return attention.out(mixed.transpose(1, 2).reshape(batch, length, width))


@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_one_stacked_projection_matches_separate_ones_forward_and_backward(cross):
    torch.manual_seed(3)
    attention = Attention(32, 4, dropout=0.0)
    x = torch.randn(5, 7, 32, requires_grad=True)
    context = torch.randn(5, 3, 32, requires_grad=True) if cross else x
    got = attention(x, context=context if cross else None)
    grads = torch.autograd.grad(got.square().sum(), [x, context, *attention.parameters()])
    want = separate_projection_attention(attention, x, context)
    want_grads = torch.autograd.grad(want.square().sum(), [x, context, *attention.parameters()])
    torch.testing.assert_close(got, want, atol=ATOL, rtol=RTOL)
    for g, w in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(g, w, atol=ATOL, rtol=RTOL)


def test_split_heads_gives_each_part_its_own_heads():
    torch.manual_seed(4)
    stacked = torch.nn.Linear(12, 36)
    x = torch.randn(2, 5, 12)
    for got, part in zip(split_heads(stacked(x), 3, 3), stacked(x).chunk(3, dim=-1), strict=True):
        torch.testing.assert_close(got, part.reshape(2, 5, 3, 4).transpose(1, 2))
