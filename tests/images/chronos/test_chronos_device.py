"""Chronos-2 scores with nothing in float64 on its device: the job runs on the `meta` device, which
takes the same non-CPU paths as MPS, under tests/images/device_audit.py (a float64 tensor on the
device, or a conjugated complex matrix product there, fails the test). Quantiles and embeddings are
widened to float64 only after they are read back to the CPU.

Meta holds no values: the one yes/no question the model asks of its data (are there NaN future
covariates left unmasked? its input check) is answered no (`NoNaNAnswers`). transformers' hand-over
of the model to the `kernels` package (which refuses meta by name) is skipped: Chronos-2 has no layer
the hub swaps."""

import sys
from pathlib import Path

import pytest
import torch
import transformers.modeling_utils
from conftest import SMALL, make_spec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/images: the shared audit

from device_audit import DeviceAudit

from jobs.chronos2 import job as chronos_job
from jobs.common import torch_setup
from jobs.common.dataset import load_dataset
from jobs.common.errors import JobError

META = torch.device("meta")


class NoNaNAnswers(DeviceAudit):
    """The audit, with a yes/no read from meta answered no (the base audit answers yes)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if (
            func is torch.ops.aten._local_scalar_dense.default
            and args[0].device == META
            and args[0].dtype == torch.bool
        ):
            return False
        return super().__torch_dispatch__(func, types, args, kwargs)


@pytest.mark.parametrize(
    ("hyper", "horizon"),
    [({"mode": "zero-shot"}, 1), ({"mode": "linear-probe"}, 1), ({"mode": "linear-probe", "inputs": "high"}, 3)],
)
def test_chronos2_runs_without_float64_on_the_device(hyper, horizon, bundled, tiny_weights, monkeypatch):
    data_dir, manifest = bundled
    # float32: torch.autocast (the quick profile's bfloat16 scoring) has no meta device; the job says so up front
    spec = make_spec(manifest, horizon=horizon, **{**SMALL, **hyper, "precision": "float32"})
    monkeypatch.setattr(torch_setup, "torch_device", lambda requested: META)
    monkeypatch.setattr(transformers.modeling_utils, "kernelize", lambda model, **_: model)
    with NoNaNAnswers() as audit:
        output = chronos_job.run(spec, load_dataset(data_dir, spec), tiny_weights)
    assert output.device == "meta" and {"aten.mm", "aten.addmm", "aten.bmm"} & audit.ops


def test_bfloat16_scoring_is_refused_where_torch_has_no_autocast(bundled, tiny_weights, monkeypatch):
    data_dir, manifest = bundled
    spec = make_spec(manifest, horizon=1, **{**SMALL, "mode": "zero-shot", "precision": "bfloat16"})
    monkeypatch.setattr(torch_setup, "torch_device", lambda requested: META)
    with pytest.raises(JobError, match="precision bfloat16 needs torch.autocast on meta"):
        chronos_job.run(spec, load_dataset(data_dir, spec), tiny_weights)
