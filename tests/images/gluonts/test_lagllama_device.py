"""Lag-Llama scores and fine-tunes with nothing in float64 on its device: the job runs on the `meta`
device, which takes the same non-CPU paths as MPS, under tests/images/device_audit.py (a float64
tensor on the device, or a conjugated complex matrix product there, fails the test). The Student-t
quantiles, uniforms and hit counts are float64 on the CPU."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/images: the shared audit

from device_audit import DeviceAudit
from lagllama_helpers import make_spec

from jobs.common.dataset import load_dataset
from jobs.lagllama import job as lagllama_job


@pytest.mark.parametrize(("horizon", "mode"), [(1, "zero-shot"), (3, "zero-shot"), (3, "fine-tune")])
def test_lagllama_runs_without_float64_on_the_device(horizon, mode, small_data, random_weights, monkeypatch):
    data_dir, manifest = small_data
    tuning = (
        {"max_epochs": 1, "batches_per_epoch": 1, "batch_size": 4, "max_val_windows": 4} if mode == "fine-tune" else {}
    )
    spec = make_spec(manifest, horizon, mode=mode, num_samples=8, **tuning)
    monkeypatch.setattr(lagllama_job, "torch_device", lambda requested: torch.device("meta"))
    with DeviceAudit() as audit:
        output = lagllama_job.run(spec, load_dataset(data_dir, spec), random_weights)
    assert output.device == "meta" and {"aten.mm", "aten.addmm", "aten.bmm"} & audit.ops
