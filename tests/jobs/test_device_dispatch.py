"""No float64 on a device, and no conjugated complex matrix product there: every torch-env model's
training and prediction, and Timer's scoring in each mode, run on the `meta` device under
tests/images/device_audit.py (what MPS cannot do fails the test; the gluonts image suite does the
same for Lag-Llama). Also: the one device policy (jobs/common/device.py) and FEDformer's mode
mixing in real arithmetic against the complex product it replaces."""

import pytest
import torch

from jobs.common import device as device_policy
from jobs.common.dataset import load_dataset
from jobs.common.errors import JobError
from jobs.timer import job as timer_job
from jobs.timer.model import TimerConfig
from jobs.timer.weights import write_random_init
from jobs.torch_models import job as torch_job
from jobs.torch_models.fedformer import FourierBlock
from jobs.torch_models.zoo import ARCHITECTURES
from tests.images.device_audit import DeviceAudit, DeviceAuditError
from tests.support.helpers import make_spec

META = torch.device("meta")
SMALL_TIMER = TimerConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# -- the device policy ---------------------------------------------------------------------------
def test_auto_takes_cuda_then_mps_then_cpu():
    assert device_policy.pick_device("auto", {}) == "cuda"
    assert device_policy.pick_device("auto", {"cuda": "none"}) == "mps"
    assert device_policy.pick_device("auto", {"cuda": "none", "mps": "none"}) == "cpu"
    assert device_policy.pick_device("mps", {"cuda": "none"}) == "mps"


def test_an_absent_device_that_was_asked_for_is_refused_with_the_reason():
    with pytest.raises(JobError, match=r"^device 'mps' was requested but cannot be used here: no Metal$"):
        device_policy.pick_device("mps", {"mps": "no Metal"})
    with pytest.raises(JobError, match="unknown device 'tpu'"):
        device_policy.pick_device("tpu", {})


def test_torch_jobs_follow_the_policy_on_this_machine():
    unavailable = device_policy.torch_unavailable()
    expected = next(d for d in ("cuda", "mps", "cpu") if d not in unavailable)
    assert device_policy.torch_device("auto").type == expected
    assert device_policy.torch_device("cpu") == torch.device("cpu")
    for absent in unavailable:
        with pytest.raises(JobError, match=f"device '{absent}' was requested but cannot be used here"):
            device_policy.torch_device(absent)


# -- the audit itself ----------------------------------------------------------------------------
def test_the_audit_fails_on_float64_on_the_device_and_on_a_conjugated_complex_product():
    x = torch.ones(4, device=META)
    with pytest.raises(DeviceAuditError, match="float64"), DeviceAudit():
        x.double()
    with DeviceAudit():  # widened on the CPU: fine, and a meta -> CPU read gives ones
        assert torch.equal(x.cpu().double(), torch.ones(4, dtype=torch.float64))
    weights = torch.ones(8, 16, 16, 4, 2, device=META, requires_grad=True)
    spectrum = torch.ones(2, 4, 8, 16, dtype=torch.complex64, device=META)
    with pytest.raises(DeviceAuditError, match="conjugated complex operand"), DeviceAudit():
        mixed = torch.einsum("bmhi,hiom->bmho", spectrum, torch.view_as_complex(weights))  # the complex form
        torch.view_as_real(mixed).sum().backward()


# -- FEDformer's mode mixing ---------------------------------------------------------------------
def test_fedformer_mode_mixing_in_real_arithmetic_equals_the_complex_product():
    torch.manual_seed(0)
    block = FourierBlock(d_model=64, n_heads=4, modes=8)
    with torch.no_grad():
        block.mode_weights.normal_()
    spectrum = torch.randn(5, 8, 4, 16, dtype=torch.complex64, requires_grad=True)
    reference = torch.einsum("bmhi,hiom->bmho", spectrum, torch.view_as_complex(block.mode_weights))
    mixed = block.mix_modes(spectrum)
    assert mixed.dtype == torch.complex64 and mixed.shape == reference.shape
    torch.testing.assert_close(mixed, reference, rtol=1e-5, atol=1e-5)
    # and the gradients the optimiser sees, for the weights and the spectrum
    probe = torch.randn(reference.shape, dtype=torch.complex64)
    grads = [
        torch.autograd.grad((out * probe).real.sum(), (block.mode_weights, spectrum)) for out in (mixed, reference)
    ]
    for ours, theirs in zip(*grads, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_fedformer_backward_has_no_complex_matrix_product_on_the_device():
    block = FourierBlock(d_model=32, n_heads=4, modes=4).to(META)
    with DeviceAudit() as audit:
        block(torch.ones(2, 16, 32, device=META)).sum().backward()
    assert "aten.bmm" in audit.ops and "aten._fft_r2c" in audit.ops


# -- whole jobs on an MPS-like device ------------------------------------------------------------
def run_on_meta(monkeypatch, module, run):
    """`run()` with `module`'s device choice answered by the meta device, under the audit."""
    monkeypatch.setattr(module, "torch_device", lambda requested: META)
    with DeviceAudit() as audit:
        output = run()
    assert output.device == "meta"
    return audit


@pytest.mark.parametrize("model", sorted(ARCHITECTURES))
def test_torch_model_trains_and_predicts_without_float64_on_the_device(model, bundled_data, monkeypatch):
    data_dir, manifest = bundled_data
    spec = make_spec(manifest, model, "torch", size=50_000, epochs=1, max_train_windows=128, batch_size=64)
    audit = run_on_meta(monkeypatch, torch_job, lambda: torch_job.fit_predict(spec, load_dataset(data_dir, spec), None))
    # the training step ran there: backward and the (non-fused) AdamW update
    assert {"aten.addmm", "aten.mm"} & audit.ops and any("backward" in op for op in audit.ops)
    assert {"aten.lerp_", "aten.addcdiv_"} <= audit.ops


@pytest.mark.parametrize(("mode", "horizon"), [("fine-tune", 3), ("zero-shot", 1), ("linear-probe", 1)])
def test_timer_scores_without_float64_on_the_device(mode, horizon, bundled_data, tmp_path, monkeypatch):
    data_dir, manifest = bundled_data
    write_random_init(tmp_path, SMALL_TIMER, seed=1)
    steps = {"max_steps": 2, "eval_every": 1, "max_val_segments": 8} if mode == "fine-tune" else {}
    spec = make_spec(manifest, "timer", "torch", horizon, mode=mode, max_train_windows=128, **steps)
    audit = run_on_meta(monkeypatch, timer_job, lambda: timer_job.run(spec, load_dataset(data_dir, spec), tmp_path))
    assert "aten.mm" in audit.ops or "aten.addmm" in audit.ops
