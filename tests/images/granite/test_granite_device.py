"""PatchTST-FM and TTM score and fine-tune with nothing in float64 on their device: each job runs on
the `meta` device, which takes the same non-CPU paths as MPS, under tests/images/device_audit.py (a
float64 tensor on the device, or a conjugated complex matrix product there, fails the test). Forecasts
and embeddings are widened to float64 only after they are read back to the CPU.

transformers' `model.train()` hands the model to the `kernels` package for hub-kernel layer swaps, which
refuses the meta device by name: here that hand-over is skipped. Neither model has a layer the hub
swaps (granite-tsfm declares no `kernel_layer_name`), so the layers audited are the ones that run."""

import sys
from pathlib import Path

import pytest
import torch
import transformers.modeling_utils

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/images: the shared audit

from conftest import make_spec
from device_audit import DeviceAudit

from jobs.common import torch_setup
from jobs.common.dataset import load_dataset
from jobs.granite import patchtstfm_job, ttm_job

TINY_TUNING = {"max_steps": 2, "batch_size": 4, "eval_every": 1, "patience": 1, "max_train_windows": 32}
JOBS = {"patchtstfm": (patchtstfm_job, "patchtstfm_weights", "FD-31"), "ttm": (ttm_job, "ttm_weights", "FD-33")}


@pytest.mark.parametrize("model", sorted(JOBS))
@pytest.mark.parametrize(("mode", "horizon"), [("fine-tune", 3), ("zero-shot", 1), ("linear-probe", 1)])
def test_granite_job_runs_without_float64_on_the_device(model, mode, horizon, bundled, request, monkeypatch):
    job, weights_fixture, model_id = JOBS[model]
    data_dir, manifest = bundled
    spec = make_spec(
        manifest, model=model, model_id=model_id, horizon=horizon, mode=mode, max_val_windows=8, **TINY_TUNING
    )
    monkeypatch.setattr(torch_setup, "torch_device", lambda requested: torch.device("meta"))
    monkeypatch.setattr(transformers.modeling_utils, "kernelize", lambda model, **_: model)
    with DeviceAudit() as audit:
        output = job.run(spec, load_dataset(data_dir, spec), request.getfixturevalue(weights_fixture))
    assert output.device == "meta" and {"aten.mm", "aten.addmm", "aten.bmm"} & audit.ops
    if mode == "fine-tune":  # the training step ran there: backward and the optimiser's update
        assert any("backward" in op for op in audit.ops) and {"aten.lerp_", "aten.addcdiv_"} & audit.ops
