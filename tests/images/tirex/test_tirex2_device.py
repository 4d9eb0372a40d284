"""TiRex-2's forward pass, as the job calls it, puts nothing in float64 on its device: the model runs
on the `meta` device, which takes the same non-CPU paths as MPS, under tests/images/device_audit.py (a
float64 tensor on the device, or a conjugated complex matrix product there, fails the test), and the
job widens its embeddings to float64 only after reading them back to the CPU.

What this covers and why not the whole job: meta holds no values, and the package decides things from
values. Its forecast post-processing reads the group ids back from the device to slice the output, so
`forecast` cannot run on meta; the job's embedding call (the linear-probe mode) runs the same input
preparation and the whole block stack without it. The variate attention keeps the rows whose group has
several members (torch.unique over group ids): answered as if every group had two (`GroupedUnique`), so
every block runs on every row. `tirex2.load_model` accepts only cpu, cuda and mps: the checkpoint is
loaded as for the CPU (on MPS the package runs the same pure-torch kernels) and then moved to meta; the
package sends its inputs to the device of the model's parameters."""

import sys
from pathlib import Path

import pytest
import torch
import torch.fx.experimental._config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/images: the shared audit

from conftest import make_spec
from device_audit import DeviceAudit

from jobs.common.covariates import covariate_windows
from jobs.common.dataset import load_dataset
from jobs.tirex import tirex2_job
from jobs.tirex.weights import resolve_weights

META = torch.device("meta")
aten = torch.ops.aten


class GroupedUnique(DeviceAudit):
    """The audit, with `torch.unique(..., return_inverse=True, return_counts=True)` on meta answered
    as n distinct values each counted twice: shapes the package's group slicing accepts."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is aten._unique2.default and args[0].device == META:
            values = args[0].reshape(-1)
            inverse = torch.empty(args[0].shape, dtype=torch.long, device=META)
            return values, inverse, torch.full_like(values, 2, dtype=torch.long)
        return super().__torch_dispatch__(func, types, args, kwargs)


@pytest.mark.parametrize(
    ("covariates", "mlstm_kernel"), [(True, "chunkwise"), (False, "chunkwise"), (True, "parallel")]
)
def test_tirex2_forward_has_no_float64_on_the_device(covariates, mlstm_kernel, bundled, tirex2_weights):
    data_dir, manifest = bundled
    spec = make_spec(
        manifest,
        model="tirex2",
        model_id="FD-29",
        mode="linear-probe",
        covariates=covariates,
        mlstm_kernel=mlstm_kernel,
    )
    settings = tirex2_job.Settings.from_spec(spec)
    windows = covariate_windows(load_dataset(data_dir, spec), 1, 80, spec.threshold)
    model = tirex2_job.load(resolve_weights(tirex2_weights), "cpu")
    if settings.mlstm_kernel == "parallel":
        tirex2_job.use_parallel_mlstm(model)
    model.model.to(META)
    forecaster = tirex2_job.Forecaster(model, settings, horizon=1)
    boolean_masks_keep_all = torch.fx.experimental._config.patch(meta_nonzero_assume_all_nonzero=True)
    with boolean_masks_keep_all, GroupedUnique() as audit:
        embeddings = forecaster.embeddings(windows.val.recent(8))
    assert embeddings.dtype == "float64"  # widened on the CPU, after the read (its row count is meta's guess)
    assert {"aten.mm", "aten.addmm", "aten.bmm"} & audit.ops
