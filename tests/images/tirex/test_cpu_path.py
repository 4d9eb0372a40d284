"""The CPU path of tirex-2, and why the env keeps triton (images/tirex/requirements.txt says so).

On device "cpu" tirex2 builds its recurrent layers on the pure-torch kernels (mlstm_kernels' native
chunkwise kernel, FlashRNN's "vanilla" backend): nothing is compiled, no GPU is touched. Yet
building the model needs triton installed: the first mLSTM layer makes mlstm_kernels import its
kernel registry, Triton kernel modules included, whatever the device.
"""

import os
import subprocess
import sys

import numpy as np
import torch
from conftest import REPO
from tirex2.model.component.flashrnn_slstm import _FlashRNNLayer

from jobs.tirex.weights import ResolvedWeights, load
from shared_schema import WeightsSource

BLOCK_TRITON = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] == 'triton':
            raise ImportError('triton is not installed (simulated)')
sys.meta_path.insert(0, Refuse())
import tirex2
from jobs.tirex.weights import tiny_config
print('imported')
tirex2.TiRex2(**tiny_config(), device='cpu')
"""


def test_building_a_cpu_model_needs_triton():
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TRITON],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.stdout.strip() == "imported"  # the package itself imports without triton
    assert done.returncode != 0
    assert "triton is not installed (simulated)" in done.stderr
    assert "mlstm_kernels" in done.stderr  # the importer that needs it


def test_cpu_model_uses_the_pure_torch_kernels_and_forecasts(tirex2_weights):
    from tirex2 import TimeseriesType

    resolved = ResolvedWeights(tirex2_weights / "tirex2", WeightsSource(kind="random-init"))
    model = load(resolved, "cpu")
    backends = {type(m).__name__: m for m in model.model.modules()}
    mlstm = backends["mLSTMBackend"].config
    assert mlstm.chunkwise_kernel == "chunkwise--native_autograd" and mlstm.step_kernel == "native"
    slstm = [m for m in model.model.modules() if isinstance(m, _FlashRNNLayer)]
    assert slstm and all(layer.config.backend == "vanilla" for layer in slstm)
    series = [
        TimeseriesType(
            target=torch.randn(1, 80).cumsum(-1), past_covariates=torch.randn(24, 80), future_covariates=None
        )
    ]
    forecast = model.forecast(series, prediction_length=3, output_type="numpy")[0]
    assert forecast.shape == (1, 9, 3) and np.isfinite(forecast).all()


NO_COMPILER = """
import sys, torch, torch._inductor.config as inductor
inductor.cpp.cxx = ("/nonexistent/g++",)  # as in the image: no C++ compiler
from pathlib import Path
from tirex2 import TimeseriesType
from jobs.tirex.weights import ResolvedWeights, load
from shared_schema import WeightsSource
model = load(ResolvedWeights(Path(sys.argv[1]), WeightsSource(kind="random-init")), "cpu")
series = [TimeseriesType(target=torch.randn(1, 80), past_covariates=torch.randn(24, 80), future_covariates=None)]
print(model.forecast(series, prediction_length=1, output_type="numpy")[0].shape)
"""


def test_the_job_runs_the_compiled_blocks_eagerly_without_a_compiler(tirex2_weights):
    """tirex2's ResidualBlock is wrapped in torch.compile; the images have no C++ compiler for Inductor."""
    done = subprocess.run(
        [sys.executable, "-c", NO_COMPILER, str(tirex2_weights / "tirex2")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "(1, 9, 1)"
