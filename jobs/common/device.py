"""The one device policy of every job: which device 'auto' means, and the refusal of one that is absent.

Order for 'auto': cuda > mps > cpu, the first the job's stack can use here. An explicit request
(`spec.device`) that cannot be met fails the job before any work, with the reason in one line:
a job never quietly runs elsewhere than asked. Each job reports the device it ran on in its result
(`ModelOutput.device`).

No job computes in float64 on an accelerator: MPS has no float64 (it is an error there), and on
CUDA it is slow. Jobs move tensors to the CPU first and widen them there;
tests/jobs/test_device_dispatch.py checks it for every torch job without a device.

The stacks are imported lazily, so every environment can import this module (the sklearn image
has neither torch nor JAX).
"""

from collections.abc import Mapping

from jobs.common.errors import JobError

PREFERENCE = ("cuda", "mps", "cpu")
REQUESTS = ("auto", *PREFERENCE)


def pick_device(requested: str, unavailable: Mapping[str, str]) -> str:
    """The device to run on: `requested`, or for 'auto' the first of PREFERENCE not in
    `unavailable` (device -> why it cannot be used here). The CPU is always usable."""
    if requested not in REQUESTS:
        raise JobError(f"unknown device {requested!r}: one of {', '.join(REQUESTS)}")
    if "cpu" in unavailable:
        raise ValueError("the CPU is always available")
    if requested == "auto":
        return next(name for name in PREFERENCE if name not in unavailable)
    if requested in unavailable:
        raise JobError(f"device {requested!r} was requested but cannot be used here: {unavailable[requested]}")
    return requested


def torch_unavailable() -> dict[str, str]:
    """Devices torch cannot use in this process, and why."""
    import torch

    unavailable = {}
    if not torch.cuda.is_available():
        unavailable["cuda"] = "torch sees no CUDA device"
    if not torch.backends.mps.is_available():
        unavailable["mps"] = "torch has no MPS device here (Apple silicon, native executor only)"
    return unavailable


def torch_device(requested: str):
    """`pick_device` for a torch job, as a torch.device."""
    import torch

    return torch.device(pick_device(requested, torch_unavailable()))


def jax_device(requested: str) -> str:
    """`pick_device` for a JAX job. JAX reads JAX_PLATFORMS once, at import: 'cpu' pins the CPU
    backend before that; otherwise JAX takes CUDA when its CUDA plugin is installed."""
    import os

    if requested == "mps":  # refused before JAX starts: no Metal backend is pinned in any env
        raise JobError(
            "device 'mps' was requested but cannot be used here: JAX has no Metal backend in this environment"
        )
    if requested == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    import jax

    unavailable = {"mps": "JAX has no Metal backend in this environment"}
    if jax.default_backend() != "gpu":
        unavailable["cuda"] = f"JAX sees only {jax.default_backend()!r} (install the CUDA jaxlib plugin)"
    return pick_device(requested, unavailable)
