"""Architecture-level checks for every torch model: shapes, gradients, sizes, learning, seeding,
config validation, and the causal control's blindness to the future. Tests named with
`cpu_kernels` run with jobs/torch_models/kernels.py's switch both ways, dropout on."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from jobs.catalog import BY_NAME
from jobs.torch_models import kernels
from jobs.torch_models.armattn import ARMAttention, ARMAttentionConfig
from jobs.torch_models.autoformer import AutoformerConfig
from jobs.torch_models.crossformer import CrossformerConfig
from jobs.torch_models.dlinear import DLinearConfig
from jobs.torch_models.etsformer import ETSformerConfig
from jobs.torch_models.fedformer import FEDformerConfig
from jobs.torch_models.informer import InformerConfig
from jobs.torch_models.itransformer import ITransformerConfig
from jobs.torch_models.patchtst import PatchTST, PatchTSTConfig
from jobs.torch_models.sizing import sized_config
from jobs.torch_models.timemixer import TimeMixerConfig
from jobs.torch_models.zoo import ARCHITECTURES

# patchtst-200m is PatchTST's own config and class under its larger default size: tested as patchtst.
MODEL_NAMES = sorted(set(ARCHITECTURES) - {"patchtst-200m"})
SMALL = 60_000
CONTEXT, FEATURES = 80, 25


@pytest.fixture(autouse=True, scope="module")
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the CI box has 2 shared cores; spinning OpenMP threads slow everyone
    yield
    torch.set_num_threads(previous)


@pytest.fixture(params=kernels.CHOICES)
def cpu_kernels(request):
    with kernels.using(request.param):
        yield request.param


def small_model(name: str, seed: int = 0, dropout: float = 0.0):
    architecture = ARCHITECTURES[name]
    torch.manual_seed(seed)
    return architecture.model(sized_config(architecture, SMALL, dropout=dropout))


def inputs(n: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, CONTEXT, FEATURES, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_one_finite_logit_per_sample(name):
    logits = small_model(name).eval()(inputs(5))
    assert logits.shape == (5,)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradients_reach_every_parameter(name, cpu_kernels):
    model = small_model(name, dropout=0.1).train()
    targets = torch.tensor([0.0, 1.0, 1.0, 0.0])
    F.binary_cross_entropy_with_logits(model(inputs(4)), targets).backward()
    starved = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert starved == []


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_head_pools_instead_of_flattening(name):
    """The head is a norm plus one d_model -> 1 projection, whatever the context or token count."""
    model = small_model(name)
    width = model.config.d_model
    assert sum(p.numel() for p in model.head.parameters()) == 3 * width + 1


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("target", [SMALL, 2_000_000])
def test_built_model_is_within_ten_percent_of_its_size(name, target):
    architecture = ARCHITECTURES[name]
    config = sized_config(architecture, target)
    built = sum(p.numel() for p in architecture.model(config).parameters())
    assert abs(built - target) <= 0.10 * target
    assert architecture.count_parameters(config) == built  # the meta-device count is exact


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_200m_config_is_counted_without_allocating(name):
    """The count is taken on modules whose every parameter lives on the meta device (no memory);
    being within 10% of the target is sized_config's own guard, so it is not asserted again here."""
    architecture = ARCHITECTURES[name]
    config = sized_config(architecture, 200_000_000)
    built = []

    def recording(config):
        built.append(architecture.model(config))
        return built[-1]

    count = dataclasses.replace(architecture, model=recording).count_parameters(config)
    assert len(built) == 1 and all(p.is_meta for p in built[0].parameters())
    assert count == sum(p.numel() for p in built[0].parameters()) > 100_000_000
    assert config.d_model > sized_config(architecture, 2_000_000).d_model


def test_patchtst_200m_is_patchtst_at_200m_parameters():
    architecture = ARCHITECTURES["patchtst-200m"]
    assert (architecture.config, architecture.model, dict(architecture.fixed)) == (PatchTSTConfig, PatchTST, {})
    assert BY_NAME["patchtst-200m"].defaults("full")["size"] == 200_000_000


def test_unreachable_size_is_refused():
    with pytest.raises(ValueError, match="cannot be sized to 1,000 parameters"):
        sized_config(ARCHITECTURES["timemixer"], 1_000)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_overfits_a_tiny_batch(name):
    torch.manual_seed(0)
    x, y = inputs(16, seed=2), (torch.rand(16, generator=torch.Generator().manual_seed(3)) > 0.5).float()
    model = small_model(name)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return F.binary_cross_entropy_with_logits(model(x), y).item()

    before = eval_loss()
    for _ in range(60):
        model.train()
        optimiser.zero_grad()
        F.binary_cross_entropy_with_logits(model(x), y).backward()
        optimiser.step()
    assert eval_loss() < 0.1 * before


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_same_seed_same_output_other_seed_other_output(name):
    x = inputs(3)
    with torch.no_grad():
        first = small_model(name, seed=7).eval()(x)
        again = small_model(name, seed=7).eval()(x)
        other = small_model(name, seed=8).eval()(x)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


INVALID_CONFIGS = [
    (PatchTSTConfig, {"patch_len": 96}, r"patch_len \(96\) must be between 1 and context_length \(80\)"),
    (PatchTSTConfig, {"stride": 20}, r"stride \(20\) must be between 1 and patch_len \(16\)"),
    (PatchTSTConfig, {"causal": True, "pool": "mean"}, "causal PatchTST must read out its last token"),
    (PatchTSTConfig, {"d_model": 100, "n_heads": 8}, r"d_model \(100\) must be divisible by n_heads \(8\)"),
    (ITransformerConfig, {"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    (TimeMixerConfig, {"down_sampling_layers": 6}, "too short for 6 down-samplings"),
    (TimeMixerConfig, {"moving_avg": 24}, "moving_avg must be odd"),
    (InformerConfig, {"context_length": 8, "n_layers": 5}, "cannot be halved by 4 distilling layers"),
    (InformerConfig, {"factor": 0}, "factor must be >= 1"),
    (AutoformerConfig, {"factor": 0.1}, "selects no lag"),
    (FEDformerConfig, {"modes": 41 + 1}, r"modes \(42\) must be between 1 and the 41 frequencies"),
    (ETSformerConfig, {"top_k": 40}, r"top_k \(40\) must be between 1 and the 39 non-constant frequencies"),
    (CrossformerConfig, {"seg_len": 81}, r"seg_len \(81\) must be between 1 and context_length \(80\)"),
    (CrossformerConfig, {"win_size": 1}, "win_size must be >= 2"),
    (DLinearConfig, {"context_length": 1}, "context_length must be >= 2"),
    (AutoformerConfig, {"pool": "max"}, "pool must be 'mean' or 'last'"),
    (ARMAttentionConfig, {"pool": "mean"}, "pool must be 'last'"),
]


@pytest.mark.parametrize(("config_class", "settings", "message"), INVALID_CONFIGS)
def test_invalid_config_is_rejected_with_its_reason(config_class, settings, message):
    with pytest.raises(ValueError, match=message):
        config_class(**settings)
    assert config_class()  # the defaults themselves are valid


def patch_tokens(causal: bool, x: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(0)
    model = PatchTST(
        PatchTSTConfig(
            d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.0, causal=causal, pool="last" if causal else "mean"
        )
    ).eval()
    with torch.no_grad():
        return model.encode(x)


@pytest.mark.parametrize("causal", [True, False])
def test_only_the_causal_patchtst_is_blind_to_the_future(causal, cpu_kernels):
    """Changing steps >= 60 must leave every token whose patch ended before 60 unchanged, for the
    causal model only; the bidirectional one shows that the check can fail."""
    x = inputs(2)
    later_changed = x.clone()
    later_changed[:, 60:] += 5.0
    before, after = patch_tokens(causal, x), patch_tokens(causal, later_changed)
    config = PatchTSTConfig()
    ended_before = [i for i in range(config.n_patches) if i * config.stride + config.patch_len <= 60]
    assert ended_before == [0, 1, 2, 3, 4, 5]
    earlier_equal = torch.allclose(before[:, :, ended_before], after[:, :, ended_before], atol=1e-6)
    assert earlier_equal is causal
    assert not torch.allclose(before[:, :, -1], after[:, :, -1])  # the newest token does see the change


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_runs_under_bf16_autocast(name, cpu_kernels):
    """CPU stand-in for the trainer's CUDA bf16 autocast: FFTs and mixed dtypes must be handled."""
    model = small_model(name, dropout=0.1).train()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logits = model(inputs(4))
    logits.float().sum().backward()
    assert torch.isfinite(logits.float()).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_arma_attention_output_at_t_never_sees_step_t_plus_one(cpu_kernels):
    """Changing day t+1 (and later) leaves every token at or before t unchanged; the change does
    reach t+1, and the MA term (the residual e_t uses v_{t+1}) is what could have leaked it."""
    torch.manual_seed(0)
    model = ARMAttention(ARMAttentionConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.0)).eval()
    x = inputs(2)
    for t in (0, 40, 78):
        changed = x.clone()
        changed[:, t + 1 :] += 5.0
        with torch.no_grad():
            before, after = model.encode(x), model.encode(changed)
        assert torch.allclose(before[:, : t + 1], after[:, : t + 1], atol=1e-6)
        assert not torch.allclose(before[:, t + 1], after[:, t + 1])


def test_arma_attention_moving_average_term_contributes():
    """With the MA query/key zeroed, theta = tanh(0) = 0 and only the AR term is left: the output moves."""
    torch.manual_seed(0)
    model = ARMAttention(ARMAttentionConfig(d_model=32, n_heads=4, n_layers=1, d_ff=64, dropout=0.0)).eval()
    x = inputs(2)
    with torch.no_grad():
        full = model.encode(x)
        mixer = model.blocks[0].mixer
        mixer.ma_qk.weight.zero_()
        mixer.ma_qk.bias.zero_()
        ar_only = model.encode(x)
    assert torch.allclose(full[:, 0], ar_only[:, 0], atol=1e-6)  # no residual exists yet at the first step
    assert not torch.allclose(full[:, 1:], ar_only[:, 1:])
