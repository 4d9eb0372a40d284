"""The torch image: CPU torch at the pinned version works, and a torch job runs end to end."""

import importlib.metadata
import socket
from pathlib import Path

import pytest
from conftest import validate_outputs

REQUIREMENTS = Path("/app/images/torch/requirements.txt")


def test_stack_imports_at_pinned_versions():
    import numpy  # noqa: F401
    import torch

    pins = dict(line.split("==") for line in REQUIREMENTS.read_text().splitlines() if "==" in line)
    for name in ("numpy", "pandas", "pyarrow", "pydantic", "safetensors"):
        assert importlib.metadata.version(name) == pins[name], name
    assert torch.__version__.split("+")[0] == pins["torch"]


def test_cpu_build_without_nvidia_libraries():
    import torch

    assert torch.__version__.endswith("+cpu") or not torch.version.cuda, torch.__version__
    assert not [d for d in importlib.metadata.distributions() if d.metadata["Name"].lower().startswith("nvidia-")]


def test_tensor_ops_and_autograd():
    import torch

    torch.manual_seed(0)
    x = torch.randn(64, 25, requires_grad=True)
    layer = torch.nn.Linear(25, 1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(layer(x).squeeze(-1), torch.ones(64))
    loss.backward()
    assert torch.isfinite(loss) and x.grad is not None and layer.weight.grad.shape == (1, 25)


def test_no_network():
    with pytest.raises(OSError):
        socket.create_connection(("1.1.1.1", 53), timeout=2)


def _registered(model: str) -> bool:
    from jobs.registry import ENTRYPOINTS

    return ENTRYPOINTS.get(model, ("", ""))[0] == "torch"


@pytest.mark.parametrize("model", ["patchtst", "dlinear"])
def test_torch_job_end_to_end(model, make_spec, run_job):
    if not _registered(model):
        pytest.fail(f"model {model!r} is not registered for env 'torch' in jobs/catalog.py")
    spec = make_spec(
        model, "torch", horizon=1, size=20_000, epochs=1, batch_size=128, max_train_windows=300, lr=1e-3, patience=1
    )
    done, out = run_job(spec)
    assert done.returncode == 0, done.stderr[-2000:]
    result = validate_outputs(out, spec)
    assert result.environment.packages.get("torch", "absent") != "absent"
    assert result.n_parameters > 0


def test_timer_job_loads_a_published_layout_checkpoint(make_spec, dataset, tmp_path):
    """Timer in its image: a random-init checkpoint in the published safetensors layout, loaded
    strictly, one quick zero-shot job; the result says random-init and carries point scores."""
    import subprocess
    import sys

    from jobs.timer.model import TimerConfig
    from jobs.timer.weights import write_random_init

    write_random_init(
        tmp_path / "weights",
        TimerConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
    )
    spec = make_spec("timer", "torch", horizon=3, mode="zero-shot", max_train_windows=200)
    out = tmp_path / "out"
    out.mkdir()
    (out / "spec.json").write_text(spec.model_dump_json())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs",
            "run",
            "--spec",
            str(out / "spec.json"),
            "--data",
            str(dataset[0]),
            "--out",
            str(out),
            "--weights",
            str(tmp_path / "weights"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = validate_outputs(out, spec)
    assert result.weights.kind == "random-init" and "point_score_auc_test" in result.notes
